// Command slogate is an SLO and SLA error-budget engine on the
// VictoriaMetrics write path: a remote-write proxy that forwards every byte
// to VictoriaMetrics and writes synthetic error-budget series back.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/proxy"
	"github.com/slogate/slogate/remotewrite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "slogate: %s\n", err)
		os.Exit(1)
	}
}

// Run runs slogate until ctx ends, then drains the requests in flight.
func Run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return RunReport(ctx, args[1:], stdout, stderr)
	}
	o, err := parseOptions(args, environ, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	cfg := budget.DefaultConfig()
	if o.Config != "" {
		if cfg, err = budget.LoadConfig(o.Config); err != nil {
			return err
		}
	}
	engine := budget.NewEngine(budget.EngineConfig{
		Sources:       cfg.Sources,
		Resolve:       cfg.Resolve,
		Release:       cfg.Release,
		MinuteHorizon: o.RetroactiveLimit,
	})
	store, err := budget.OpenMaintenanceStore(o.StateDir, o.RetroactiveLimit, time.Now, cfg.Maintenance, engine.SetMasks)
	if err != nil {
		return err
	}
	token, err := readToken(o.APITokenFile)
	if err != nil {
		return err
	}

	up, err := proxy.NewUpstream(proxy.UpstreamConfig{URL: o.UpstreamURL, Timeout: o.UpstreamTimeout})
	if err != nil {
		return err
	}
	api := &proxy.API{
		Engine:      engine,
		Step:        o.EvalInterval,
		Maintenance: &proxy.MaintenanceAPI{Store: store, Token: token, Now: time.Now},
	}
	if api.Extra, err = newPage(api, up, cfg, store); err != nil {
		return err
	}
	srv, err := proxy.NewServer(proxy.Config{
		Upstream:            up,
		Engine:              engine,
		Slogate:             api.Handle,
		MaxRequestBodySize:  int(o.MaxRequestBodySize),
		MaxDecompressedSize: int(o.MaxDecompressedSize),
		MaxConcurrentWrites: o.MaxConcurrentWrites,
		RetryAfter:          o.RetryAfter,
		Limits:              remotewrite.Limits{MaxLabels: o.MaxLabelsPerSeries, MaxLabelLen: o.MaxLabelLen},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.HTTPListenAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on -httpListenAddr %q: %w", o.HTTPListenAddr, err)
	}
	log.Info("slogate started", "listen", ln.Addr().String(), "upstream", up.URL())
	fmt.Fprintf(stdout, "slogate listening on http://%s, forwarding to %s\n", ln.Addr(), up.URL())

	emitter := proxy.NewEmitter(proxy.EmitterConfig{
		Upstream: up,
		Producer: &proxy.Synthetic{Engine: engine},
		Interval: o.EvalInterval,
		Log:      log,
	})
	srv.AddMetrics(emitter)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	emitCtx, stopEmitter := context.WithCancel(context.Background())
	defer stopEmitter()
	emitterDone := make(chan struct{})
	go func() { emitter.Run(emitCtx); close(emitterDone) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("cannot serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests in flight", "timeout", o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("cannot drain requests in flight: %w", err)
	}
	// The last points, with everything the drained writes counted.
	stopEmitter()
	<-emitterDone
	log.Info("stopped")
	return nil
}

// readToken reads the API bearer token; no file means no token, and
// mutations are refused.
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read -api.tokenFile: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("cannot use -api.tokenFile %s: it is empty", path)
	}
	return tok, nil
}
