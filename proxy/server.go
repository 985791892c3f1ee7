// Package proxy is slogate's HTTP server (fasthttp): one route table for
// every path it serves, the write path (remote writes are checked, decoded
// and scanned, their original bytes forwarded, and the SLI series of
// accepted writes handed to the engine), the write guard (series named like
// slogate's synthetic series are dropped, VictoriaMetrics' admin paths
// refused: guard.go), admission (a byte budget for bodies, a body read
// deadline, write and pass-through slots: admit.go), the pass-through of
// every other path, health and self-metrics.
//
// Paths are normalised once, by fasthttp (percent-decoding, dot segments,
// duplicate slashes), and the same normalised path both picks the route and
// is forwarded: a path cannot look like one thing to slogate and another to
// VictoriaMetrics. It talks to VictoriaMetrics only through vmclient and
// serves slogate's own pages through the handlers package ui gives it; it
// must not import ui, synthetic, store or config.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/vmclient"
)

// Engine is the budget engine as the write path sees it.
type Engine interface {
	// Wants reports whether a metric name belongs to an SLI source. It is
	// called for every series on the wire and must not allocate.
	Wants(metricName []byte) bool
	// IngestWrite counts the kept series of a write the upstream has
	// accepted (a lazy scan: remotewrite.WriteRequest.Lazy). Their strings
	// alias a buffer that is reused after IngestWrite returns.
	IngestWrite(t budget.Tenant, series []remotewrite.TimeSeries)
}

// Config configures a Server. Zero fields take the defaults named.
type Config struct {
	// Client forwards every write and every passed-through request.
	// Required.
	Client *vmclient.Client
	// Engine receives the SLI series of accepted writes. Nil means a pure
	// proxy.
	Engine Engine
	// Journal makes the routes the engine created durable before a write
	// is acknowledged (the route journal, package store). Nil means none.
	Journal Journal
	// Routes are slogate's own paths (package ui): a key ending in "/" is a
	// prefix, whose longest match wins; any other key is an exact path.
	// Paths under /slogate/api/ count as "/slogate/api" in the
	// self-metrics, the others as "/slogate/".
	Routes map[string]fasthttp.RequestHandler
	// MaxRequestBodySize is the largest request body in bytes. Default
	// 32 MiB, as VictoriaMetrics' -maxInsertRequestSize.
	MaxRequestBodySize int
	// MaxDecompressedSize is the largest decompressed write in bytes.
	// Default 32 MiB (vmagent's blocks are at most 8 MiB decompressed by
	// default). A zstd frame that does not state its size is decoded until
	// it passes the limit, so a hostile one costs a few times this much
	// memory, briefly.
	MaxDecompressedSize int
	// Limits bound SLI series (labels per series, label length).
	Limits remotewrite.Limits
	// MaxConcurrentWrites bounds the writes being processed at once, and so
	// the memory they hold. Default 4 x GOMAXPROCS, at least 8.
	MaxConcurrentWrites int
	// QueueTimeout is how long a write waits for room in the body budget
	// and then for a slot, and a passed-through request for its slot,
	// before it gets a 503. Default 1m.
	QueueTimeout time.Duration
	// MaxBodyBytesInFlight bounds the bytes of write bodies held at once
	// (being read, waiting for a slot, or processed): each write reserves
	// its Content-Length before its body is read (admit.go). Default
	// 4 x MaxRequestBodySize.
	MaxBodyBytesInFlight int
	// BodyReadTimeout is how long the body of a write or a passed-through
	// request may take to arrive, from the end of its headers; a slower one
	// gets a 503 with Retry-After. Default 10s.
	BodyReadTimeout time.Duration
	// MaxConcurrentProxied bounds the passed-through requests (queries,
	// imports, exports) being served at once, and so their memory: each
	// holds its body (up to MaxRequestBodySize) and the upstream's answer.
	// Default 8.
	MaxConcurrentProxied int
	// RetryAfter is sent with a 503 when the upstream gave none. Default 5s.
	RetryAfter time.Duration
	// Reserved reports the metric names of slogate's own synthetic series:
	// series with such a name are dropped from every write before it is
	// forwarded, and counted (guard.go). It is called for every series and
	// must not allocate. Nil lets every name through (chained setups).
	Reserved func(name []byte) bool
	// AllowAdminPaths passes VictoriaMetrics' admin and internal paths
	// through (deniedPath); by default they are refused with 403.
	AllowAdminPaths bool
}

func (c *Config) defaults() {
	if c.MaxRequestBodySize <= 0 {
		c.MaxRequestBodySize = 32 << 20
	}
	if c.MaxDecompressedSize <= 0 {
		c.MaxDecompressedSize = 32 << 20
	}
	if c.MaxConcurrentWrites <= 0 {
		c.MaxConcurrentWrites = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = time.Minute
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	if c.MaxBodyBytesInFlight <= 0 {
		c.MaxBodyBytesInFlight = 4 * c.MaxRequestBodySize
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = 10 * time.Second
	}
	if c.MaxConcurrentProxied <= 0 {
		c.MaxConcurrentProxied = 8
	}
}

// Server is slogate's HTTP server.
type Server struct {
	cfg     Config
	routes  routeTable
	dec     *remotewrite.Decompressor
	slots   chan struct{}
	bodies  *byteBudget   // write bodies in memory (admit.go)
	proxied chan struct{} // slots of passed-through requests
	metrics *selfMetrics
	srv     *fasthttp.Server
	pool    sync.Pool // *writeState
	// proxyBufs holds *[]byte bodies of passed-through requests.
	proxyBufs sync.Pool
	// extra are written at /metrics after the server's own (AddMetrics).
	extra []MetricsWriter
}

// MetricsWriter writes Prometheus text metrics, as *metrics.Set does.
type MetricsWriter interface {
	WritePrometheus(w io.Writer)
}

// writeState is what one write needs, pooled so that the steady state
// allocates nothing.
type writeState struct {
	body []byte // the request body as received
	wr   remotewrite.WriteRequest
	// wants and reserved are the server's, for keep (guard.go); forged
	// is set when the write holds a reserved name.
	wants, reserved func([]byte) bool
	forged          bool
	// filtered and out are the body without reserved series, decompressed
	// and compressed (only for a write that holds some).
	filtered, out []byte
	// labels holds the decoded labels of one series for dropReserved.
	labels []remotewrite.Label
	// names are names keep asked the engine about in this write, with
	// the answers, at nameSlot.
	names [nameSlots]nameAnswer
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("cannot create server: no upstream client")
	}
	cfg.defaults()
	dec, err := remotewrite.NewDecompressor(cfg.MaxDecompressedSize)
	if err != nil {
		return nil, fmt.Errorf("cannot create server: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		dec:     dec,
		slots:   make(chan struct{}, cfg.MaxConcurrentWrites),
		bodies:  newByteBudget(int64(cfg.MaxBodyBytesInFlight)),
		proxied: make(chan struct{}, cfg.MaxConcurrentProxied),
	}
	s.metrics = newSelfMetrics(s.bodies.inUse)
	if err := s.routes.build(s.builtinRoutes(), cfg.Routes); err != nil {
		return nil, fmt.Errorf("cannot create server: %w", err)
	}
	s.srv = &fasthttp.Server{
		Handler:            s.Handle,
		Name:               "slogate",
		MaxRequestBodySize: cfg.MaxRequestBodySize,
		// Headers and the first 8 KiB of the body, which fasthttp reads
		// before the handler runs; the handler gives the rest of the body
		// as long again (setBodyDeadline).
		ReadTimeout:                  cfg.BodyReadTimeout,
		WriteTimeout:                 time.Minute,
		IdleTimeout:                  2 * time.Minute,
		ErrorHandler:                 s.serveReadError,
		DisablePreParseMultipartForm: true,
		// Bodies are streamed so that slogate reads them against its own
		// limit: a body over it is drained before the 413, so that the
		// sender, still writing, reads the answer instead of a reset
		// connection (which it would retry forever).
		StreamRequestBody: true,
		CloseOnShutdown:   true,
		Logger:            quietLogger{},
	}
	return s, nil
}

// serveReadError answers a request fasthttp could not read. A body over
// MaxRequestBodySize is refused from its Content-Length, before it is read.
func (s *Server) serveReadError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.rejected("too_large")
		ctx.Error("request body is larger than -maxRequestBodySize="+strconv.Itoa(s.cfg.MaxRequestBodySize)+" bytes\n", fasthttp.StatusRequestEntityTooLarge)
	case errors.As(err, &small):
		ctx.Error("request headers too large\n", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case isTimeout(err):
		// Too slow a sender: 503, which it retries, never a 4xx, on
		// which it would drop the data.
		// fasthttp has reset the request: its path is unknown here.
		s.metrics.readTimeouts.Inc()
		ctx.Error("request did not arrive within -write.bodyReadTimeout="+s.cfg.BodyReadTimeout.String()+"; retry later\n", fasthttp.StatusServiceUnavailable)
		ctx.Response.Header.Set("Retry-After", vmclient.RetryAfter(nil, s.cfg.RetryAfter))
		ctx.SetConnectionClose()
	default:
		ctx.Error("cannot read request: "+err.Error()+"\n", fasthttp.StatusBadRequest)
	}
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections and waits for the requests in flight
// to finish (their writes reach the upstream and the engine) or ctx to end.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// AddMetrics adds a metrics source shown at /metrics.
func (s *Server) AddMetrics(w MetricsWriter) { s.extra = append(s.extra, w) }

// Handle routes a request: slogate's own paths, else the pass-through.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	if r := s.routes.lookup(ctx.Path()); r != nil {
		r.handler(ctx)
		if r.class >= 0 {
			s.metrics.request(r.class, ctx.Response.StatusCode())
		}
		return
	}
	s.serveProxy(ctx)
}

// builtinRoutes are the write paths, health and metrics. Their handlers
// count their own requests (class -1).
func (s *Server) builtinRoutes() []route {
	return []route{
		{path: "/api/v1/write", class: -1, handler: func(ctx *fasthttp.RequestCtx) { s.serveWrite(ctx, routeWrite, budget.Tenant{}) }},
		{path: "/prometheus/api/v1/write", class: -1, handler: func(ctx *fasthttp.RequestCtx) { s.serveWrite(ctx, routePromWrite, budget.Tenant{}) }},
		{path: "/insert/", prefix: true, class: -1, handler: s.serveInsert},
		{path: "/health", class: routeHealth, handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.SetBodyString("OK")
		}},
		{path: "/metrics", class: routeMetrics, handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
			s.metrics.write(ctx)
			for _, w := range s.extra {
				w.WritePrometheus(ctx)
			}
		}},
	}
}

// serveInsert serves vminsert's write path of a tenant,
// /insert/<accountID>[:<projectID>]/prometheus/api/v1/write; every other
// /insert/ path (imports, other protocols) is passed through.
func (s *Server) serveInsert(ctx *fasthttp.RequestCtx) {
	rest := ctx.Path()[len("/insert/"):]
	tenant, tail, ok := bytes.Cut(rest, []byte("/"))
	if !ok || string(tail) != "prometheus/api/v1/write" {
		s.serveProxy(ctx)
		return
	}
	t, err := budget.ParseTenant(tenant)
	if err != nil {
		s.reject(ctx, routeInsertWrite, fasthttp.StatusBadRequest, "tenant", err.Error())
		return
	}
	s.serveWrite(ctx, routeInsertWrite, t)
}

// reject answers a write that slogate refuses itself, with a one-line
// reason. Senders drop data on 400/413/415 (it would fail again) and retry
// on 503.
func (s *Server) reject(ctx *fasthttp.RequestCtx, route, code int, reason, msg string) {
	s.rejected(reason)
	ctx.Error(msg+"\n", code)
	s.metrics.request(route, code)
}

func (s *Server) rejected(reason string) {
	if c := s.metrics.rejected[reason]; c != nil {
		c.Inc()
	}
}

// quietLogger drops fasthttp's own log lines (connection errors from
// clients); the self-metrics count what matters.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
