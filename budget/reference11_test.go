package budget

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// Random streams against the reference with the objectives of issue 11:
// time slices (empty slices good or left out, grids in time zones with
// 30- and 45-minute offsets), calendar weeks, months, quarters and years
// in several time zones (day buckets), a rolling 200d window (UTC day
// buckets), credits, and services over routes of several sources with
// maintenance on some of their routes.

var refCredits = []slo.Credit{{Below: 0.999, Percent: 10}, {Below: 0.99, Percent: 25}, {Below: 0.95, Percent: 50}}

func refZone(t testing.TB, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func refResolve11(t testing.TB) func(*time.Location) func(src *Source, route []Label) Objective {
	kolkata, kathmandu, newYork := refZone(t, "Asia/Kolkata"), refZone(t, "Asia/Kathmandu"), refZone(t, "America/New_York")
	return func(berlin *time.Location) func(src *Source, route []Label) Objective {
		return func(src *Source, route []Label) Objective {
			host := route[0].Value
			a, b := strings.HasPrefix(host, "a."), strings.HasPrefix(host, "b.")
			switch {
			case src.Name == "web" && a:
				return Objective{Name: "availability", SLO: 0.999, SLA: 0.995, Contract: []Label{{Name: "customer", Value: "acme"}},
					Window: slo.Window{Kind: slo.Rolling, Length: 200 * 24 * time.Hour}, Credits: refCredits}
			case src.Name == "web" && b:
				return Objective{Name: "availability", SLO: 0.99, SLA: 0.98, Contract: []Label{{Name: "customer", Value: "globex"}},
					Window:  slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: kolkata},
					Slices:  slo.Slices{Length: 5 * time.Minute, Target: 0.95},
					Credits: refCredits}
			case src.Name == "web":
				return Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour},
					Slices: slo.Slices{Length: 10 * time.Minute, Target: 0.9, SkipEmpty: true}}
			case src.Name == "web-by-path" && a:
				return Objective{Name: "availability", SLO: 0.995, SLA: 0.99, Credits: refCredits,
					Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodQuarter, Location: newYork}}
			case src.Name == "web-by-path":
				return Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodWeek, Location: kathmandu},
					Slices: slo.Slices{Length: 20 * time.Minute, Target: 0.99, SkipEmpty: true}}
			case src.Name == "web-latency" && a:
				return Objective{Name: "latency", SLO: 0.99, SLA: 0.9, Credits: refCredits,
					Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodYear, Location: berlin},
					Slices: slo.Slices{Length: 6 * time.Minute, Target: 0.8}}
			}
			return DefaultObjective(src)
		}
	}
}

func refMatchers(kv ...string) Matchers {
	var ms Matchers
	for i := 0; i < len(kv); i += 2 {
		ms = append(ms, LabelMatcher{Name: kv[i], Re: regexp.MustCompile(`^(?:` + kv[i+1] + `)$`)})
	}
	return ms
}

func refServices11(t testing.TB) []Service {
	berlin, kolkata := refZone(t, "Europe/Berlin"), refZone(t, "Asia/Kolkata")
	return []Service{
		{Name: "platform", Match: refMatchers("host", ".+", "source", "web|web-by-path"), By: []string{"host"},
			Objective: Objective{SLO: 0.999, SLA: 0.995, Credits: refCredits,
				Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodYear, Location: berlin},
				Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.99}}},
		{Name: "customers", Match: refMatchers("source", "web|web-by-path"), By: []string{"customer", "source"},
			Objective: Objective{Name: "availability", SLO: 0.99, SLA: 0.98, Credits: refCredits,
				Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: kolkata}}},
		{Name: "edge", Match: refMatchers("source", "web-latency"),
			Objective: Objective{Name: "latency", SLO: 0.95, Window: slo.Window{Kind: slo.Rolling, Length: 200 * 24 * time.Hour},
				Slices: slo.Slices{Length: 30 * time.Minute, Target: 0.8, SkipEmpty: true}}},
	}
}

const refLongest11 = 366*24*time.Hour + time.Hour

// TestReferenceTimeSlices: routes with time-slice objectives on short
// streams with many evaluations.
func TestReferenceTimeSlices(t *testing.T) {
	seeds := 3
	if testing.Short() {
		seeds = 1
	}
	for seed := range seeds {
		runStreamWith(t, streamSpec{seed: 300 + uint64(seed), length: 4 * time.Hour, interval: 30 * time.Second,
			hosts: []string{"a.example", "b.example", "c.example"}, evals: 12},
			streamConfig{resolve: refResolve11(t), longest: refLongest11})
	}
}

// TestReferenceServices: five days across the new year (Kolkata's month
// and Berlin's year end on the second day, and leave the minute ring
// before the stream ends), routes and services.
func TestReferenceServices(t *testing.T) {
	for seed := range 1 {
		runStreamWith(t, streamSpec{seed: 400 + uint64(seed), length: 5 * 24 * time.Hour, interval: 3 * time.Minute,
			hosts: []string{"a.example", "b.example", "c.example"}, evals: 10,
			start: time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC).UnixMilli()},
			streamConfig{resolve: refResolve11(t), services: refServices11(t), longest: refLongest11})
	}
}

// TestSliceMinutesAheadOfWatermark: a slice's minutes after the tenant's
// watermark (an evaluation while the data lags: scrape intervals of
// minutes, a stalled agent) are judged like the others: a minute whose
// start lies in a maintenance window is excluded, so a slice wholly in
// maintenance is left out, whether or not data has reached its minutes
// (as it will be once the watermark passes them).
func TestSliceMinutesAheadOfWatermark(t *testing.T) {
	f := newCalFeed(t, Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour},
		Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.9}})
	m0 := t0 / minute
	for k := range int64(31) { // 10 good events a minute up to M0+30, the head
		f.put("200", (m0+k)*minute, float64(10*k))
	}
	mask := []Mask{&testMask{ivs: []Interval{{Start: (m0 + 20) * minute, End: (m0 + 60) * minute}}}}
	f.e.SetMasks(mask)
	f.ref.setMasks(mask)
	// At M0+37: [M0+30, M0+35) and [M0+35, M0+40) (in progress) are
	// wholly in maintenance: left out; the 5m window judges no slice.
	st := f.status("ahead of the watermark", (m0+37)*minute+5000)
	if w := st.Windows[slo.Window5m]; w.Total != 0 {
		t.Errorf("5m window %+v, want no slice judged", w)
	}
	// [M0, M0+20) good; [M0+20, M0+25), [M0+25, M0+30) and the two
	// above left out; the ring's slices before M0 are empty, so good.
	if got := st.WindowSlices; got.Bad != 0 || got.Excluded != 4 {
		t.Errorf("window slices %+v, want 4 left out", got)
	}
	if got := st.Slices; got != (slo.SliceCounts{Good: 4, Excluded: 3}) {
		t.Errorf("slices %+v, want 4 good 3 left out", got)
	}
}
