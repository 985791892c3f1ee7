package budget

import (
	"testing"
	"time"
)

// The hot path must not allocate: Wants runs for every series on the wire,
// Ingest for every SLI series. Only a series seen for the first time (or a
// new route, target, tenant) may allocate.

func TestWantsAllocs(t *testing.T) {
	e := NewEngine(EngineConfig{Sources: []Source{webSource(), latencySource()}})
	names := [][]byte{[]byte("http_requests_total"), []byte("go_goroutines")}
	if n := testing.AllocsPerRun(1000, func() {
		for _, name := range names {
			e.Wants(name)
		}
	}); n != 0 {
		t.Errorf("Wants: %v allocs per run, want 0", n)
	}
	if !e.Wants(names[0]) || e.Wants(names[1]) {
		t.Error("Wants answers wrong")
	}
}

func TestIngestAllocs(t *testing.T) {
	now := t0
	e := NewEngine(EngineConfig{Sources: []Source{webSource(), latencySource()},
		Now: func() time.Time { return time.UnixMilli(now) }})
	// A maintenance window over the route: advancing the ring asks the
	// mask for intervals, into a reused buffer.
	e.SetMasks([]Mask{&testMask{match: map[string]string{"host": "a"},
		ivs: []Interval{{Start: t0, End: t0 + 365*24*time.Hour.Milliseconds()}}}})
	good, bad := req("a", "200", "i1"), req("a", "500", "i1")
	bucket := []Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "host", Value: "a"},
		{Name: "instance", Value: "i1"}, {Name: "job", Value: "ingress"}, {Name: "le", Value: "0.5"}}
	ignored := []Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "host", Value: "a"},
		{Name: "instance", Value: "i1"}, {Name: "job", Value: "ingress"}, {Name: "le", Value: "0.1"}}
	// Samples out of the event-time bounds, of a known and of a new series
	// (not created), and a late one (the clock is read).
	stray, strayNew := []Sample{{Value: 9, Timestamp: 0}, {Value: 9, Timestamp: 1 << 62}}, req("a", "502", "i1")
	late := make([]Sample, 1)
	samples := make([]Sample, 3)
	v := 0.0
	step := func() {
		now += 15_000
		v += 7
		// Two points in order, then one reordered and one duplicate.
		samples[0] = Sample{Value: v, Timestamp: now - 5000}
		samples[1] = Sample{Value: v + 3, Timestamp: now}
		samples[2] = Sample{Value: v + 1, Timestamp: now - 2000}
		for _, l := range [][]Label{good, bad, bucket, ignored} {
			e.Ingest(Tenant{}, l, samples[:2])
			e.Ingest(Tenant{}, l, samples[2:3])
			e.Ingest(Tenant{}, l, samples[1:2])
		}
		late[0] = Sample{Value: v, Timestamp: now - 2*time.Hour.Milliseconds()}
		e.Ingest(Tenant{}, good, late)
		e.Ingest(Tenant{}, good, stray)
		e.Ingest(Tenant{}, strayNew, stray)
	}
	for range 100 { // create series, route, target, grow the interval buffer
		step()
	}
	if n := testing.AllocsPerRun(2000, step); n != 0 {
		t.Errorf("Ingest of known series: %v allocs per run, want 0", n)
	}
	if s := e.Stats(); s.Reorders == 0 || s.Duplicates == 0 || s.Series != 3 {
		t.Errorf("stats %+v: the test does not exercise reorders and duplicates", s)
	}
}
