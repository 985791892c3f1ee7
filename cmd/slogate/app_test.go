package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// TestServeWiring starts slogate with default options on an injected
// listener: it serves its own paths, and on shutdown leaves a snapshot.
// The upstream is not reachable: nothing here needs it.
func TestServeWiring(t *testing.T) {
	o := defaultOptions()
	o.StateDir = t.TempDir()
	o.UpstreamURL = "http://127.0.0.1:1"
	ln := fasthttputil.NewInmemoryListener()
	listened := make(chan struct{})
	listen := func() (net.Listener, error) { close(listened); return ln, nil }
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, listen, &stdout, &stderr) }()
	select {
	case <-listened:
	case err := <-done:
		t.Fatalf("serve returned before listening: %v\n%s", err, stderr.String())
	}
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	get := func(path string) (int, string) {
		t.Helper()
		code, body, err := c.GetTimeout(nil, "http://slogate"+path, 10*time.Second)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return code, string(body)
	}
	if code, body := get("/health"); code != 200 || body != "OK" {
		t.Fatalf("/health: %d %q", code, body)
	}
	if code, body := get("/slogate/api/v1/slos"); code != 200 || !strings.Contains(body, `"slos": []`) {
		t.Fatalf("/slogate/api/v1/slos: %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "slogate_engine_routes") || !strings.Contains(body, "slogate_synthetic_blocks_pending") ||
		!strings.Contains(body, "slogate_journal_size_bytes 12") {
		t.Fatalf("/metrics: %d, no engine, emitter or journal metrics:\n%s", code, body)
	}
	if code, _ := get("/api/v1/query?query=up"); code != 502 {
		t.Fatalf("pass-through to a down upstream: %d, want 502", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, snapshotName)); err != nil {
		t.Fatalf("no snapshot after shutdown: %v", err)
	}
	if !strings.Contains(stdout.String(), "slogate listening on http://") {
		t.Fatalf("stdout: %q", stdout.String())
	}
}

// TestServeRefusesBeforeListening: a bad configuration ends the start with
// its reason before anything listens.
func TestServeRefusesBeforeListening(t *testing.T) {
	f := func(name string, edit func(o *options), want string) {
		t.Helper()
		o := defaultOptions()
		o.StateDir = t.TempDir()
		edit(&o)
		listen := func() (net.Listener, error) { return nil, errors.New("listen must not be called") }
		err := serve(context.Background(), o, listen, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: got %v, want an error containing %q", name, err, want)
		}
	}
	f("missing config", func(o *options) { o.Config = filepath.Join(t.TempDir(), "none.yml") }, "none.yml")
	f("bad upstream", func(o *options) { o.UpstreamURL = "ftp://vm" }, "scheme must be http or https")
	f("empty token file", func(o *options) {
		p := filepath.Join(t.TempDir(), "token")
		_ = os.WriteFile(p, []byte("\n"), 0o600)
		o.APITokenFile = p
	}, "it is empty")
}

// TestRunListenError: an address in use is a clear error.
func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), []string{"-httpListenAddr=" + ln.Addr().String(), "-stateDir=" + t.TempDir(), "-upstream.url=http://127.0.0.1:1"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "cannot listen on -httpListenAddr") {
		t.Fatalf("got %v", err)
	}
}
