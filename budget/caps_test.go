package budget

import (
	"strconv"
	"testing"
	"time"
)

// TestEngineCaps: the route cap holds across tenants and sources, the
// tenant cap refuses new tenants, forgotten routes make room again, and a
// snapshot load recounts.
func TestEngineCaps(t *testing.T) {
	h := newHarness(t, EngineConfig{MaxRoutes: 5, MaxTenants: 3, Resolve: func(src *Source, _ []Label) Objective {
		o := DefaultObjective(src)
		o.Window.Length = 24 * time.Hour
		return o
	}})
	for tenant := range uint32(4) {
		for host := range 3 {
			h.e.Ingest(Tenant{AccountID: tenant}, req("h"+strconv.Itoa(host), "200", "i1"), []Sample{{Value: 1, Timestamp: t0}})
		}
	}
	st := h.e.Stats()
	if st.Routes != 5 || st.RoutesRefusedTotal != 4 || st.TenantsRefused != 3 || len(h.e.Tenants()) != 3 {
		t.Fatalf("stats %+v, %d tenants; want 5 routes, 4 refused by the total cap, 3 series of a 4th tenant refused, 3 tenants", st, len(h.e.Tenants()))
	}
	if st.RoutesRefused != 0 {
		t.Fatalf("the per-source cap refused %d", st.RoutesRefused)
	}

	// A snapshot load recounts (it replaces the routes wholesale).
	snap, err := h.e.AppendState(nil)
	if err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, EngineConfig{MaxRoutes: 5})
	if err := h2.e.LoadState(snap); err != nil {
		t.Fatal(err)
	}
	h2.e.Ingest(Tenant{AccountID: 9}, req("new", "200", "i1"), []Sample{{Value: 1, Timestamp: t0}})
	if st := h2.e.Stats(); st.Routes != 5 || st.RoutesRefusedTotal != 1 {
		t.Fatalf("after LoadState: %+v, want the 5 loaded routes and the new one refused", st)
	}

	// Tenant 0's routes are forgotten after their 24h window: room for new
	// routes in any tenant.
	later := t0 + 25*time.Hour.Milliseconds()
	h.now = later
	h.e.Ingest(Tenant{AccountID: 0}, req("h0", "200", "i1"), []Sample{{Value: 2, Timestamp: later}})
	h.e.Evaluate(Tenant{AccountID: 0}, later)
	h.e.Ingest(Tenant{AccountID: 1}, req("x", "200", "i1"), []Sample{{Value: 1, Timestamp: later}})
	h.e.Ingest(Tenant{AccountID: 1}, req("y", "200", "i1"), []Sample{{Value: 1, Timestamp: later}})
	if st := h.e.Stats(); st.RoutesForgotten != 2 || st.Routes != 5 || st.RoutesRefusedTotal != 4 {
		t.Fatalf("after forgetting: %+v, want 2 forgotten, 5 routes, no new refusal", st)
	}
}
