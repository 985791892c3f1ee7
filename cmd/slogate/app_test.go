package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/ui"
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
		!strings.Contains(body, "slogate_snapshot_errors_total 0") || !strings.Contains(body, "slogate_maintenance_write_errors_total 0") ||
		!strings.Contains(body, `slogate_maintenance_load_errors_total{file="windows"} 0`) || !strings.Contains(body, "slogate_journal_size_bytes 12") {
		t.Fatalf("/metrics: %d, no engine, emitter, store or journal metrics:\n%s", code, body)
	}
	if code, _ := get("/api/v1/query?query=up"); code != 503 {
		t.Fatalf("pass-through to a down upstream: %d, want 503", code)
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

func TestReadTokens(t *testing.T) {
	f := func(content string, want []ui.Token, wantErr string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readTokens(p)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%q: got %v, want an error containing %q", content, err, wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("%q: the error shows the token: %v", content, err)
			}
			return
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%q: got %v, %v, want %v", content, got, err, want)
		}
	}
	// One plain token works as before; its actor is "default".
	f("s3cr3t\n", []ui.Token{{Name: "default", Secret: "s3cr3t"}}, "")
	f("  s3cr3t  ", []ui.Token{{Name: "default", Secret: "s3cr3t"}}, "")
	f("a/b:c\n", []ui.Token{{Name: "default", Secret: "a/b:c"}}, "")
	f("ops:s3cr3t\n", []ui.Token{{Name: "ops", Secret: "s3cr3t"}}, "")
	f("# who may change windows\nalice:tok-a\n\nbob@oncall: tok-b\n", []ui.Token{{Name: "alice", Secret: "tok-a"}, {Name: "bob@oncall", Secret: "tok-b"}}, "")
	f("\n# nothing\n", nil, "it is empty")
	f("alice:tok-a\ns3cr3t\n", nil, "line 2: want name:token")
	f("alice:tok-a\nbob:\n", nil, `line 2: the token of "bob" is empty`)
	f("alice:tok-a\nalice:s3cr3t\n", nil, `line 2: the name "alice" is given twice`)
	f("alice:s3cr3t\nbob:s3cr3t\n", nil, "line 2: the token of \"bob\" is also another name's")
}

func TestWindowLengthsIncludeServices(t *testing.T) {
	cfg, err := config.ParseConfig("slogate.yml", []byte("objectives:\n  - slo: 0.999\n    window: 60d\nservices:\n  - name: platform\n    slo: 0.999\n    window: 200d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := maxWindowLength(cfg); got != 200*24*time.Hour {
		t.Fatalf("maxWindowLength: got %s, want 200d", got)
	}
	if got := longestWindow(cfg, time.Now()); got != 200*24*time.Hour+time.Hour {
		t.Fatalf("longestWindow: got %s, want 200d1h", got)
	}
	a := &app{o: defaultOptions()}
	if ec := a.engineConfig(cfg); len(ec.Services) != 1 || ec.Services[0].Name != "platform" {
		t.Fatalf("engineConfig does not pass the services: %+v", ec.Services)
	}
}

// TestReloadReachesReport: SIGHUP's reload replaces the configuration the
// report reads (ui.Config.Config is a.live.Load).
func TestReloadReachesReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "slogate.yml")
	write := func(sla string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("objectives:\n  - slo: 0.9995\n    sla: "+sla+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("0.999")
	o := defaultOptions()
	o.StateDir, o.Config, o.UpstreamURL = dir, path, "http://127.0.0.1:1"
	a, err := newApp(o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.journal.Close()
	if got := a.live.Load().Objectives[0].SLA; got != 0.999 {
		t.Fatalf("SLA at start: %v", got)
	}
	write("0.99")
	a.reload()
	if got := a.live.Load().Objectives[0].SLA; got != 0.99 {
		t.Fatalf("SLA after reload: %v, want 0.99", got)
	}
	write("2") // refused: the last good one stays
	a.reload()
	if got := a.live.Load().Objectives[0].SLA; got != 0.99 {
		t.Fatalf("SLA after a refused reload: %v, want 0.99", got)
	}
}
