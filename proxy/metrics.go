package proxy

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// route classes for the per-path request counter.
const (
	routeWrite = iota
	routePromWrite
	routeInsertWrite
	routeAPI
	routePage
	routeMetrics
	routeHealth
	routeProxy
	numRoutes
)

var routeNames = [numRoutes]string{
	routeWrite:       "/api/v1/write",
	routePromWrite:   "/prometheus/api/v1/write",
	routeInsertWrite: "/insert/{tenant}/prometheus/api/v1/write",
	routeAPI:         "/slogate/api",
	routePage:        "/slogate/",
	routeMetrics:     "/metrics",
	routeHealth:      "/health",
	routeProxy:       "proxied",
}

// selfMetrics are slogate's metrics about itself, in their own Set: no
// package-level state, so several servers can live in one process (tests).
type selfMetrics struct {
	set *metrics.Set

	// requests[route][code] is created on first use.
	requests [numRoutes][600]atomic.Pointer[metrics.Counter]

	bytesIn          *metrics.Counter
	bytesForwarded   *metrics.Counter
	seriesReceived   *metrics.Counter
	sliSeries        *metrics.Counter
	sliSamples       *metrics.Counter
	sliRefused       *metrics.Counter
	syntheticRefused *metrics.Counter
	adminRefused     *metrics.Counter
	proxyRefused     map[string]*metrics.Counter // by reason; admin_path is adminRefused
	upstreamDuration *metrics.Histogram
	upstreamErrors   map[string]*metrics.Counter
	rejected         map[string]*metrics.Counter
	inflight         atomic.Int64
	proxyInflight    atomic.Int64
	// readTimeouts are requests whose headers or first 8 KiB of body did
	// not arrive in time, before any route was chosen.
	readTimeouts *metrics.Counter
}

func newSelfMetrics(bodyBytes func() int64) *selfMetrics {
	s := metrics.NewSet()
	m := &selfMetrics{
		set:              s,
		bytesIn:          s.NewCounter(`slogate_write_received_bytes_total`),
		bytesForwarded:   s.NewCounter(`slogate_write_forwarded_bytes_total`),
		seriesReceived:   s.NewCounter(`slogate_write_series_total`),
		sliSeries:        s.NewCounter(`slogate_sli_series_total`),
		sliSamples:       s.NewCounter(`slogate_sli_samples_total`),
		sliRefused:       s.NewCounter(`slogate_sli_series_refused_total{reason="limits"}`),
		syntheticRefused: s.NewCounter(`slogate_write_synthetic_refused_total`),
		adminRefused:     s.NewCounter(`slogate_proxy_refused_total{reason="admin_path"}`),
		proxyRefused:     map[string]*metrics.Counter{},
		readTimeouts:     s.NewCounter(`slogate_http_read_timeouts_total`),
		upstreamDuration: s.NewHistogram(`slogate_upstream_request_duration_seconds`),
		upstreamErrors:   map[string]*metrics.Counter{},
		rejected:         map[string]*metrics.Counter{},
	}
	for _, r := range []string{"connect", "timeout", "too_large", "5xx", "429", "4xx"} {
		m.upstreamErrors[r] = s.NewCounter(fmt.Sprintf(`slogate_upstream_errors_total{reason=%q}`, r))
	}
	for _, r := range []string{"encoding", "too_large", "malformed", "method", "tenant", "overloaded", "read_timeout", "read_error", "journal"} {
		m.rejected[r] = s.NewCounter(fmt.Sprintf(`slogate_write_rejected_total{reason=%q}`, r))
	}
	for _, r := range []string{"overloaded", "too_large", "read_timeout", "read_error"} {
		m.proxyRefused[r] = s.NewCounter(fmt.Sprintf(`slogate_proxy_refused_total{reason=%q}`, r))
	}
	s.NewGauge(`slogate_write_inflight_requests`, func() float64 { return float64(m.inflight.Load()) })
	s.NewGauge(`slogate_write_body_bytes_inflight`, func() float64 { return float64(bodyBytes()) })
	s.NewGauge(`slogate_proxy_inflight_requests`, func() float64 { return float64(m.proxyInflight.Load()) })
	return m
}

// request counts one answered request.
func (m *selfMetrics) request(route, code int) {
	if code < 100 || code >= 600 {
		code = 599
	}
	p := &m.requests[route][code]
	c := p.Load()
	if c == nil {
		c = m.set.GetOrCreateCounter(fmt.Sprintf(`slogate_http_requests_total{path=%q,code="%d"}`, routeNames[route], code))
		p.Store(c)
	}
	c.Inc()
}

// write writes the metrics in Prometheus text format, with the process
// metrics (CPU, RSS, goroutines) after them.
func (m *selfMetrics) write(w io.Writer, extra ...*metrics.Set) {
	m.set.WritePrometheus(w)
	for _, s := range extra {
		s.WritePrometheus(w)
	}
	metrics.WriteProcessMetrics(w)
}
