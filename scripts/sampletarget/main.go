// Command sampletarget serves synthetic ingress-nginx request counters for
// the demo (make demo): a few routes taking steady traffic with a small
// share of 5xx, and one route that has an incident (a fifth of its requests
// fail) for one minute in every ten, so error budgets visibly burn.
//
// Counters grow with wall time at each route's request rate, so any scrape
// interval sees plausible increments. Only the standard library is used.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "sampletarget: %s\n", err)
		os.Exit(1)
	}
}

// route is one ingress route with its traffic profile.
type route struct {
	namespace, ingress, host, path, service, method string

	rps        float64 // requests per second
	errorRatio float64 // share of 5xx outside incidents
	incident   bool    // fails 20% of requests in the first minute of every 10
}

var routes = []route{
	{"shop", "web", "shop.example.com", "/", "web", "GET", 50, 0.0002, false},
	{"shop", "web", "shop.example.com", "/cart", "web", "POST", 8, 0.002, false},
	{"api", "api", "api.example.com", "/api/v1/orders", "orders", "POST", 20, 0.0005, true},
	{"api", "api", "api.example.com", "/api/v1/search", "search", "GET", 35, 0.0001, false},
}

// Shares of the statuses that are not 5xx, and how 5xx split.
var (
	okStatuses  = []statusShare{{"200", 0.97}, {"301", 0.01}, {"404", 0.02}}
	errStatuses = []statusShare{{"500", 0.5}, {"502", 0.2}, {"503", 0.3}}
)

type statusShare struct {
	status string
	share  float64
}

// counters accumulates fractional request counts per series key; the
// exposition shows their integer part, so counters only ever grow.
type counters struct {
	mu    sync.Mutex
	last  time.Time
	count map[string]float64
	start time.Time
}

func newCounters(now time.Time) *counters {
	return &counters{last: now, start: now, count: map[string]float64{}}
}

// advance adds the requests of every route between the last call and now.
func (c *counters) advance(now time.Time) {
	dt := now.Sub(c.last).Seconds()
	if dt <= 0 {
		return
	}
	c.last = now
	inIncident := int(now.Sub(c.start).Minutes())%10 == 0
	for _, r := range routes {
		errRatio := r.errorRatio
		if r.incident && inIncident {
			errRatio = 0.2
		}
		n := r.rps * dt
		for _, s := range okStatuses {
			c.count[seriesKey(r, s.status)] += n * (1 - errRatio) * s.share
		}
		for _, s := range errStatuses {
			c.count[seriesKey(r, s.status)] += n * errRatio * s.share
		}
	}
}

// seriesKey returns the labels of the ingress-nginx request counter.
func seriesKey(r route, status string) string {
	return fmt.Sprintf(`namespace=%q,ingress=%q,host=%q,path=%q,status=%q,controller_pod="ingress-nginx-controller-0",method=%q,service=%q`,
		r.namespace, r.ingress, r.host, r.path, status, r.method, r.service)
}

// writeTo writes the Prometheus text exposition.
func (c *counters) writeTo(w io.Writer, now time.Time) {
	c.mu.Lock()
	c.advance(now)
	keys := make([]string, 0, len(c.count))
	for k := range c.count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# HELP nginx_ingress_controller_requests The total number of client requests\n")
	b.WriteString("# TYPE nginx_ingress_controller_requests counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "nginx_ingress_controller_requests{%s} %.0f\n", k, math.Floor(c.count[k]))
	}
	c.mu.Unlock()
	b.WriteString("# HELP nginx_ingress_controller_nginx_process_connections current number of client connections\n")
	b.WriteString("# TYPE nginx_ingress_controller_nginx_process_connections gauge\n")
	fmt.Fprintf(&b, "nginx_ingress_controller_nginx_process_connections{controller_pod=\"ingress-nginx-controller-0\",state=\"active\"} %d\n", 40+now.Second()%7)
	_, _ = io.WriteString(w, b.String())
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("sampletarget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("httpListenAddr", "127.0.0.1:18491", "address to serve /metrics on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *addr, err)
	}
	c := newCounters(time.Now())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		c.writeTo(w, time.Now())
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "OK\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "sampletarget: serving synthetic ingress-nginx metrics on http://%s/metrics\n", ln.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("cannot shut down: %w", err)
	}
	return nil
}
