package budget

import (
	"math"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// TestEventTimeStray is the report this bound answers: a target counting
// normally, then one sample of a new series of the same job and instance
// at timestamp 0 (or 50 years ago). It made the target's start the epoch,
// and the first-value rule re-counted the old series' whole values as new
// requests (500,000 good and 20,000 bad at once).
func TestEventTimeStray(t *testing.T) {
	for _, ts := range []int64{0, -1, math.MinInt64, t0 - (50 * 365 * 24 * time.Hour).Milliseconds()} {
		h := newHarness(t, EngineConfig{})
		for i := int64(0); i < 10; i++ {
			h.put(req("a", "200", "i1"), t0+i*minute, float64(500_000+i*10_000))
			h.put(req("a", "500", "i1"), t0+i*minute, float64(20_000+i))
		}
		before := h.e.Stats()
		h.e.Ingest(Tenant{}, req("a", "503", "i1"), []Sample{{Value: 7, Timestamp: ts}})
		h.e.Ingest(Tenant{}, req("a", "200", "i1"), []Sample{{Value: 1, Timestamp: ts}})
		st := h.status(t0+time.Hour.Milliseconds(), "web", "a")
		if st.Good != 90_000 || st.Bad != 9 || st.Release != slo.ReleaseShip {
			t.Errorf("stray at %d: good %d bad %d release %s, want 90000 9 ship", ts, st.Good, st.Bad, st.Release)
		}
		s := h.e.Stats()
		if s.Past != 2 || s.Series != before.Series || s.Routes != before.Routes || s.FirstValueFixups != 0 {
			t.Errorf("stray at %d: stats %+v, want 2 past and the series and routes of before", ts, s)
		}
		if wm := h.e.Watermark(Tenant{}); wm != t0+9*minute {
			t.Errorf("stray at %d moved the watermark to %d", ts, wm)
		}
		// The target's start stayed: a new code is still counted in full.
		h.put(req("a", "504", "i1"), t0+10*minute, 5)
		if st := h.status(t0+time.Hour.Milliseconds(), "web", "a"); st.Bad != 14 {
			t.Errorf("stray at %d: bad %d after a new code, want 14", ts, st.Bad)
		}
	}
}

// TestEventTimeBounds: the bounds are exact, relative to the clock:
// Now()-LongestWindow-MinuteHorizon is accepted and a millisecond earlier
// is not; Reload takes a new LongestWindow over at once.
func TestEventTimeBounds(t *testing.T) {
	h := newHarness(t, EngineConfig{LongestWindow: 7 * 24 * time.Hour})
	h.now = t0 + 30*24*time.Hour.Milliseconds()
	oldest := h.now - (7*24*time.Hour + defaultMinuteHorizon).Milliseconds()
	f := func(name string, labels []Label, ts int64, wantPast, wantFuture uint64) {
		t.Helper()
		before := h.e.Stats()
		h.e.Ingest(Tenant{}, labels, []Sample{{Value: 1, Timestamp: ts}})
		if s := h.e.Stats(); s.Past-before.Past != wantPast || s.Future-before.Future != wantFuture {
			t.Errorf("%s: %d past, %d future, want %d %d", name, s.Past-before.Past, s.Future-before.Future, wantPast, wantFuture)
		}
	}
	f("a millisecond too old", req("a", "200", "i1"), oldest-1, 1, 0)
	f("the oldest accepted", req("a", "200", "i1"), oldest, 0, 0)
	f("the latest accepted", req("a", "200", "i2"), h.now+defaultMaxFuture.Milliseconds(), 0, 0)
	f("a millisecond ahead", req("a", "200", "i3"), h.now+defaultMaxFuture.Milliseconds()+1, 0, 1)
	// The clock moves on by a day, and the last reading is a day old: a
	// sample older than lateMs before it reads the clock again.
	h.now += 24 * time.Hour.Milliseconds()
	f("a day later, the former oldest", req("a", "200", "i4"), oldest, 1, 0)
	h.e.Reload(EngineConfig{Sources: []Source{webSource(), latencySource()}, LongestWindow: 30 * 24 * time.Hour})
	f("after a reload to 30d", req("a", "200", "i5"), oldest, 0, 0)
	if s := h.e.Stats(); s.Series != 3 {
		t.Errorf("%d series, want 3 (i1, i2, i5)", s.Series)
	}
}

// TestStrayInBoundsSnapshot: a single sample of a new series within the
// bounds but older than its target's start is a baseline, and stays one
// through a snapshot: LoadState rebuilds the target's start from the
// series of two points or more only.
func TestStrayInBoundsSnapshot(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	for i := int64(0); i < 10; i++ {
		h.put(req("a", "200", "i1"), t0+i*minute, float64(500_000+i*10_000))
		h.put(req("a", "500", "i1"), t0+i*minute, 20_000)
	}
	h.e.Ingest(Tenant{}, req("a", "503", "i1"), []Sample{{Value: 7, Timestamp: t0 - 10*24*time.Hour.Milliseconds()}})
	at := t0 + time.Hour.Milliseconds()
	if st := h.status(at, "web", "a"); st.Good != 90_000 || st.Bad != 0 {
		t.Errorf("good %d bad %d, want 90000 0", st.Good, st.Bad)
	}
	data, err := h.e.AppendState(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := NewEngine(EngineConfig{Sources: []Source{webSource(), latencySource()}, Now: h.e.now})
	if err := n.LoadState(data); err != nil {
		t.Fatal(err)
	}
	sameStatus(t, "loaded", h.e, n, at)
	if s := n.Stats(); s.FirstValueFixups != 0 || s.Series != 3 {
		t.Errorf("loaded stats %+v, want no fix-up and 3 series", s)
	}
}
