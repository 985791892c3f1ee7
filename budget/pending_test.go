package budget

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// TestDeferredMatchesDirect: the deferred contributions of the head
// minute (tenantState.pending) give the state that applying every
// contribution at once gives. One engine runs as it does; the other
// flushes after every sample, as a reader would, so nothing stays
// deferred across samples there. The stream has reorders, duplicates,
// resets and jumps that saturate a minute's 32-bit counts, on few routes
// so that their minutes take many contributions.
func TestDeferredMatchesDirect(t *testing.T) {
	var cancels uint64
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		series := nginxSeries(3, []string{"200", "404", "503"})
		now := time.Now().UnixMilli()
		cfg := EngineConfig{Sources: []Source{nginxSource()}, Now: func() time.Time { return time.UnixMilli(now) }}
		lazy, eager := NewEngine(cfg), NewEngine(cfg)
		type event struct {
			j  int
			at int64
			v  float64
		}
		var events []event
		ts := now - 6*time.Hour.Milliseconds()
		vals := make([]float64, len(series))
		for range 3000 {
			j := rng.IntN(len(series))
			ts += int64(rng.IntN(20_000))
			switch k := rng.IntN(20); {
			case k == 0:
				vals[j] = float64(rng.IntN(10)) // reset
			case k < 3:
				vals[j] += float64(uint64(1) << (28 + rng.IntN(8))) // saturates the minute
			default:
				vals[j] += float64(rng.IntN(50))
			}
			events = append(events, event{j, ts, vals[j]})
			if rng.IntN(10) == 0 {
				events = append(events, events[rng.IntN(len(events))]) // a duplicate
			}
		}
		for i := range events { // reorder: move some events later
			if k := i + 1 + rng.IntN(12); rng.IntN(3) == 0 && k < len(events) {
				events[i], events[k] = events[k], events[i]
			}
		}
		deferred := 0
		for _, ev := range events {
			smp := []Sample{{Value: ev.v, Timestamp: ev.at}}
			lazy.Ingest(Tenant{}, series[ev.j], smp)
			eager.Ingest(Tenant{}, series[ev.j], smp)
			te := eager.lookupTenant(Tenant{})
			te.lock()
			te.mu.Unlock()
			deferred += len(lazy.lookupTenant(Tenant{}).pending)
		}
		if deferred == 0 {
			t.Fatalf("seed %d: nothing was deferred", seed)
		}
		cancels += lazy.lookupTenant(Tenant{}).cancels
		if seed == 19 && cancels == 0 {
			t.Fatalf("no reorder took its change off a deferred sum in %d seeds", seed+1)
		}
		if sat := saturatedMinutes(lazy); sat == 0 {
			t.Fatalf("seed %d: no minute saturated", seed)
		}
		sameState(t, lazy, eager)
		a, b := lazy.Evaluate(Tenant{}, ts), eager.Evaluate(Tenant{}, ts)
		if len(a) != len(b) || len(a) == 0 {
			t.Fatalf("seed %d: %d and %d routes", seed, len(a), len(b))
		}
		for i := range a {
			if a[i].Good != b[i].Good || a[i].Bad != b[i].Bad || a[i].Windows != b[i].Windows {
				t.Fatalf("seed %d: route %s: good %d bad %d deferred, %d %d direct", seed, a[i].Route, a[i].Good, a[i].Bad, b[i].Good, b[i].Bad)
			}
		}
	}
}

// saturatedMinutes counts the ring minutes of e's routes whose total is
// 2^32-1.
func saturatedMinutes(e *Engine) int {
	ts := e.lookupTenant(Tenant{})
	ts.lock()
	defer ts.mu.Unlock()
	n := 0
	for _, routes := range ts.routes {
		for _, r := range routes {
			for m := r.b.ringStart(); m <= r.b.head; m++ {
				if _, total := r.b.ring.get(m); total == 1<<32-1 {
					n++
				}
			}
		}
	}
	return n
}

// TestRouteSize: a route stays in the Go heap's 704-byte size class; the
// next one is 768 bytes, 1.3 MB more of live heap at 20,000 routes, twice
// that in RSS with the default GOGC. The deferred contributions are kept
// small for this (deferEvents).
func TestRouteSize(t *testing.T) {
	if n := unsafe.Sizeof(route{}); n > 704 {
		t.Fatalf("route takes %d bytes, over the 704-byte size class", n)
	}
}
