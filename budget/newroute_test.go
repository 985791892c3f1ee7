package budget

import (
	"slices"
	"testing"
)

// TestNewRouteHook: EngineConfig.NewRoute hears of every route an Ingest
// call created, once, with the earliest sample time of that call; not of a
// new series of a known route, nor of a series no route takes (another
// bucket, filtered out, over the route cap). HasRoute and RouteKeys know
// the route by the same identity.
func TestNewRouteHook(t *testing.T) {
	src := nginxSource()
	src.MaxRoutes = 2
	var got []NewRoute
	e := NewEngine(EngineConfig{Sources: []Source{src}, NewRoute: func(r NewRoute) { got = append(got, r) }})
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
	if len(got) != 2 || got[1].Labels[2].Value != "b.example.com" {
		t.Fatalf("after more series: %+v, want one more call, for b.example.com", got)
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
