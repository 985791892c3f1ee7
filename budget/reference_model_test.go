package budget

import (
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// Direct tests of the reference model on tiny hand-made streams, with
// answers computed by hand: the model checks the engine, these check the
// model.

// refTiny is a model of one web source (route label host) with objective
// obj for every route, fed minute-aligned counters.
type refTiny struct {
	t   *testing.T
	m   *refModel
	now int64
}

func newRefTiny(t *testing.T, obj Objective) *refTiny {
	return &refTiny{t: t, m: newRefModel([]Source{webSource()}, func(*Source, []Label) Objective { return obj },
		defaultMinuteHorizon, defaultMaxFuture, 367*24*time.Hour)}
}

// put sets the counter of host and code to v at minute mi (second 0).
func (r *refTiny) put(host, code string, mi int64, v float64) {
	r.now = max(r.now, mi*minute)
	r.m.ingest(Tenant{}, req(host, code, "i-"+host), []Sample{{Value: v, Timestamp: mi * minute}}, r.now)
}

func (r *refTiny) route(at int64, host string) RouteStatus {
	r.t.Helper()
	st, ok := r.m.evaluate(Tenant{}, at)["web|"+host]
	if !ok {
		r.t.Fatalf("no route %s", host)
	}
	return st
}

// slicesTiny: host a serves 10 good requests a minute in minutes M0+1 ..
// M0+10 (the first point at M0 is the baseline) and 5 bad ones in M0+7.
// Slices of 5m, target 0.95: [M0, M0+5) good (40/40), [M0+5, M0+10) bad
// (50/55), [M0+10, M0+15) good so far (10/10).
func slicesTiny(t *testing.T, skipEmpty bool) (*refTiny, int64) {
	obj := Objective{Name: "availability", SLO: 0.99, SLA: 0.98, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour},
		Slices:  slo.Slices{Length: 5 * time.Minute, Target: 0.95, SkipEmpty: skipEmpty},
		Credits: []slo.Credit{{Below: 0.9999, Percent: 10}, {Below: 0.99, Percent: 25}}}
	r := newRefTiny(t, obj)
	m0 := t0 / minute
	for k := range int64(11) {
		r.put("a", "200", m0+k, float64(10*k))
		if k == 0 || k == 7 {
			r.put("a", "500", m0+k, float64(5*(k/7)))
		}
	}
	return r, m0
}

func TestRefModelSlices(t *testing.T) {
	r, m0 := slicesTiny(t, false)
	ring := r.m.ringLen // 4332 minutes
	if ring != 4332 {
		t.Fatalf("ring %d", ring)
	}
	at := (m0+12)*minute + 30_000
	st := r.route(at, "a")
	// slo_slices_total counts from the route's first events on (M0+1):
	// complete by M0+12 are [M0, M0+5) and [M0+5, M0+10).
	if want := (slo.SliceCounts{Good: 1, Bad: 1}); st.Slices != want {
		t.Errorf("slices %+v, want %+v", st.Slices, want)
	}
	// The compliance window (30d) = [M0+12-43200, M0+12) overlaps 8641
	// slices, from M0+10-43200 on: the ones before the route's ring
	// started (at M0+1-4331) are empty, so good; one is bad.
	if want := (slo.SliceCounts{Good: 8640, Bad: 1}); st.WindowSlices != want {
		t.Errorf("window slices %+v, want %+v", st.WindowSlices, want)
	}
	// 5m = [M0+7, M0+12): the bad slice and the one in progress (20/20).
	if w := st.Windows[slo.Window5m]; w.Good != 1 || w.Total != 2 || math.Abs(w.BurnRate-50) > 1e-9 {
		t.Errorf("5m %+v", w)
	}
	// 30m = [M0-18, M0+12): slices from M0-20 to M0+10, 7 of them.
	if w := st.Windows[1]; w.Good != 6 || w.Total != 7 {
		t.Errorf("30m %+v", w)
	}
	// Budget: 8640 slices in 30 days, 1% of them allowed: 86.4 slices,
	// one spent.
	if b := st.SLO; math.Abs(b.RemainingRatio-(1-1/86.4)) > 1e-12 || math.Abs(b.RemainingSeconds-85.4*300) > 1e-9 ||
		!b.HasExhaustion || math.Abs(b.ExhaustionSeconds-85.4*300*2) > 1e-9 {
		t.Errorf("slo budget %+v", b)
	}
	if b := st.SLA; !st.HasSLA || math.Abs(b.RemainingSeconds-(0.02*8640-1)*300) > 1e-9 {
		t.Errorf("sla budget %+v", b)
	}
	// Credit: good-slice ratio 8640/8641 = 0.999884 < 0.9999: 10%.
	if !st.HasCredit || st.CreditPercent != 10 {
		t.Errorf("credit %v %v", st.HasCredit, st.CreditPercent)
	}
	// Events: 100 good, 5 bad.
	if st.Good != 100 || st.Bad != 5 {
		t.Errorf("good %d bad %d", st.Good, st.Bad)
	}

	// Empty slices left out: only the three with events are judged, and
	// 1% of 2 slices are allowed.
	r2, _ := slicesTiny(t, true)
	st = r2.route(at, "a")
	if want := (slo.SliceCounts{Good: 1, Bad: 1}); st.Slices != want {
		t.Errorf("skip empty: slices %+v, want %+v", st.Slices, want)
	}
	if want := (slo.SliceCounts{Good: 2, Bad: 1, Excluded: 8638}); st.WindowSlices != want {
		t.Errorf("skip empty: window slices %+v, want %+v", st.WindowSlices, want)
	}
	if b := st.SLO; math.Abs(b.RemainingSeconds-(0.02-1)*300) > 1e-9 || math.Abs(b.RemainingRatio-(1-1/0.02)) > 1e-9 {
		t.Errorf("skip empty: slo budget %+v", b)
	}
}

func TestRefModelSliceMasks(t *testing.T) {
	at := (t0/minute+12)*minute + 30_000
	m0 := t0 / minute
	f := func(name string, ivs []Interval, want, wantWindow slo.SliceCounts) {
		t.Helper()
		r, _ := slicesTiny(t, false)
		r.m.setMasks([]Mask{&testMask{match: map[string]string{"host": "a"}, ivs: ivs}})
		if st := r.route(at, "a"); st.Slices != want || st.WindowSlices != wantWindow {
			t.Errorf("%s: slices %+v, window %+v, want %+v, %+v", name, st.Slices, st.WindowSlices, want, wantWindow)
		}
	}
	f("the bad slice wholly masked", []Interval{{Start: (m0 + 5) * minute, End: (m0 + 10) * minute}},
		slo.SliceCounts{Good: 1, Excluded: 1}, slo.SliceCounts{Good: 8640, Excluded: 1})
	f("the bad minute masked", []Interval{{Start: (m0 + 7) * minute, End: (m0+7)*minute + 1}},
		slo.SliceCounts{Good: 2}, slo.SliceCounts{Good: 8641})
	f("four of its minutes masked", []Interval{{Start: (m0 + 5) * minute, End: (m0 + 9) * minute}},
		slo.SliceCounts{Good: 2}, slo.SliceCounts{Good: 8641})
	// The ring's first slice [M0-4330, M0-4325) left the ring at M0+6:
	// masking it afterwards changes nothing; a slice still in the ring is
	// left out; slices before the ring are empty whatever the masks.
	f("the first slice masked late", []Interval{{Start: (m0 - 4330) * minute, End: (m0 - 4325) * minute}},
		slo.SliceCounts{Good: 1, Bad: 1}, slo.SliceCounts{Good: 8640, Bad: 1})
	f("a slice in the ring masked", []Interval{{Start: (m0 - 4320) * minute, End: (m0 - 4315) * minute}},
		slo.SliceCounts{Good: 1, Bad: 1}, slo.SliceCounts{Good: 8639, Bad: 1, Excluded: 1})
	f("before the ring", []Interval{{Start: (m0 - 4335) * minute, End: (m0 - 4330) * minute}},
		slo.SliceCounts{Good: 1, Bad: 1}, slo.SliceCounts{Good: 8640, Bad: 1})

	// Final slices keep their verdict: the watermark moves a ring and 20
	// minutes on, then the bad slice is masked after the fact.
	r, _ := slicesTiny(t, false)
	late := m0 + r.m.ringLen + 20
	r.put("b", "200", late-1, 0)
	r.put("b", "200", late, 1)
	r.m.setMasks([]Mask{&testMask{match: map[string]string{"host": "a"}, ivs: []Interval{{Start: (m0 + 5) * minute, End: (m0 + 10) * minute}}}})
	st := r.route(late*minute, "a")
	// Slices from M0 to M0+4332+20: 870 complete, the bad one among them.
	if want := (slo.SliceCounts{Good: 869, Bad: 1}); st.Slices != want {
		t.Errorf("final: slices %+v, want %+v", st.Slices, want)
	}
	// A mask set before the slice became final counts.
	r, _ = slicesTiny(t, false)
	r.m.setMasks([]Mask{&testMask{match: map[string]string{"host": "a"}, ivs: []Interval{{Start: (m0 + 5) * minute, End: (m0 + 10) * minute}}}})
	r.put("b", "200", late-1, 0)
	r.put("b", "200", late, 1)
	r.m.setMasks(nil)
	if want := (slo.SliceCounts{Good: 869, Excluded: 1}); r.route(late*minute, "a").Slices != want {
		t.Errorf("final, masked before: slices %+v, want %+v", r.route(late*minute, "a").Slices, want)
	}
}

// TestRefModelFirstSlice: a route whose first events come at M0+3 starts
// its ring at M0+3-4331 = M0-4328, inside the slice [M0-4330, M0-4325):
// the slice's two minutes before the ring count as empty and not
// excluded, so masking its ring minutes leaves it good, not excluded.
func TestRefModelFirstSlice(t *testing.T) {
	obj := Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour},
		Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.95}}
	m0 := t0 / minute
	f := func(name string, ivs []Interval, want slo.SliceCounts) {
		t.Helper()
		r := newRefTiny(t, obj)
		r.put("a", "200", m0+2, 0)
		r.put("a", "200", m0+3, 10)
		r.m.setMasks([]Mask{&testMask{ivs: ivs}})
		st := r.route((m0+5)*minute, "a")
		if st.WindowSlices != want || st.Slices != (slo.SliceCounts{Good: 1}) {
			t.Errorf("%s: window slices %+v, want %+v; slices %+v, want 1 good", name, st.WindowSlices, want, st.Slices)
		}
	}
	// The 30d window [M0+5-43200, M0+5) holds 8640 slices.
	f("no mask", nil, slo.SliceCounts{Good: 8640})
	f("its ring minutes masked", []Interval{{Start: (m0 - 4328) * minute, End: (m0 - 4325) * minute}}, slo.SliceCounts{Good: 8640})
	f("the next slice masked", []Interval{{Start: (m0 - 4325) * minute, End: (m0 - 4320) * minute}}, slo.SliceCounts{Good: 8639, Excluded: 1})
	f("the slice before masked", []Interval{{Start: (m0 - 4335) * minute, End: (m0 - 4330) * minute}}, slo.SliceCounts{Good: 8640})
}

// TestRefModelBuckets: the storage rules of folded minutes, by window.
func TestRefModelBuckets(t *testing.T) {
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	f := func(w slo.Window, mi, wantStart, wantEnd int64) {
		t.Helper()
		if s, e := refBucket(w, mi); s != wantStart || e != wantEnd {
			t.Errorf("%+v minute %d: bucket [%d, %d), want [%d, %d)", w, mi, s, e, wantStart, wantEnd)
		}
	}
	m := time.Date(2026, 11, 30, 18, 29, 0, 0, time.UTC).Unix() / 60 // 23:59 in Kolkata
	day := time.Date(2026, 11, 29, 18, 30, 0, 0, time.UTC).Unix() / 60
	f(slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: kolkata}, m, day, day+1440)
	f(slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: kolkata}, m+1, day+1440, day+2880)
	f(slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}, m, m-29, m+31)
	f(slo.Window{Kind: slo.Rolling, Length: 200 * 24 * time.Hour}, m, m-m%1440, m-m%1440+1440)
}

// TestRefModelServices: two routes of a service; maintenance on one route
// removes its events only; a minute is excluded when both are masked.
func TestRefModelServices(t *testing.T) {
	obj := Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}}
	svcObj := obj
	svcObj.Name = "" // the service's name
	svcObj.Slices = slo.Slices{Length: 5 * time.Minute, Target: 0.95, SkipEmpty: true}
	services := []Service{{Name: "platform", Match: Matchers{{Name: "host", Re: regexp.MustCompile(`^(?:a|b)$`)}}, Objective: svcObj},
		{Name: "by-host", Match: Matchers{{Name: "source", Re: regexp.MustCompile(`^(?:web)$`)}}, By: []string{"host", "source", "customer"}, Objective: obj}}
	r := newRefTiny(t, obj)
	r.m.services = services
	m0 := t0 / minute
	for k := range int64(11) {
		r.put("a", "200", m0+k, float64(10*k)) // 10 good a minute
		r.put("b", "200", m0+k, float64(10*k))
		r.put("b", "500", m0+k, float64(k)) // 1 bad a minute
	}
	at := (m0+11)*minute + 1000
	eval := func() map[string]ServiceStatus {
		return r.m.evaluateServices(Tenant{}, at)
	}
	got := eval()
	if len(got) != 3 {
		t.Fatalf("%d service SLIs, want 3: %v", len(got), got)
	}
	bA := got["by-host\x00a\x00web\x00"]
	if bA.Routes != 1 || bA.Good != 100 || bA.Bad != 0 || bA.Labels[1].Value != "web" || bA.Objective.Name != "availability" {
		t.Errorf("by-host a: %+v", bA)
	}
	p := got["platform"]
	// Minutes M0+1..M0+10: 20 good of 21 a minute: slices [M0, M0+5) 80/84 =
	// 0.952 good, [M0+5, M0+10) 100/105 good, [M0+10, M0+15) in progress.
	if p.Routes != 2 || p.Good != 200 || p.Bad != 10 || p.Objective.Name != "platform" {
		t.Errorf("platform: %+v", p)
	}
	if want := (slo.SliceCounts{Good: 2}); p.Slices != want {
		t.Errorf("platform slices %+v, want %+v", p.Slices, want)
	}
	// Route a masked in M0+1..M0+4: the service's slice [M0, M0+5) has
	// route b's events only, 40 good of 44 = 0.909: bad.
	r.m.setMasks([]Mask{&testMask{match: map[string]string{"host": "a"}, ivs: []Interval{{Start: (m0 + 1) * minute, End: (m0 + 5) * minute}}}})
	p = eval()["platform"]
	if want := (slo.SliceCounts{Good: 1, Bad: 1}); p.Slices != want || p.Good != 160 || p.Bad != 10 {
		t.Errorf("one route masked: slices %+v, want %+v; good %d bad %d", p.Slices, want, p.Good, p.Bad)
	}
	// Both masked over the slice [M0+5, M0+10): excluded; route b alone in
	// maintenance now: not the service.
	r.m.setMasks([]Mask{&testMask{ivs: []Interval{{Start: (m0 + 5) * minute, End: (m0 + 10) * minute}}},
		&testMask{match: map[string]string{"host": "b"}, ivs: []Interval{{Start: (m0 + 11) * minute, End: (m0 + 12) * minute}}}})
	p = eval()["platform"]
	if want := (slo.SliceCounts{Good: 1, Excluded: 1}); p.Slices != want || p.MaintenanceActive {
		t.Errorf("both masked: slices %+v, want %+v; maintenance %v", p.Slices, want, p.MaintenanceActive)
	}
	r.m.setMasks([]Mask{&testMask{ivs: []Interval{{Start: (m0 + 11) * minute, End: (m0 + 12) * minute}}}})
	if p = eval()["platform"]; !p.MaintenanceActive {
		t.Errorf("every route in maintenance: %+v", p)
	}
}
