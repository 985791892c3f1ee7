package config

import (
	"slices"
	"testing"

	"github.com/slogate/slogate/budget"
)

func TestPresets(t *testing.T) {
	f := func(name, metric, status, bad, good string, routeLabels ...string) {
		t.Helper()
		s, ok := Preset(name)
		if !ok {
			t.Fatalf("no preset %s", name)
		}
		if s.Name != name || s.Metric != metric || s.StatusLabel != status || !slices.Equal(s.RouteLabels, routeLabels) {
			t.Fatalf("preset %s = %+v", name, s)
		}
		if s.Kind == budget.Latency {
			if s.Bad != nil || s.LE != 0 {
				t.Fatalf("latency preset %s must have no Bad and no LE: %+v", name, s)
			}
			return
		}
		if !s.Bad.MatchString(bad) || s.Bad.MatchString(good) || s.Bad.MatchString("1"+bad) {
			t.Fatalf("preset %s: Bad %v must match %q only", name, s.Bad, bad)
		}
	}
	f("ingress-nginx", "nginx_ingress_controller_requests", "status", "503", "404", "namespace", "ingress", "host", "path")
	f("traefik-service", "traefik_service_requests_total", "code", "502", "200", "service")
	f("traefik-router", "traefik_router_requests_total", "code", "500", "429", "router", "service")
	f("istio", "istio_requests_total", "response_code", "503", "0", "destination_service_namespace", "destination_service_name")
	f("envoy", "envoy_cluster_upstream_rq_xx", "envoy_response_code_class", "5", "4", "envoy_cluster_name")
	f("haproxy", "haproxy_backend_http_responses_total", "code", "5xx", "other", "proxy")
	f("caddy", "caddy_http_request_duration_seconds_count", "code", "504", "200", "server", "host", "handler")
	f("ingress-nginx-latency", "nginx_ingress_controller_request_duration_seconds_bucket", "", "", "", "namespace", "ingress", "host", "path")
	f("traefik-service-latency", "traefik_service_request_duration_seconds_bucket", "", "", "", "service")
	f("caddy-latency", "caddy_http_request_duration_seconds_bucket", "", "", "", "server", "host", "handler")

	// ingress-nginx with --report-status-classes writes "5xx".
	if s, _ := Preset("ingress-nginx"); !s.Bad.MatchString("5xx") {
		t.Fatalf("ingress-nginx must count status class 5xx as bad")
	}
	// Istio counts each request once, as the destination reported it.
	if s, _ := Preset("istio"); !s.Filter["reporter"].MatchString("destination") || s.Filter["reporter"].MatchString("source") {
		t.Fatalf("istio filter: %v", s.Filter)
	}
	if _, ok := Preset("nginx"); ok {
		t.Fatalf("unknown preset found")
	}
}

func TestPresetsAreFreshCopies(t *testing.T) {
	a := Presets()
	if len(a) != len(PresetNames()) || len(a) != 10 {
		t.Fatalf("got %d presets", len(a))
	}
	seen := map[string]bool{}
	for i, s := range a {
		if seen[s.Name] || s.Name != PresetNames()[i] {
			t.Fatalf("preset names not unique or out of order: %s", s.Name)
		}
		seen[s.Name] = true
	}
	a[0].RouteLabels[0] = "mutated"
	a[3].Filter["reporter"] = nil
	b := Presets()
	if b[0].RouteLabels[0] != "namespace" || b[3].Filter["reporter"] == nil {
		t.Fatalf("Presets shares memory between calls")
	}
}
