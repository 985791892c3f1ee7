package main

import (
	"context"
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
	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/proxy"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/store"
	"github.com/slogate/slogate/synthetic"
	"github.com/slogate/slogate/ui"
	"github.com/slogate/slogate/vmclient"
)

// app is a wired slogate: each step of serve is one of its methods.
type app struct {
	o       options
	log     *slog.Logger
	cfg     *config.Config
	engine  *budget.Engine
	client  *vmclient.Client
	keeper  *stateKeeper
	windows *store.Maintenance
	srv     *proxy.Server
	emitter *synthetic.Emitter
}

// serve is slogate's main job: wire, restore the state and replay what
// VictoriaMetrics holds beyond it, then listen (listen is called only
// then: until the replay is done, writes must not be counted) and serve
// until ctx ends.
func serve(ctx context.Context, o options, listen func() (net.Listener, error), stdout, stderr io.Writer) error {
	// Taken over at once: a SIGHUP during a long startup replay must not
	// end the process; it is applied once slogate serves.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	a, err := newApp(o, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	if err := a.restore(ctx); err != nil {
		return err
	}
	if err := a.wireHTTP(); err != nil {
		return err
	}
	ln, err := listen()
	if err != nil {
		return err
	}
	a.log.Info("slogate started", "version", Version(), "listen", ln.Addr().String(), "upstream", a.client.URL())
	fmt.Fprintf(stdout, "slogate listening on http://%s, forwarding to %s\n", ln.Addr(), a.client.URL())
	return a.run(ctx, ln, hup)
}

// newApp loads the configuration and builds the engine and the upstream
// client.
func newApp(o options, log *slog.Logger) (*app, error) {
	cfg, err := loadConfig(o.Config)
	if err != nil {
		return nil, err
	}
	client, err := vmclient.New(vmclient.Config{
		URL:     o.UpstreamURL,
		ReadURL: o.UpstreamReadURL,
		Cluster: o.UpstreamCluster,
		Timeout: o.UpstreamTimeout,
	})
	if err != nil {
		return nil, err
	}
	a := &app{o: o, log: log, cfg: cfg, client: client}
	a.engine = budget.NewEngine(a.engineConfig(cfg))
	a.keeper = newStateKeeper(a.engine, o.StateDir, log)
	return a, nil
}

// restore brings the state back: the snapshot first, then the maintenance
// windows (they mask the restored routes), then the replay of what
// VictoriaMetrics holds beyond the snapshot (or, with -backfill on a first
// start, the longest compliance window).
func (a *app) restore(ctx context.Context) error {
	restored, err := a.keeper.load()
	if err != nil {
		return err
	}
	a.windows, err = store.OpenMaintenance(a.o.StateDir, a.o.RetroactiveLimit, time.Now, a.cfg.Maintenance, a.engine.SetMasks)
	if err != nil {
		return err
	}
	switch {
	case restored:
		err = replaySnapshotGap(ctx, a.log, a.engine, a.client)
	case a.o.Backfill:
		err = backfill(ctx, a.log, a.engine, a.client, longestWindow(a.cfg, time.Now()))
	}
	if err != nil {
		return fmt.Errorf("cannot replay SLI history: %w", err)
	}
	return nil
}

// wireHTTP builds the operator's paths, the server and the emitter.
func (a *app) wireHTTP() error {
	token, err := readToken(a.o.APITokenFile)
	if err != nil {
		return err
	}
	pages, err := ui.New(ui.Config{
		Engine:      a.engine,
		Step:        a.o.EvalInterval,
		Maintenance: a.windows,
		Token:       token,
		Client:      a.client,
		Config:      a.cfg,
	})
	if err != nil {
		return err
	}
	a.srv, err = proxy.NewServer(proxy.Config{
		Client:              a.client,
		Engine:              a.engine,
		Routes:              pages.Routes(),
		MaxRequestBodySize:  int(a.o.MaxRequestBodySize),
		MaxDecompressedSize: int(a.o.MaxDecompressedSize),
		MaxConcurrentWrites: a.o.MaxConcurrentWrites,
		RetryAfter:          a.o.RetryAfter,
		Limits:              remotewrite.Limits{MaxLabels: a.o.MaxLabelsPerSeries, MaxLabelLen: a.o.MaxLabelLen},
	})
	if err != nil {
		return err
	}
	a.emitter = synthetic.NewEmitter(synthetic.EmitterConfig{
		Client:   a.client,
		Producer: &synthetic.Renderer{Engine: a.engine, Sloth: a.o.CompatSloth},
		Interval: a.o.EvalInterval,
		Log:      a.log,
	})
	a.srv.AddMetrics(a.emitter)
	a.srv.AddMetrics(engineMetrics(a.engine))
	return nil
}

// run serves ln, emits the synthetic series and snapshots until ctx ends,
// applying SIGHUP on the way; then it drains the requests in flight, writes
// the last points and the last snapshot.
func (a *app) run(ctx context.Context, ln net.Listener, hup <-chan os.Signal) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.srv.Serve(ln) }()
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	emitterDone := make(chan struct{})
	go func() { a.emitter.Run(bg); close(emitterDone) }()
	go a.keeper.run(bg, a.o.SnapshotInterval)

	for done := false; !done; {
		select {
		case err := <-serveErr:
			return fmt.Errorf("cannot serve: %w", err)
		case <-hup:
			a.reload()
		case <-ctx.Done():
			done = true
		}
	}
	a.log.Info("shutting down: draining requests in flight", "timeout", a.o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.o.ShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("cannot drain requests in flight: %w", err)
	}
	// The last points, with everything the drained writes counted, then
	// the state they leave.
	stopBackground()
	<-emitterDone
	if err := a.keeper.save(); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// reload applies a changed -config on SIGHUP without losing state. An
// invalid file is refused with its file:line message and the old
// configuration stays in force.
func (a *app) reload() {
	if a.o.Config == "" {
		a.log.Info("SIGHUP: no -config to reload")
		return
	}
	cfg, err := config.LoadConfig(a.o.Config)
	if err != nil {
		a.log.Error("SIGHUP: config refused; the old one stays in force", "err", err)
		return
	}
	a.engine.Reload(a.engineConfig(cfg))
	a.windows.SetConfig(cfg.Maintenance)
	a.log.Info("SIGHUP: config reloaded", "path", a.o.Config, "sources", len(cfg.Sources), "objectives", len(cfg.Objectives))
}

func (a *app) engineConfig(cfg *config.Config) budget.EngineConfig {
	return budget.EngineConfig{
		Sources:       cfg.Sources,
		Resolve:       cfg.Resolve,
		Release:       cfg.Release,
		MinuteHorizon: a.o.RetroactiveLimit,
		LongestWindow: maxWindowLength(cfg),
	}
}

// maxWindowLength is the longest any compliance window of cfg can ever be
// (budget.WindowMaxLength: a calendar period's longest instance): the
// engine ignores samples older than that plus the retroactive limit.
func maxWindowLength(cfg *config.Config) time.Duration {
	longest := budget.WindowMaxLength(budget.DefaultObjective(&budget.Source{}).Window)
	for _, r := range cfg.Objectives {
		longest = max(longest, budget.WindowMaxLength(r.Window))
	}
	return longest
}

// loadConfig reads -config, or returns the built-in default.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.DefaultConfig(), nil
	}
	return config.LoadConfig(path)
}

// longestWindow is the longest compliance window a route can have now: the
// backfill reads that much history.
func longestWindow(cfg *config.Config, now time.Time) time.Duration {
	longest := budget.DefaultObjective(&budget.Source{}).Window.LengthAt(now)
	for _, r := range cfg.Objectives {
		longest = max(longest, r.Window.LengthAt(now))
	}
	return longest + time.Hour
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
