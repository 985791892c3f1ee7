package budget

import (
	"fmt"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// t0 is a Monday, 00:00 UTC; unit tests count from here.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()

const minute = int64(minuteMs)

var staleNaN = math.Float64frombits(0x7ff0000000000002)

func webSource() Source {
	return Source{Name: "web", Kind: Availability, Metric: "http_requests_total",
		RouteLabels: []string{"host"}, StatusLabel: "code", Bad: regexp.MustCompile(`^(?:5..)$`)}
}

func latencySource() Source {
	return Source{Name: "web-latency", Kind: Latency, Metric: "http_request_duration_seconds_bucket",
		RouteLabels: []string{"host"}, LE: 0.5}
}

// harness drives an engine with a settable clock.
type harness struct {
	t   *testing.T
	now int64
	e   *Engine
}

func newHarness(t *testing.T, cfg EngineConfig) *harness {
	h := &harness{t: t, now: t0}
	if cfg.Sources == nil {
		cfg.Sources = []Source{webSource(), latencySource()}
	}
	cfg.Now = func() time.Time { return time.UnixMilli(h.now) }
	h.e = NewEngine(cfg)
	return h
}

// req returns the labels of a request counter of host, code, instance.
func req(host, code, instance string) []Label {
	return []Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: code}, {Name: "host", Value: host},
		{Name: "instance", Value: instance}, {Name: "job", Value: "ingress"}}
}

func (h *harness) put(labels []Label, ts int64, v float64) {
	h.t.Helper()
	if ts > h.now {
		h.now = ts
	}
	h.e.Ingest(Tenant{}, labels, []Sample{{Value: v, Timestamp: ts}})
}

// status evaluates tenant 0 at at and returns the route of source src.
func (h *harness) status(at int64, src, route string) RouteStatus {
	h.t.Helper()
	for _, st := range h.e.Evaluate(Tenant{}, at) {
		if st.Source == src && st.Route == route {
			return st
		}
	}
	h.t.Fatalf("no route %s/%s at %d", src, route, at)
	return RouteStatus{}
}

type pt struct {
	sec int64 // seconds after t0
	v   float64
}

func TestEngineCounterRules(t *testing.T) {
	f := func(name string, pts []pt, wantBad uint64) {
		t.Helper()
		h := newHarness(t, EngineConfig{})
		h.put(req("a", "200", "i1"), t0-2*minute, 100) // the target is known before
		h.put(req("a", "200", "i1"), t0-minute, 100)
		for _, p := range pts {
			h.put(req("a", "500", "i1"), t0+p.sec*1000, p.v)
		}
		if st := h.status(t0+time.Hour.Milliseconds(), "web", "a"); st.Bad != wantBad || st.Good != 0 {
			t.Errorf("%s: good %d bad %d, want 0 %d", name, st.Good, st.Bad, wantBad)
		}
	}
	f("in order", []pt{{0, 10}, {60, 15}, {120, 20}}, 20)
	f("reset", []pt{{0, 10}, {60, 15}, {120, 3}, {180, 5}}, 20)
	f("duplicate", []pt{{0, 10}, {60, 15}, {60, 15}, {120, 20}}, 20)
	f("duplicate other value", []pt{{0, 10}, {60, 15}, {60, 99}, {120, 20}}, 20)
	f("retried block", []pt{{0, 10}, {60, 15}, {120, 20}, {60, 15}, {120, 20}}, 20)
	f("reorder", []pt{{0, 10}, {120, 20}, {60, 15}}, 20)
	f("reorder reveals reset", []pt{{0, 10}, {120, 12}, {60, 2}}, 22)
	f("reorder before first", []pt{{60, 15}, {0, 10}, {120, 20}}, 20)
	// A reordered point in its successor's minute changes that minute once.
	f("reorder in one minute", []pt{{0, 10}, {40, 20}, {20, 15}}, 20)
	f("reorder in one minute reveals reset", []pt{{0, 10}, {40, 12}, {20, 2}}, 22)
	f("reorder in one minute before reset", []pt{{0, 10}, {40, 5}, {20, 20}}, 25)
	f("reorder in one minute, gone flat", []pt{{0, 10}, {40, 10}, {20, 10}}, 10)
	f("NaN", []pt{{0, 10}, {60, math.NaN()}, {120, 20}}, 20)
	f("staleness marker", []pt{{0, 10}, {60, staleNaN}, {120, 20}}, 20)
	f("inf and negative", []pt{{0, 10}, {60, math.Inf(1)}, {90, -3}, {120, 20}}, 20)
	f("fractional", []pt{{0, 10.4}, {60, 11.6}}, 12)
}

func TestEngineFirstValue(t *testing.T) {
	// before, if set, gets points at beforeAt and 10s later, then the 500
	// series of target i1 at t0+1m and t0+2m.
	f := func(name string, before []Label, beforeAt int64, points int, wantBad uint64) {
		t.Helper()
		h := newHarness(t, EngineConfig{})
		for i := range points {
			h.put(before, beforeAt+int64(i)*10_000, float64(1+i))
		}
		h.put(req("a", "500", "i1"), t0+minute, 100)
		h.put(req("a", "500", "i1"), t0+2*minute, 105)
		if st := h.status(t0+time.Hour.Milliseconds(), "web", "a"); st.Bad != wantBad {
			t.Errorf("%s: bad %d, want %d", name, st.Bad, wantBad)
		}
	}
	f("new target: baseline", nil, 0, 0, 5)
	f("known target: in full", req("a", "200", "i1"), t0, 2, 105)
	f("known target, other route", req("b", "200", "i1"), t0, 2, 105)
	f("other instance: baseline", req("a", "200", "i2"), t0, 2, 5)
	f("same time is not earlier", req("a", "200", "i1"), t0+minute, 2, 5)
	f("later is not earlier", req("a", "200", "i1"), t0+90_000, 2, 5)
	// A series of one point does not start its target: a stray sample.
	f("one earlier sample: baseline", req("a", "200", "i1"), t0, 1, 5)
}

func TestEngineFirstValueFixup(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	// The target's second scrape arrives first: both series are baselines.
	h.put(req("a", "200", "i1"), t0+minute, 50)
	h.put(req("a", "500", "i1"), t0+minute, 7) // first seen in the 2nd scrape
	// The first scrape arrives: the 500 series now starts after its target.
	h.put(req("a", "200", "i1"), t0, 40)
	st := h.status(t0+time.Hour.Milliseconds(), "web", "a")
	if st.Good != 10 || st.Bad != 7 {
		t.Errorf("good %d bad %d, want 10 7", st.Good, st.Bad)
	}
	if s := h.e.Stats(); s.FirstValueFixups != 1 || s.Reorders != 1 {
		t.Errorf("stats %+v, want 1 fix-up, 1 reorder", s)
	}
}

func TestEngineReorderAttribution(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	h.put(req("a", "200", "i1"), t0, 10) // baseline
	h.put(req("a", "200", "i1"), t0+2*minute, 30)
	h.put(req("a", "200", "i1"), t0+minute+5000, 25) // reordered: 15 in minute 1, 5 in minute 2
	f := func(at int64, want uint64) {
		t.Helper()
		if w := h.status(at, "web", "a").Windows[slo.Window5m]; w.Total != want || w.Good != want {
			t.Errorf("5m window at +%ds: %+v, want %d", (at-t0)/1000, w, want)
		}
	}
	f(t0+minute, 0)
	f(t0+2*minute, 15)
	f(t0+3*minute+59_999, 20)
	f(t0+7*minute, 5) // [2, 7)
	// Ten more points push the first points out of the history: an older
	// point counts zero.
	for i := int64(1); i <= 10; i++ {
		h.put(req("a", "200", "i1"), t0+(2+i)*minute, float64(30+i))
	}
	h.put(req("a", "200", "i1"), t0+3*minute+1, 1000)
	if st, s := h.status(t0+time.Hour.Milliseconds(), "web", "a"), h.e.Stats(); st.Good != 30 || s.TooOld != 1 {
		t.Errorf("good %d too old %d, want 30 1", st.Good, s.TooOld)
	}
}

func TestEngineFutureAndWatermark(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	h.e.Ingest(Tenant{}, req("a", "200", "i1"), []Sample{
		{Value: 1, Timestamp: t0 - minute},
		{Value: 2, Timestamp: t0 + 11*minute}, // refused
		{Value: 3, Timestamp: t0 + 9*minute},
	})
	if s := h.e.Stats(); s.Future != 1 || s.SamplesCounted != 2 {
		t.Errorf("stats %+v, want 1 future, 2 counted", s)
	}
	if wm := h.e.Watermark(Tenant{}); wm != t0+9*minute {
		t.Errorf("watermark %d, want %d", wm, t0+9*minute)
	}
	if wm := h.e.Watermark(Tenant{AccountID: 1}); wm != 0 {
		t.Errorf("watermark of unknown tenant %d, want 0", wm)
	}
}

func TestEngineRouteCap(t *testing.T) {
	src := webSource()
	src.MaxRoutes = 2
	h := newHarness(t, EngineConfig{Sources: []Source{src}})
	for _, host := range []string{"a", "b", "c", "a"} {
		h.put(req(host, "200", "i1"), t0, 1)
		h.put(req(host, "200", "i1"), t0+minute, 2)
	}
	if n := len(h.e.Evaluate(Tenant{}, t0+time.Hour.Milliseconds())); n != 2 {
		t.Errorf("%d routes, want 2", n)
	}
	if s := h.e.Stats(); s.RoutesRefused != 1 || s.Routes != 2 {
		t.Errorf("stats %+v, want 1 refused, 2 routes", s)
	}
	// Another tenant has its own cap.
	h.e.Ingest(Tenant{AccountID: 1}, req("c", "200", "i1"), []Sample{{Value: 1, Timestamp: t0}})
	if n := len(h.e.Evaluate(Tenant{AccountID: 1}, t0)); n != 1 {
		t.Errorf("tenant 1: %d routes, want 1", n)
	}
	if got := h.e.Tenants(); len(got) != 2 || got[1].AccountID != 1 {
		t.Errorf("tenants %v", got)
	}
}

func TestEngineForget(t *testing.T) {
	h := newHarness(t, EngineConfig{Resolve: func(src *Source, _ []Label) Objective {
		o := DefaultObjective(src)
		o.Window.Length = 24 * time.Hour
		return o
	}})
	h.put(req("a", "200", "i1"), t0, 1)
	h.put(req("b", "200", "i2"), t0, 1)
	h.put(req("b", "200", "i2"), t0+25*time.Hour.Milliseconds(), 2)
	sts := h.e.Evaluate(Tenant{}, t0+25*time.Hour.Milliseconds())
	if len(sts) != 1 || sts[0].Route != "b" {
		t.Fatalf("routes %v, want only b", sts)
	}
	if s := h.e.Stats(); s.RoutesForgotten != 1 || s.Series != 1 {
		t.Errorf("stats %+v, want 1 forgotten, 1 series", s)
	}
	// a comes back: a new route, its first value a baseline (its target
	// i1 was forgotten with it).
	h.put(req("a", "200", "i1"), t0+25*time.Hour.Milliseconds(), 50)
	if st := h.status(t0+26*time.Hour.Milliseconds(), "web", "a"); st.Good != 0 {
		t.Errorf("good %d, want 0", st.Good)
	}
}

func TestEngineCalendarMonth(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err) // the tests link time/tzdata: every zone loads
	}
	h := newHarness(t, EngineConfig{Resolve: func(src *Source, _ []Label) Objective {
		return Objective{Name: "availability", SLO: 0.99, SLA: 0.98,
			Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: berlin}}
	}})
	// April starts 2026-03-31T22:00Z in Berlin (CEST, UTC+2).
	at := func(s string) int64 {
		tm, _ := time.Parse(time.RFC3339, s)
		return tm.UnixMilli()
	}
	h.put(req("a", "200", "i1"), at("2026-03-31T21:00:00Z"), 0)
	h.put(req("a", "200", "i1"), at("2026-03-31T21:30:00Z"), 100) // March
	h.put(req("a", "500", "i1"), at("2026-03-31T21:30:00Z"), 0)
	h.put(req("a", "200", "i1"), at("2026-03-31T22:30:00Z"), 190) // April
	h.put(req("a", "500", "i1"), at("2026-03-31T22:30:00Z"), 10)
	march := h.status(at("2026-03-31T21:59:00Z"), "web", "a")
	if w := march.Windows[slo.WindowCompliance]; w.Name != "month" || w.Total != 100 || w.Good != 100 {
		t.Errorf("March window %+v", w)
	}
	// March has a DST change: 31 days minus one hour.
	if got, want := march.SLO.RemainingSeconds, 0.01*(31*86400-3600); math.Abs(got-want) > 1e-6 {
		t.Errorf("March remaining seconds %v, want %v", got, want)
	}
	april := h.status(at("2026-04-01T10:00:00Z"), "web", "a")
	if w := april.Windows[slo.WindowCompliance]; w.Total != 100 || w.Good != 90 {
		t.Errorf("April window %+v", w)
	}
	// 10 bad of 100 against 1% allowed: remaining 1 - 10/1 = -9.
	if got := april.SLO.RemainingRatio; math.Abs(got+9) > 1e-9 {
		t.Errorf("April remaining %v, want -9", got)
	}
	if got, want := april.SLA.RemainingSeconds, -4.0*0.02*30*86400; !april.HasSLA || math.Abs(got-want) > 1e-6 {
		t.Errorf("April SLA remaining seconds %v, want %v", got, want)
	}
	// Four minutes into April the month is shorter than the 5m window: the
	// last minute of March is in one, not the other.
	h.put(req("c", "200", "i1"), at("2026-03-31T21:58:30Z"), 0)
	h.put(req("c", "200", "i1"), at("2026-03-31T21:59:30Z"), 10)
	st := h.status(at("2026-03-31T22:04:00Z"), "web", "c")
	if w5, wc := st.Windows[slo.Window5m], st.Windows[slo.WindowCompliance]; w5.Total != 10 || wc.Total != 0 {
		t.Errorf("at 00:04 local: 5m total %d, month total %d, want 10 0", w5.Total, wc.Total)
	}
}

func TestEngineBudgetAndExhaustion(t *testing.T) {
	h := newHarness(t, EngineConfig{}) // default objective: SLO 0.999, 30d
	// 1000 requests per minute for 10 hours, then 2000 per minute with 1%
	// errors for 5 minutes.
	for i := int64(0); i <= 600; i++ {
		h.put(req("a", "200", "i1"), t0+i*minute, float64(i*1000))
	}
	h.put(req("a", "500", "i1"), t0+600*minute, 0)
	for i := int64(1); i <= 5; i++ {
		h.put(req("a", "200", "i1"), t0+(600+i)*minute, float64(600_000+i*1980))
		h.put(req("a", "500", "i1"), t0+(600+i)*minute, float64(i*20))
	}
	st := h.status(t0+606*minute, "web", "a")
	w := st.Windows[slo.WindowCompliance]
	bad := float64(w.Total - w.Good)
	if bad != 100 || w.Total != 610_000 {
		t.Fatalf("bad %v total %d, want 100 610000", bad, w.Total)
	}
	remaining := 1 - bad/(0.001*float64(w.Total))
	seconds := remaining * 0.001 * 30 * 86400
	if math.Abs(st.SLO.RemainingRatio-remaining) > 1e-12 || math.Abs(st.SLO.RemainingSeconds-seconds) > 1e-6 {
		t.Errorf("remaining %v %v, want %v %v", st.SLO.RemainingRatio, st.SLO.RemainingSeconds, remaining, seconds)
	}
	if w5 := st.Windows[slo.Window5m]; w5.Total != 10000 || w5.Good != 9900 || math.Abs(w5.BurnRate-10) > 1e-9 {
		t.Errorf("5m window %+v, want 9900/10000, burn 10", w5)
	}
	if !st.SLO.HasExhaustion || math.Abs(st.SLO.ExhaustionSeconds-seconds/0.01) > 1e-6 {
		t.Errorf("exhaustion %v, want %v", st.SLO.ExhaustionSeconds, seconds/0.01)
	}
	if st.Release != slo.ReleaseShip || st.HasSLA {
		t.Errorf("release %v has SLA %v, want ship (1h burn %v)", st.Release, st.HasSLA, st.Windows[slo.Window1h].BurnRate)
	}
	// Nothing burns in the last 5 minutes: no exhaustion time.
	if st := h.status(t0+700*minute, "web", "a"); st.SLO.HasExhaustion || st.Windows[slo.Window5m].HasSLI {
		t.Errorf("idle: %+v", st.SLO)
	}
	// A big outage: 90% errors for a minute burn the budget.
	h.put(req("a", "200", "i1"), t0+607*minute, float64(600_000+5*1980+100))
	h.put(req("a", "500", "i1"), t0+607*minute, float64(100+900))
	if st := h.status(t0+608*minute, "web", "a"); st.Release != slo.ReleaseFreeze || st.SLO.ExhaustionSeconds != 0 || !st.SLO.HasExhaustion {
		t.Errorf("outage: release %v exhaustion %v, want freeze 0", st.Release, st.SLO.ExhaustionSeconds)
	}
}

// testMask is a Mask over fixed intervals; match holds exact label values.
type testMask struct {
	match map[string]string
	ivs   []Interval
}

func (m *testMask) Matches(labels []Label) bool {
	for name, want := range m.match {
		v := ""
		for _, l := range labels {
			if l.Name == name {
				v = l.Value
				break
			}
		}
		if v != want {
			return false
		}
	}
	return true
}

func (m *testMask) AppendIntervals(dst []Interval, from, to int64) []Interval {
	for _, iv := range m.ivs {
		if iv.Start < to && iv.End > from {
			dst = append(dst, iv)
		}
	}
	return dst
}

func TestEngineMaintenance(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	for i := int64(0); i <= 60; i++ {
		h.put(req("a", "200", "i1"), t0+i*minute, float64(i*10))
		h.put(req("b", "200", "i1"), t0+i*minute, float64(i*10))
	}
	f := func(name string, masks []Mask, at int64, wantTotal, wantExcl uint64, active bool) {
		t.Helper()
		h.e.SetMasks(masks)
		st := h.status(at, "web", "a")
		if w := st.Windows[slo.Window1h]; w.Total != wantTotal || st.ExcludedGood != wantExcl || st.MaintenanceActive != active {
			t.Errorf("%s: 1h total %d excluded %d active %v, want %d %d %v",
				name, w.Total, st.ExcludedGood, st.MaintenanceActive, wantTotal, wantExcl, active)
		}
		if other := h.status(at, "web", "b").Windows[slo.Window1h]; other.Total != 600 {
			t.Errorf("%s: route b total %d, want 600", name, other.Total)
		}
	}
	hostA := map[string]string{"host": "a"}
	mask := func(from, to int64) []Mask {
		return []Mask{&testMask{match: hostA, ivs: []Interval{{Start: t0 + from, End: t0 + to}}}}
	}
	f("none", nil, t0+61*minute, 600, 0, false)
	f("minutes 10..19", mask(10*minute, 20*minute), t0+61*minute, 500, 100, false)
	f("start inside a minute", mask(10*minute+1, 20*minute), t0+61*minute, 510, 90, false)
	f("shortened", mask(10*minute, 15*minute), t0+61*minute, 550, 50, false)
	f("active", mask(10*minute, 70*minute), t0+61*minute, 90, 510, true)
	f("deleted", nil, t0+61*minute, 600, 0, false)
	f("other source", []Mask{&testMask{match: map[string]string{"source": "web-latency"},
		ivs: []Interval{{Start: t0, End: t0 + 70*minute}}}}, t0+61*minute, 600, 0, false)
}

// TestEngineMaskFinality: minutes that left the minute horizon are final,
// even when their route had not folded them yet when the mask came.
func TestEngineMaskFinality(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	h.put(req("a", "200", "i1"), t0, 0)
	h.put(req("a", "200", "i1"), t0+minute, 10)
	h.put(req("b", "200", "i2"), t0+4*24*time.Hour.Milliseconds(), 1) // moves the watermark only
	h.e.SetMasks([]Mask{&testMask{match: map[string]string{"host": "a"},
		ivs: []Interval{{Start: t0, End: t0 + time.Hour.Milliseconds()}}}})
	st := h.status(t0+4*24*time.Hour.Milliseconds()+minute, "web", "a")
	if w := st.Windows[slo.WindowCompliance]; w.Good != 10 || st.ExcludedGood != 0 {
		t.Errorf("30d window %d, excluded %d, want 10 0: a mask must not reach beyond the horizon", w.Good, st.ExcludedGood)
	}
}

func TestEngineLatency(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	bucket := func(le string) []Label {
		return []Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "host", Value: "a"},
			{Name: "instance", Value: "i1"}, {Name: "job", Value: "ingress"}, {Name: "le", Value: le}}
	}
	for i, v := range []struct{ fast, good, all float64 }{{0, 0, 0}, {5, 8, 10}, {9, 15, 20}} {
		ts := t0 + int64(i)*minute
		h.put(bucket("0.1"), ts, v.fast)
		h.put(bucket("0.50"), ts, v.good) // le parsed as a number: 0.50 == 0.5
		h.put(bucket("+Inf"), ts, v.all)
		h.put(bucket("garbage"), ts, 1)
	}
	st := h.status(t0+time.Hour.Milliseconds(), "web-latency", "a")
	if st.Good != 15 || st.Bad != 5 || st.Objective.Name != "latency" {
		t.Errorf("good %d bad %d objective %q, want 15 5 latency", st.Good, st.Bad, st.Objective.Name)
	}
	if s := h.e.Stats(); s.Series != 2 {
		t.Errorf("%d series, want 2 (le=0.5 and +Inf)", s.Series)
	}
}

func TestEngineLateData(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	day := 24 * time.Hour.Milliseconds()
	h.put(req("a", "200", "i1"), t0, 0)
	h.put(req("a", "200", "i1"), t0+10*day, 100) // 100 in the minute of t0+10d
	// A second series arrives late: its points lie before the minute ring.
	h.put(req("a", "200", "i2"), t0+10*day, 0) // i2 known now; earlier points re-count
	h.put(req("a", "200", "i2"), t0+5*day+90*minute+1, 7)
	h.put(req("a", "200", "i2"), t0+5*day+30*minute, 3) // new first point: 3 (target known since... no: baseline)
	st := h.status(t0+10*day+minute, "web", "a")
	w := st.Windows[slo.WindowCompliance]
	if st.Good != w.Good || w.Good != 104 {
		t.Errorf("good %d, 30d window %d, want 104 (100 + delta 4 after the baseline 3)", st.Good, w.Good)
	}
	// An hour bucket counts only when it lies entirely in the window.
	at := t0 + 35*day + 31*minute // window starts at t0+5d+31m: hour 5d+1h (the 4) is inside
	h.put(req("a", "200", "i1"), at, 100)
	if w := h.status(at, "web", "a").Windows[slo.WindowCompliance]; w.Good != 104 {
		t.Errorf("30d window at +35d31m: %d, want 104", w.Good)
	}
	at = t0 + 35*day + 61*minute // window starts inside hour 5d+1h: it is dropped
	if w := h.status(at, "web", "a").Windows[slo.WindowCompliance]; w.Good != 100 {
		t.Errorf("30d window at +35d61m: %d, want 100", w.Good)
	}
	// Older than the hour ring: dropped and counted.
	h.put(req("a", "500", "i1"), t0+10*day, 0)
	h.put(req("a", "500", "i1"), t0+2*day, 0)
	h.put(req("a", "500", "i1"), t0+day, 5) // becomes the first point: i1 is known, in full
	if s := h.e.Stats(); s.Expired == 0 {
		t.Errorf("stats %+v, want expired", s)
	}
}

func TestEngineWindowEdges(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	h.put(req("a", "200", "i1"), t0-minute, 0)
	h.put(req("a", "200", "i1"), t0+30_000, 10)
	f := func(at int64, want5m, wantTotal uint64) {
		t.Helper()
		st := h.status(at, "web", "a")
		if w := st.Windows[slo.Window5m]; w.Total != want5m || st.Good != wantTotal {
			t.Errorf("at +%dms: 5m %d cumulative %d, want %d %d", at-t0, w.Total, st.Good, want5m, wantTotal)
		}
	}
	f(t0+59_999, 0, 0) // the current minute is not counted
	f(t0+minute, 10, 10)
	f(t0+5*minute+59_999, 10, 10)
	f(t0+6*minute, 0, 10) // left the 5m window; the cumulative count keeps it
}

// TestEngineConcurrent runs Ingest, Evaluate, SetMasks and Stats at once
// (run it with -race) and checks that no increment is lost.
func TestEngineConcurrent(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	h.now = t0 + 24*time.Hour.Milliseconds()
	const workers, points = 4, 500
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			labels := req(fmt.Sprintf("h%d", w%2), "200", fmt.Sprintf("i%d", w))
			for i := range points {
				h.e.Ingest(Tenant{}, labels, []Sample{{Value: float64(i), Timestamp: t0 + int64(i)*1000}})
			}
		}()
	}
	go func() {
		defer func() { done <- struct{}{} }()
		for i := range 50 {
			h.e.Evaluate(Tenant{}, t0+int64(i)*10_000)
			h.e.SetMasks([]Mask{&testMask{match: map[string]string{"host": "h0"},
				ivs: []Interval{{Start: t0, End: t0 + int64(i)*1000}}}})
			h.e.Stats()
			h.e.Tenants()
		}
	}()
	for range workers + 1 {
		<-done
	}
	h.e.SetMasks(nil)
	var good uint64
	for _, st := range h.e.Evaluate(Tenant{}, t0+time.Hour.Milliseconds()) {
		good += st.Good
	}
	if good != workers*(points-1) {
		t.Errorf("good %d, want %d", good, workers*(points-1))
	}
}
