package config

import (
	"regexp"
	"slices"

	"github.com/slogate/slogate/budget"
)

// preset is the immutable description of a built-in source. Presets() turns
// it into a fresh Source, so callers may modify what they get.
type preset struct {
	name        string
	kind        budget.SLIKind
	metric      string
	routeLabels []string
	statusLabel string
	bad         string            // unanchored; anchored when compiled
	filter      map[string]string // label -> unanchored regexp
}

// presetTable lists the built-in sources, availability presets first. The
// metric and label names are the controllers' own; the comment above each
// entry says where they come from. Latency presets have no LE: they are only
// enabled by a config that names them with a bucket boundary.
var presetTable = [...]preset{
	// ingress-nginx, internal/ingress/metric/collectors/socket.go (the
	// "requests" counter in namespace nginx_ingress_controller, labels
	// status, method, path, namespace, ingress, service, canary, plus host
	// with --metrics-per-host, the default) and rootfs/etc/nginx/lua/monitor.lua
	// (path is the Ingress rule's location path, not the request URI, so it
	// is bounded). status is "503", or "5xx" with --report-status-classes:
	// "5.." matches both.
	{
		name:        "ingress-nginx",
		kind:        budget.Availability,
		metric:      "nginx_ingress_controller_requests",
		routeLabels: []string{"namespace", "ingress", "host", "path"},
		statusLabel: "status",
		bad:         "5..",
	},
	// Traefik, docs "Observability / Metrics" (service metrics, Prometheus
	// names) and pkg/metrics/prometheus.go: traefik_service_requests_total
	// {code, method, protocol, service}; needs addServicesLabels (default on).
	{
		name:        "traefik-service",
		kind:        budget.Availability,
		metric:      "traefik_service_requests_total",
		routeLabels: []string{"service"},
		statusLabel: "code",
		bad:         "5..",
	},
	// Traefik, same sources: traefik_router_requests_total {code, method,
	// protocol, router, service}; needs addRoutersLabels (default off).
	{
		name:        "traefik-router",
		kind:        budget.Availability,
		metric:      "traefik_router_requests_total",
		routeLabels: []string{"router", "service"},
		statusLabel: "code",
		bad:         "5..",
	},
	// Istio, "Istio Standard Metrics" reference: istio_requests_total with
	// reporter ("source" | "destination"), destination_service_namespace,
	// destination_service_name, response_code. Every request through two
	// sidecars is reported twice; keeping reporter="destination" counts it
	// once, as the server saw it.
	{
		name:        "istio",
		kind:        budget.Availability,
		metric:      "istio_requests_total",
		routeLabels: []string{"destination_service_namespace", "destination_service_name"},
		statusLabel: "response_code",
		bad:         "5..",
		filter:      map[string]string{"reporter": "destination"},
	},
	// Envoy (also Envoy Gateway, Contour), cluster manager statistics
	// "upstream_rq_<*xx>" as exported on /stats/prometheus with Envoy's
	// default tag extraction: envoy_cluster_upstream_rq_xx
	// {envoy_cluster_name, envoy_response_code_class="1".."5"}.
	{
		name:        "envoy",
		kind:        budget.Availability,
		metric:      "envoy_cluster_upstream_rq_xx",
		routeLabels: []string{"envoy_cluster_name"},
		statusLabel: "envoy_response_code_class",
		bad:         "5",
	},
	// HAProxy, built-in Prometheus exporter (addons/promex README and
	// service-prometheus.c): haproxy_backend_http_responses_total {proxy,
	// code="1xx".."5xx"|"other"}.
	{
		name:        "haproxy",
		kind:        budget.Availability,
		metric:      "haproxy_backend_http_responses_total",
		routeLabels: []string{"proxy"},
		statusLabel: "code",
		bad:         "5xx",
	},
	// Caddy, modules/caddyhttp/metrics.go: histogram
	// caddy_http_request_duration_seconds {server, handler, code, method,
	// host (with per_host)}; its _count series counts requests. Caddy has
	// no status label on caddy_http_requests_total, hence the histogram.
	{
		name:        "caddy",
		kind:        budget.Availability,
		metric:      "caddy_http_request_duration_seconds_count",
		routeLabels: []string{"server", "host", "handler"},
		statusLabel: "code",
		bad:         "5..",
	},
	// Latency presets: the same controllers' request duration histograms
	// (seconds). Buckets are the controllers' defaults unless reconfigured;
	// LE must be one of the boundaries the controller exports.

	// ingress-nginx, socket.go: "request_duration_seconds" histogram with
	// the same request labels as the requests counter.
	{
		name:        "ingress-nginx-latency",
		kind:        budget.Latency,
		metric:      "nginx_ingress_controller_request_duration_seconds_bucket",
		routeLabels: []string{"namespace", "ingress", "host", "path"},
	},
	// Traefik, pkg/metrics/prometheus.go: traefik_service_request_duration_seconds
	// {code, method, protocol, service}; default buckets 0.1, 0.3, 1.2, 5.
	{
		name:        "traefik-service-latency",
		kind:        budget.Latency,
		metric:      "traefik_service_request_duration_seconds_bucket",
		routeLabels: []string{"service"},
	},
	// Caddy, metrics.go: caddy_http_request_duration_seconds with
	// Prometheus' default buckets (0.005 ... 10).
	{
		name:        "caddy-latency",
		kind:        budget.Latency,
		metric:      "caddy_http_request_duration_seconds_bucket",
		routeLabels: []string{"server", "host", "handler"},
	},
}

// Presets returns fresh copies of every built-in source, availability
// presets first. Latency presets come with LE = 0: they are not enabled
// until a config names them with a bucket boundary.
func Presets() []budget.Source {
	out := make([]budget.Source, len(presetTable))
	for i := range presetTable {
		out[i] = presetTable[i].source()
	}
	return out
}

// PresetNames returns the names of the built-in sources in table order.
func PresetNames() []string {
	out := make([]string, len(presetTable))
	for i := range presetTable {
		out[i] = presetTable[i].name
	}
	return out
}

// Preset returns a fresh copy of the built-in source with the given name.
func Preset(name string) (budget.Source, bool) {
	for i := range presetTable {
		if presetTable[i].name == name {
			return presetTable[i].source(), true
		}
	}
	return budget.Source{}, false
}

// defaultSources are the sources of a config without `presets`: every
// availability preset.
func defaultSources() []budget.Source {
	var out []budget.Source
	for i := range presetTable {
		if presetTable[i].kind == budget.Availability {
			out = append(out, presetTable[i].source())
		}
	}
	return out
}

func (p *preset) source() budget.Source {
	s := budget.Source{
		Name:        p.name,
		Kind:        p.kind,
		Metric:      p.metric,
		RouteLabels: slices.Clone(p.routeLabels),
		StatusLabel: p.statusLabel,
	}
	if p.bad != "" {
		// The table is a literal: a bad pattern is a programming error.
		s.Bad = regexp.MustCompile(anchor(p.bad))
	}
	if len(p.filter) > 0 {
		s.Filter = make(map[string]*regexp.Regexp, len(p.filter))
		for k, v := range p.filter {
			s.Filter[k] = regexp.MustCompile(anchor(v))
		}
	}
	return s
}

// anchor makes a user pattern match whole values only.
func anchor(re string) string {
	return "^(?:" + re + ")$"
}
