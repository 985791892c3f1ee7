package budget

import (
	"math"
	"slices"
	"testing"
	"time"
)

// TestNewRouteHook: EngineConfig.NewRoute hears of every route an Ingest
// call created, with the earliest point accepted, and again when a
// reordered point moves the route's first event earlier; not of a later
// series of a known route, nor of a series no route takes (another bucket,
// filtered out, over the route cap), nor of a route whose points were all
// refused. HasRoute and RouteKeys know the route by the same identity.
func TestNewRouteHook(t *testing.T) {
	src := nginxSource()
	src.MaxRoutes = 2
	var got []NewRoute
	// The points are minutes after 1970: the clock must be there too, or
	// they are older than any window and refused.
	now := func() time.Time { return time.UnixMilli(300_000) }
	e := NewEngine(EngineConfig{Sources: []Source{src}, Now: now, NewRoute: func(r NewRoute) { got = append(got, r) }})
	series := func(host, status string) []Label {
		return []Label{{Name: "__name__", Value: "nginx_ingress_controller_requests"}, {Name: "host", Value: host}, {Name: "ingress", Value: "web"},
			{Name: "instance", Value: "i1"}, {Name: "job", Value: "nginx"}, {Name: "namespace", Value: "shop"}, {Name: "path", Value: "/"}, {Name: "status", Value: status}}
	}
	tn := Tenant{AccountID: 3, ProjectID: 4}
	e.Ingest(tn, series("a.example.com", "200"), []Sample{{Value: 5, Timestamp: 180_000}, {Value: 1, Timestamp: 120_000}})
	if len(got) != 1 {
		t.Fatalf("first series of a route: %d calls, want 1", len(got))
	}
	r := got[0]
	wantLabels := []Label{{Name: "namespace", Value: "shop"}, {Name: "ingress", Value: "web"}, {Name: "host", Value: "a.example.com"}, {Name: "path", Value: "/"}}
	if r.Tenant != tn || r.Source != src.Name || r.First != 120_000 || !slices.Equal(r.Labels, wantLabels) {
		t.Fatalf("got %+v, want tenant %v, source %s, first 120000, labels %v", r, tn, src.Name, wantLabels)
	}
	e.Ingest(tn, series("a.example.com", "503"), []Sample{{Value: 1, Timestamp: 240_000}})
	e.Ingest(tn, series("a.example.com", "200"), []Sample{{Value: 9, Timestamp: 240_000}})
	e.Ingest(tn, series("b.example.com", "200"), []Sample{{Value: 1, Timestamp: 240_000}})
	e.Ingest(tn, series("c.example.com", "200"), []Sample{{Value: 1, Timestamp: 240_000}}) // over MaxRoutes
	e.Ingest(tn, []Label{{Name: "__name__", Value: "other_metric"}, {Name: "host", Value: "d.example.com"}}, []Sample{{Value: 1, Timestamp: 240_000}})
	if len(got) != 2 || got[1].Labels[2].Value != "b.example.com" || got[1].First != 240_000 {
		t.Fatalf("after more series: %+v, want one more call, for b.example.com at 240000", got)
	}
	// A reordered block, older than the one that created the route.
	e.Ingest(tn, series("b.example.com", "404"), []Sample{{Value: 1, Timestamp: 230_000}})
	e.Ingest(tn, series("b.example.com", "200"), []Sample{{Value: 1, Timestamp: 235_000}})
	e.Ingest(tn, series("b.example.com", "200"), []Sample{{Value: 1, Timestamp: 250_000}})
	if len(got) != 3 || got[2].Labels[2].Value != "b.example.com" || got[2].First != 230_000 {
		t.Fatalf("after a reordered block: %+v, want one more call, for b.example.com at 230000", got)
	}
	// Nothing accepted (NaN), no first event: not told.
	src.MaxRoutes = 0
	e2 := NewEngine(EngineConfig{Sources: []Source{src}, Now: now, NewRoute: func(r NewRoute) { got = append(got, r) }})
	e2.Ingest(tn, series("e.example.com", "200"), []Sample{{Value: math.NaN(), Timestamp: 240_000}})
	if len(got) != 3 {
		t.Fatalf("a route without an accepted point was told: %+v", got[3:])
	}
	e2.Ingest(tn, series("e.example.com", "200"), []Sample{{Value: 2, Timestamp: 250_000}})
	if len(got) != 4 || got[3].First != 250_000 {
		t.Fatalf("the route's first accepted point: %+v, want one call at 250000", got[3:])
	}
	if !e.HasRoute(tn, src.Name, r.Labels) || e.HasRoute(Tenant{}, src.Name, r.Labels) || e.HasRoute(tn, "traefik", r.Labels) {
		t.Fatal("HasRoute does not know the route by tenant, source and labels")
	}
	if keys := e.RouteKeys(nil, series("a.example.com", "404")); !slices.Equal(keys, []string{r.Key()}) {
		t.Fatalf("RouteKeys = %q, want [%q]", keys, r.Key())
	}
	if keys := e.RouteKeys(nil, series("c.example.com", "200")); len(keys) != 1 || keys[0] == r.Key() {
		t.Fatalf("RouteKeys of another route = %q", keys)
	}
}
