package budget

import (
	"testing"
	"time"
)

func TestKnowsRoute(t *testing.T) {
	src := nginxSource()
	e := NewEngine(EngineConfig{Sources: []Source{src}, Now: func() time.Time { return time.UnixMilli(60_000) }})
	series := func(host, status string) []Label {
		return []Label{{Name: "__name__", Value: "nginx_ingress_controller_requests"}, {Name: "host", Value: host}, {Name: "ingress", Value: "web"},
			{Name: "instance", Value: "i1"}, {Name: "job", Value: "nginx"}, {Name: "namespace", Value: "shop"}, {Name: "path", Value: "/"}, {Name: "status", Value: status}}
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
	f(Tenant{}, []Label{{Name: "__name__", Value: "other"}, {Name: "host", Value: "a.example.com"}}, false)
}
