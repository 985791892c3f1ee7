package budget

import (
	"reflect"
	"testing"
)

// TestEvaluateYields: an evaluation calls EngineConfig.Yield between its
// chunks of routes, never with the tenant's lock held (a write of the
// tenant may run there), and yields the same statuses as one without
// Yield, also when a write lands between two chunks.
func TestEvaluateYields(t *testing.T) {
	const routes = 3*evalChunk + 5
	var e *Engine
	yields, held := 0, 0
	series := nginxSeries(routes, []string{"200", "503"})
	var at int64
	yield := func() {
		yields++
		if ts := e.lookupTenant(Tenant{}); ts.mu.TryLock() {
			ts.mu.Unlock()
		} else {
			held++
			return
		}
		// A write between the chunks, in the minute being evaluated: it
		// does not count in a window ending at that minute's start.
		e.Ingest(Tenant{}, series[0], []Sample{{Value: 1e6, Timestamp: at + 1000}})
	}
	e, at = newLoadedEngineWith(routes, EngineConfig{Yield: yield})
	plain, _ := newLoadedEngineWith(routes, EngineConfig{})
	got := e.Evaluate(Tenant{}, at)
	if want := (routes+evalChunk-1)/evalChunk - 1; yields != want {
		t.Fatalf("Yield was called %d times for %d routes, want %d (between chunks of %d)", yields, routes, want, evalChunk)
	}
	if held > 0 {
		t.Fatalf("Yield was called %d times with the tenant's lock held", held)
	}
	if want := plain.Evaluate(Tenant{}, at); !reflect.DeepEqual(got, want) {
		t.Fatal("the statuses of an evaluation that yields differ from those of one that does not")
	}
}
