// Command sink is a do-nothing remote-write endpoint: it reads every
// request in full and answers 204, so that a proxy benchmarked in front of
// it pays its own forwarding cost and none of a storage's. It listens on a
// loopback address only; on SIGTERM or SIGINT it prints what it received as
// JSON on stdout. It imports no slogate package.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "sink: %s\n", err)
		os.Exit(1)
	}
}

// stats is what the sink received.
type stats struct {
	Requests atomic.Int64
	Bytes    atomic.Int64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("httpListenAddr", "127.0.0.1:0", "loopback address to listen on")
	maxBody := fs.Int("maxRequestBodySize", 64<<20, "largest request body in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *addr, err)
	}
	var st stats
	srv := &fasthttp.Server{
		Handler:            handler(&st),
		Name:               "sink",
		MaxRequestBodySize: *maxBody,
		ReadTimeout:        time.Minute,
		WriteTimeout:       time.Minute,
		IdleTimeout:        2 * time.Minute,
		// Request bodies are read into pooled buffers; nothing is kept.
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
	}
	fmt.Fprintf(stdout, "sink listening on http://%s\n", ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("cannot serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.ShutdownWithContext(sctx)
	return json.NewEncoder(stdout).Encode(map[string]int64{
		"requests": st.Requests.Load(),
		"bytes":    st.Bytes.Load(),
	})
}

// handler answers 204 to every request after counting it.
func handler(st *stats) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		st.Requests.Add(1)
		st.Bytes.Add(int64(len(ctx.Request.Body())))
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	}
}

// checkLoopback refuses a listen address that is not on a loopback
// interface: the sink accepts anything and must not be reachable from
// elsewhere.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("cannot parse -httpListenAddr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing -httpListenAddr %q: the sink listens on loopback addresses only (127.0.0.1, ::1, localhost)", addr)
	}
	return nil
}
