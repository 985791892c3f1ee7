package budget

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// Calendar boundaries, checked against hand-computed expectations: events
// one minute before and at the local midnight that starts a period, in
// time zones with 30- and 45-minute offsets and across DST changes,
// evaluated while the boundary is in the minute ring and again long after
// it left it (so that the period is summed from day buckets). The
// reference model is checked on the same feeds.

const day = 24 * 60 * minute

// calFeed feeds one route (web, host a, target i1) to an engine and the
// reference with a clock that follows the data.
type calFeed struct {
	t   *testing.T
	e   *Engine
	ref *refModel
	now int64
}

func newCalFeed(t *testing.T, obj Objective) *calFeed {
	f := &calFeed{t: t}
	resolve := func(*Source, []Label) Objective { return obj }
	f.e = NewEngine(EngineConfig{Sources: []Source{webSource()}, Resolve: resolve, LongestWindow: refLongest11,
		Now: func() time.Time { return time.UnixMilli(f.now) }})
	f.ref = newRefModel([]Source{webSource()}, resolve, defaultMinuteHorizon, defaultMaxFuture, refLongest11)
	return f
}

func (f *calFeed) put(code string, ts int64, v float64) {
	f.now = max(f.now, ts)
	l := req("a", code, "i1")
	f.e.Ingest(Tenant{}, l, []Sample{{Value: v, Timestamp: ts}})
	f.ref.ingest(Tenant{}, l, []Sample{{Value: v, Timestamp: ts}}, f.now)
}

// status returns the engine's status of the route at at, after checking
// it against the reference's.
func (f *calFeed) status(name string, at int64) RouteStatus {
	f.t.Helper()
	got := f.e.Evaluate(Tenant{}, at)
	want := f.ref.evaluate(Tenant{}, at)
	if len(got) != 1 || len(want) != 1 {
		f.t.Fatalf("%s: %d routes, reference %d", name, len(got), len(want))
	}
	if d := compareStatus(got[0], want["web|a"]); len(d) > 0 {
		f.t.Errorf("%s, at %s: engine and reference differ:\n%s", name, time.UnixMilli(at).UTC().Format(time.RFC3339), strings.Join(d, "\n"))
	}
	return got[0]
}

// The periods: a zone, a period and the local date it starts on.
var calPeriods = []struct {
	zone, period string
	y            int
	m            time.Month
}{
	{"Asia/Kolkata", slo.PeriodMonth, 2026, 12},         // +5:30
	{"Asia/Kolkata", slo.PeriodYear, 2027, 1},           // +5:30
	{"Asia/Kathmandu", slo.PeriodQuarter, 2026, 10},     // +5:45
	{"Asia/Kathmandu", slo.PeriodMonth, 2026, 11},       // +5:45
	{"Australia/Adelaide", slo.PeriodQuarter, 2026, 10}, // +9:30; DST (+10:30) from 4 October
	{"Australia/Adelaide", slo.PeriodMonth, 2026, 11},   // +10:30
	{"Australia/Adelaide", slo.PeriodMonth, 2026, 4},    // +9:30 from 5 April 03:00
	{"Europe/Berlin", slo.PeriodMonth, 2026, 3},         // DST on 29 March
	{"Europe/Berlin", slo.PeriodMonth, 2026, 4},         // the first boundary after it (+2)
	{"Europe/Berlin", slo.PeriodMonth, 2026, 11},        // the first after DST ended on 25 October (+1)
	{"Europe/Berlin", slo.PeriodYear, 2027, 1},
	{"America/New_York", slo.PeriodMonth, 2026, 11},  // DST ends at 02:00 on 1 November
	{"America/New_York", slo.PeriodMonth, 2026, 4},   // -4, DST since 8 March
	{"America/New_York", slo.PeriodQuarter, 2027, 1}, // -5
}

// TestCalendarBoundaries: 7 good and 3 bad events in the minute before
// the period's local midnight B, 11 good and 5 bad in the minute at B:
// the period counts exactly the latter, in the ring and from day buckets.
func TestCalendarBoundaries(t *testing.T) {
	for _, p := range calPeriods {
		loc := refZone(t, p.zone)
		b := time.Date(p.y, p.m, 1, 0, 0, 0, 0, loc).UnixMilli()
		name := p.zone + " " + p.period + " " + time.UnixMilli(b).In(loc).Format("2006-01-02")
		f := newCalFeed(t, Objective{Name: "availability", SLO: 0.99, SLA: 0.98,
			Window: slo.Window{Kind: slo.Calendar, Period: p.period, Location: loc}})
		for _, ts := range []int64{b - 10*minute, b - 9*minute} { // the target is known
			f.put("200", ts, 0)
			f.put("500", ts, 0)
		}
		f.put("200", b-minute, 7)
		f.put("500", b-minute, 3)
		f.put("200", b, 18)
		f.put("500", b, 8)
		ps, pe := (slo.Window{Kind: slo.Calendar, Period: p.period, Location: loc}).Bounds(time.UnixMilli(b + day))
		if ps.UnixMilli() != b {
			t.Fatalf("%s: the period starts at %s", name, ps)
		}
		check := func(when string, at int64) {
			t.Helper()
			st := f.status(name+", "+when, at)
			cw := st.Windows[slo.WindowCompliance]
			if cw.Name != p.period || cw.Good != 11 || cw.Total != 16 {
				t.Errorf("%s, %s: compliance window %s good %d total %d, want %s 11 16", name, when, cw.Name, cw.Good, cw.Total, p.period)
			}
			if st.Good != 18 || st.Bad != 8 {
				t.Errorf("%s, %s: events good %d bad %d, want 18 8", name, when, st.Good, st.Bad)
			}
			// SLO budget: 5 bad of 16 against 1% allowed, over the whole
			// period's length (DST included).
			ratio := 1 - 5/(0.01*16)
			if b := st.SLO; math.Abs(b.RemainingRatio-ratio) > 1e-9 || math.Abs(b.RemainingSeconds-ratio*0.01*pe.Sub(ps).Seconds()) > 1e-6 {
				t.Errorf("%s, %s: slo budget %+v, want ratio %g over %s", name, when, b, ratio, pe.Sub(ps))
			}
		}
		check("in the ring", b+30*minute+5000)
		// Four days on, the watermark moves (no new events): both minutes
		// are folded into their local days.
		f.put("200", b+4*day, 18)
		check("from day buckets", b+4*day+5000)
	}
}

// TestCalendarSliceGrid: 1h slices in Asia/Kolkata and 30m slices in
// Asia/Kathmandu start at local midnight (18:30 and 18:15 UTC): a bad
// minute just before B makes the last slice of the previous period bad,
// one at B+L+1 the period's second slice; the period's slices are all
// good but that one.
func TestCalendarSliceGrid(t *testing.T) {
	for _, c := range []struct {
		zone string
		l    int64 // minutes
	}{{"Asia/Kolkata", 60}, {"Asia/Kathmandu", 30}, {"Australia/Adelaide", 30}, {"Asia/Kolkata", 20}} {
		loc := refZone(t, c.zone)
		b := time.Date(2026, 12, 1, 0, 0, 0, 0, loc).UnixMilli()
		name := c.zone + " " + (time.Duration(c.l) * time.Minute).String()
		f := newCalFeed(t, Objective{Name: "availability", SLO: 0.99, SLA: 0.98,
			Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: loc},
			Slices: slo.Slices{Length: time.Duration(c.l) * time.Minute, Target: 0.99}})
		for _, ts := range []int64{b - 10*minute, b - 9*minute} {
			f.put("200", ts, 0)
			f.put("500", ts, 0)
		}
		f.put("500", b-minute, 3)          // the slice [B-L, B): bad
		f.put("200", b, 10)                // [B, B+L): good
		f.put("500", b+(c.l+1)*minute, 8)  // [B+L, B+2L): bad
		f.put("200", b+(c.l+1)*minute, 10) // (no good events in that minute)
		perMonth := int64(31 * 24 * 60 / c.l)
		check := func(when string, at int64, want slo.SliceCounts) {
			t.Helper()
			st := f.status(name+", "+when, at)
			if st.WindowSlices != want {
				t.Errorf("%s, %s: window slices %+v, want %+v", name, when, st.WindowSlices, want)
			}
			cw := st.Windows[slo.WindowCompliance]
			if cw.Good != want.Good || cw.Total != want.Good+want.Bad {
				t.Errorf("%s, %s: compliance window %+v", name, when, cw)
			}
			// SLO: 1% of the month's slices allowed, one spent.
			allowed := 0.01 * float64(perMonth)
			if b := st.SLO; math.Abs(b.RemainingSeconds-(allowed-1)*float64(c.l*60)) > 1e-6 || math.Abs(b.RemainingRatio-(1-1/allowed)) > 1e-9 {
				t.Errorf("%s, %s: slo budget %+v, want %g slices allowed, 1 spent", name, when, b, allowed)
			}
		}
		check("in the ring", b+(2*c.l)*minute+5000, slo.SliceCounts{Good: 1, Bad: 1})
		f.put("200", b+4*day, 10)
		// [B, B+4d): 4 days of slices, all complete.
		check("from day buckets", b+4*day+5000, slo.SliceCounts{Good: uint64(4*24*60/c.l - 1), Bad: 1})
		// slo_slices_total counts from the route's first events on, at
		// B-1m: the slices from [B-L, B) to B+4d, two of them bad.
		total := 4*24*60/c.l + 1
		if st := f.status(name, b+4*day+5000); st.Slices != (slo.SliceCounts{Good: uint64(total - 2), Bad: 2}) {
			t.Errorf("%s: slices %+v, want %d good 2 bad", name, st.Slices, total-2)
		}
	}
}

// TestLongRollingDays: a rolling 200d window keeps UTC days beyond the
// minute ring and counts a day when it starts at or after the window's
// start: an event after the start in the day the start falls in is left
// out (the hour rule would count it), the next day's are in.
func TestLongRollingDays(t *testing.T) {
	d0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	f := newCalFeed(t, Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 200 * 24 * time.Hour}})
	for _, ts := range []int64{d0, d0 + minute} {
		f.put("200", ts, 0)
		f.put("500", ts, 0)
	}
	f.put("500", d0+100*minute, 2)          // before the window's start
	f.put("500", d0+700*minute, 5)          // after it, in its day
	f.put("500", d0+1440*minute, 12)        // the next day
	f.put("500", d0+2879*minute, 20)        // its last minute
	f.put("200", d0+2880*minute, 1000)      // the day after
	at := d0 + (600+200*1440)*minute + 5000 // the window starts at d0+600m
	f.put("200", at-minute, 1000)           // the watermark
	st := f.status("200d", at)
	if cw := st.Windows[slo.WindowCompliance]; cw.Name != "200d" || cw.Good != 1000 || cw.Total != 1015 {
		t.Errorf("200d window %+v, want good 1000 total 1015", cw)
	}
	if st.Good != 1000 || st.Bad != 20 {
		t.Errorf("events good %d bad %d, want 1000 20", st.Good, st.Bad)
	}
	// A minute later the window starts in the same day: nothing changes;
	// at d0+1440m+1 the next day leaves it too.
	f.put("200", at, 1000)
	if cw := f.status("200d +1m", at+minute).Windows[slo.WindowCompliance]; cw.Total != 1015 {
		t.Errorf("200d a minute later: %+v", cw)
	}
	f.put("200", at+(1440-600)*minute, 1000)
	if cw := f.status("200d next day", at+(1440-600+1)*minute).Windows[slo.WindowCompliance]; cw.Good != 1000 || cw.Total != 1000 {
		t.Errorf("200d the next day: %+v, want good 1000 total 1000", cw)
	}
}
