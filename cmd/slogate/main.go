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
	"syscall"

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
	o, err := parseOptions(args, environ, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	up, err := proxy.NewUpstream(proxy.UpstreamConfig{URL: o.UpstreamURL, Timeout: o.UpstreamTimeout})
	if err != nil {
		return err
	}
	srv, err := proxy.NewServer(proxy.Config{
		Upstream:            up,
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

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
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
	log.Info("stopped")
	return nil
}
