package budget

import "testing"

func TestKnowsRoute(t *testing.T) {
	src, _ := Preset("ingress-nginx")
	e := NewEngine(EngineConfig{Sources: []Source{src}})
	series := func(host, status string) []Label {
		return []Label{{"__name__", "nginx_ingress_controller_requests"}, {"host", host}, {"ingress", "web"},
			{"instance", "i1"}, {"job", "nginx"}, {"namespace", "shop"}, {"path", "/"}, {"status", status}}
	}
	e.Ingest(Tenant{}, series("a.example.com", "200"), []Sample{{Value: 1, Timestamp: 60_000}})
	f := func(tn Tenant, labels []Label, want bool) {
		t.Helper()
		if got := e.KnowsRoute(tn, labels); got != want {
			t.Fatalf("KnowsRoute(%v, %v) = %v, want %v", tn, labels, got, want)
		}
	}
	f(Tenant{}, series("a.example.com", "503"), true) // another series of a known route
	f(Tenant{}, series("b.example.com", "200"), false)
	f(Tenant{AccountID: 1}, series("a.example.com", "200"), false)
	f(Tenant{}, []Label{{"__name__", "other"}, {"host", "a.example.com"}}, false)
}
