package budget

import (
	"regexp"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// fixedMask is a maintenance window over the routes whose host matches.
type fixedMask struct {
	host *regexp.Regexp
	iv   Interval
}

func (m fixedMask) Matches(labels []Label) bool { return m.host.MatchString(labelOr(labels, "host")) }
func (m fixedMask) AppendIntervals(dst []Interval, from, to int64) []Interval {
	if m.iv.Start < to && from < m.iv.End {
		dst = append(dst, m.iv)
	}
	return dst
}

// TestServiceTimeSlices: a service sums its routes minute by minute, a
// slice is judged on the sum, and maintenance on one route takes only
// that route's events out of the service.
func TestServiceTimeSlices(t *testing.T) {
	obj := Objective{SLO: 0.99, SLA: 0.98, Window: slo.Window{Kind: slo.Rolling, Length: 24 * time.Hour},
		Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.9}, Credits: []slo.Credit{{Below: 0.999, Percent: 10}}}
	svc := Service{Name: "shop", Match: Matchers{{Name: "host", Re: regexp.MustCompile(`^(?:a|b)$`)}}, By: []string{"source"}, Objective: obj}
	run := func(masks []Mask) ServiceStatus {
		h := newHarness(t, EngineConfig{Services: []Service{svc}})
		h.e.SetMasks(masks)
		var bad float64
		for i := int64(0); i <= 60; i++ {
			ts := t0 + i*minute
			h.put(req("a", "200", "i1"), ts, float64(100*i))
			h.put(req("b", "200", "i1"), ts, float64(50*i))
			if i > 10 && i <= 15 { // minutes 11..15 get 50 bad
				bad += 50
			}
			h.put(req("b", "500", "i1"), ts, bad)
		}
		sts := h.e.EvaluateServices(Tenant{}, t0+60*minute)
		if len(sts) != 1 || sts[0].Routes != 2 || sts[0].Labels[0].Value != "web" {
			t.Fatalf("services: %+v", sts)
		}
		return sts[0]
	}
	st := run(nil)
	// 1d of 5m slices overlap the window; minutes 10..14 have 200 bad of
	// 950: that slice is bad (15..19: 50 of 800, good).
	if got := st.WindowSlices; got.Good != 287 || got.Bad != 1 || got.Excluded != 0 {
		t.Errorf("window slices %+v, want 287 good, 1 bad", got)
	}
	// Increments land in minutes 1..60; minute 60 is the eval minute.
	if st.Good != 59*150 || st.Bad != 250 {
		t.Errorf("events %d good %d bad, want 8850 and 250", st.Good, st.Bad)
	}
	wantSec := (0.02*288 - 1) * 300
	if d := st.SLA.RemainingSeconds - wantSec; d > 1e-6 || d < -1e-6 {
		t.Errorf("SLA remaining %v s, want %v", st.SLA.RemainingSeconds, wantSec)
	}
	if !st.HasCredit || st.CreditPercent != 10 {
		t.Errorf("credit %v %v, want 10%%", st.HasCredit, st.CreditPercent)
	}
	// Maintenance on b over minutes 10..14: the service judges a alone.
	m := fixedMask{host: regexp.MustCompile(`^b$`), iv: Interval{Start: t0 + 10*minute, End: t0 + 15*minute}}
	st = run([]Mask{m})
	if got := st.WindowSlices; got.Good != 288 || got.Bad != 0 {
		t.Errorf("with b in maintenance: window slices %+v, want 288 good", got)
	}
	// b's events of minutes 10..14 are out; minute 15's 50 bad stay.
	if st.Bad != 50 || st.Good != 59*150-5*50 {
		t.Errorf("with b in maintenance: events %d good %d bad", st.Good, st.Bad)
	}
	// Both in maintenance: the slice is left out.
	m.host = regexp.MustCompile(`^(?:a|b)$`)
	st = run([]Mask{m})
	if got := st.WindowSlices; got.Good != 287 || got.Excluded != 1 {
		t.Errorf("all in maintenance: window slices %+v, want 287 good, 1 excluded", got)
	}
}

// TestServiceSnapshot: services, time slices and local-day units survive
// a snapshot: an engine loaded mid-stream ends where one that ran through
// ends.
func TestServiceSnapshot(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	year := slo.Window{Kind: slo.Calendar, Period: slo.PeriodYear, Location: kolkata}
	obj := Objective{SLO: 0.999, SLA: 0.99, Window: year, Slices: slo.Slices{Length: time.Hour, Target: 0.95}}
	svc := Service{Name: "shop", Match: Matchers{{Name: "host", Re: regexp.MustCompile(`.*`)}}, Objective: obj}
	resolve := func(src *Source, route []Label) Objective {
		o := obj
		o.Slices.Length = 15 * time.Minute
		return o
	}
	feed := func(h *harness, from, to int64) {
		for i := from; i < to; i++ {
			ts := t0 + i*minute
			bad := float64(i / 7)
			if i%500 < 30 {
				bad = float64(i/7 + i%500)
			}
			h.put(req("a", "200", "i1"), ts, float64(20*i))
			h.put(req("b", "200", "i1"), ts, float64(3*i))
			h.put(req("b", "500", "i1"), ts, bad)
		}
	}
	const total = 5 * 1440
	a := newHarness(t, EngineConfig{Services: []Service{svc}, Resolve: resolve})
	feed(a, 0, total)
	b := newHarness(t, EngineConfig{Services: []Service{svc}, Resolve: resolve})
	feed(b, 0, total/2)
	snap, err := b.e.AppendState(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newHarness(t, EngineConfig{Services: []Service{svc}, Resolve: resolve})
	c.now = b.now
	if err := c.e.LoadState(snap); err != nil {
		t.Fatal(err)
	}
	feed(c, total/2, total)
	at := t0 + total*minute
	want, got := a.e.EvaluateServices(Tenant{}, at), c.e.EvaluateServices(Tenant{}, at)
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("services: %d and %d", len(want), len(got))
	}
	if w, g := want[0], got[0]; w.WindowSlices != g.WindowSlices || w.Slices != g.Slices || w.Good != g.Good || w.Bad != g.Bad || w.SLA != g.SLA {
		t.Errorf("after a snapshot:\n got %+v %+v %d/%d %+v\nwant %+v %+v %d/%d %+v", g.WindowSlices, g.Slices, g.Good, g.Bad, g.SLA, w.WindowSlices, w.Slices, w.Good, w.Bad, w.SLA)
	}
	if want[0].WindowSlices.Bad == 0 || want[0].Slices.Good == 0 {
		t.Errorf("no bad slices: %+v", want[0].WindowSlices)
	}
	rw, rg := a.e.Evaluate(Tenant{}, at), c.e.Evaluate(Tenant{}, at)
	for i := range rw {
		if rw[i].WindowSlices != rg[i].WindowSlices || rw[i].Windows != rg[i].Windows {
			t.Errorf("route %s after a snapshot: %+v, want %+v", rw[i].Route, rg[i].WindowSlices, rw[i].WindowSlices)
		}
	}
}
