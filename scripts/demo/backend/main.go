// Command backend is a small HTTP service that the demo (make demo) runs
// behind Caddy, one process per site. Its error ratio and latency are
// switched at run time through a control endpoint; that is how the demo's
// traffic generator plays incidents and maintenance:
//
//	GET  /-/control   the current settings as JSON
//	POST /-/control?errors=0.08&latency=30ms&slow=0.3&slowLatency=400ms&down=true
//
// errors is the share of requests answered 500, latency the base latency
// (jittered by +-50%), slow the share of requests that take slowLatency
// instead, and down=true answers every request 503 (down for maintenance).
// Parameters left out keep their value. Every other path is "the
// application": it waits the latency and answers 200, or 500 / 503.
//
// It is a stand-in for a customer's service, not part of slogate: it
// imports no slogate package.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "backend: %s\n", err)
		os.Exit(1)
	}
}

// maxLatency bounds every latency setting, so a typo cannot hang clients.
const maxLatency = 10 * time.Second

// settings is what the control endpoint switches.
type settings struct {
	Errors      float64       `json:"errors"`      // share of 500s, 0..1
	Latency     time.Duration `json:"latency"`     // base latency
	Slow        float64       `json:"slow"`        // share of slow requests, 0..1
	SlowLatency time.Duration `json:"slowLatency"` // latency of a slow request
	Down        bool          `json:"down"`        // answer 503 to everything
}

// service is the backend: the application handler and the control endpoint.
type service struct {
	name string
	mu   sync.Mutex
	s    settings
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("httpListenAddr", "127.0.0.1:18501", "address to serve on")
	name := fs.String("name", "backend", "name in the answers and the log")
	latency := fs.Duration("latency", 20*time.Millisecond, "initial base latency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	svc := &service{name: *name, s: settings{Latency: *latency, SlowLatency: 400 * time.Millisecond}}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "backend %s listening on http://%s\n", svc.name, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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

func (svc *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/-/control" {
		svc.control(w, r)
		return
	}
	svc.mu.Lock()
	s := svc.s
	svc.mu.Unlock()
	if s.Down {
		w.Header().Set("Retry-After", "60")
		http.Error(w, svc.name+": down for maintenance", http.StatusServiceUnavailable)
		return
	}
	d := time.Duration(float64(s.Latency) * (0.5 + rand.Float64())) // +-50%
	if rand.Float64() < s.Slow {
		d = s.SlowLatency
	}
	select {
	case <-r.Context().Done():
		return
	case <-time.After(d):
	}
	if rand.Float64() < s.Errors {
		http.Error(w, svc.name+": internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "hello from %s: %s %s\n", svc.name, r.Method, r.URL.Path)
}

// control shows (GET) or changes (POST) the settings.
func (svc *service) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, "cannot parse parameters: "+err.Error(), http.StatusBadRequest)
			return
		}
		svc.mu.Lock()
		s, err := apply(svc.s, r.Form)
		if err == nil {
			svc.s = s
		}
		svc.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "want GET or POST", http.StatusMethodNotAllowed)
		return
	}
	svc.mu.Lock()
	s := svc.s
	svc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

// apply returns s with the parameters of form applied; nothing changes
// unless every parameter is valid.
func apply(s settings, form map[string][]string) (settings, error) {
	get := func(k string) (string, bool) {
		v, ok := form[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[len(v)-1], true
	}
	for _, p := range []struct {
		name string
		dst  *float64
	}{{"errors", &s.Errors}, {"slow", &s.Slow}} {
		if v, ok := get(p.name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				return s, fmt.Errorf("cannot use %s=%q: want a share between 0 and 1", p.name, v)
			}
			*p.dst = f
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"latency", &s.Latency}, {"slowLatency", &s.SlowLatency}} {
		if v, ok := get(p.name); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > maxLatency {
				return s, fmt.Errorf("cannot use %s=%q: want a duration between 0 and %s", p.name, v, maxLatency)
			}
			*p.dst = d
		}
	}
	if v, ok := get("down"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("cannot use down=%q: want true or false", v)
		}
		s.Down = b
	}
	return s, nil
}
