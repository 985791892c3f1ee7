package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
	cfg     *config.Config                // as loaded at startup
	live    atomic.Pointer[config.Config] // in force: cfg, then each reloaded one
	engine  *budget.Engine
	client  *vmclient.Client
	keeper  *stateKeeper
	journal *store.Journal // opened by restore
	windows *store.Maintenance
	srv     *proxy.Server
	emitter *synthetic.Emitter
	// pacer makes the evaluation step (the engine's evaluation, the
	// rendering and compression of the synthetic series) give way to the
	// writes; the API's evaluations share it.
	pacer *synthetic.Pacer
	ops   *opsMetrics
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
	defer a.journal.Close()
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
	a := &app{o: o, log: log, cfg: cfg, client: client, pacer: synthetic.NewPacer(0), ops: newOpsMetrics(time.Now())}
	a.live.Store(cfg)
	a.engine = budget.NewEngine(a.engineConfig(cfg))
	a.keeper = newStateKeeper(a.engine, o.StateDir, log, a.ops)
	return a, nil
}

// restore brings the state back: the snapshot and the route journal
// first, then the maintenance windows (they mask the restored routes), then
// the replay of what VictoriaMetrics holds beyond the snapshot for the
// routes of both (or, with -backfill on a first start, the longest
// compliance window).
func (a *app) restore(ctx context.Context) (err error) {
	restored, err := a.keeper.load()
	if err != nil {
		return err
	}
	journal, read, err := store.OpenJournal(filepath.Join(a.o.StateDir, journalName), time.Now())
	if err != nil {
		return err
	}
	if read.Torn != nil {
		a.log.Warn("route journal: damaged end cut off", "err", read.Torn, "bytes", read.TornBytes)
	}
	defer func() {
		if err != nil { // serve closes it otherwise
			journal.Close()
		}
	}()
	a.journal, a.keeper.journal = journal, journal
	a.windows, err = store.OpenMaintenance(store.MaintenanceConfig{
		Dir:              a.o.StateDir,
		RetroactiveLimit: a.o.RetroactiveLimit,
		Config:           a.cfg.Maintenance,
		OnChange:         a.engine.SetMasks,
		Log:              a.log,
	})
	if err != nil {
		return err
	}
	switch {
	case restored || len(read.Routes) > 0:
		err = replayGap(ctx, a.log, a.engine, a.client, read.Routes)
	case a.o.Backfill:
		err = backfill(ctx, a.log, a.engine, a.client, longestWindow(a.cfg, time.Now()))
	}
	if err != nil {
		return fmt.Errorf("cannot replay SLI history: %w", err)
	}
	// Routes a backfill created: durable before slogate listens.
	return a.journal.Sync()
}

// noteRoute is the engine's NewRoute hook: the route goes to the journal,
// which the write path makes durable before it acknowledges the write.
func (a *app) noteRoute(r budget.NewRoute) {
	if a.journal != nil {
		a.journal.Add(r)
	}
}

// wireHTTP builds the operator's paths, the server and the emitter.
func (a *app) wireHTTP() error {
	tokens, err := readTokens(a.o.APITokenFile)
	if err != nil {
		return err
	}
	pages, err := ui.New(ui.Config{
		Engine:      a.engine,
		Step:        a.o.EvalInterval,
		Maintenance: a.windows,
		Tokens:      tokens,
		Client:      a.client,
		Config:      a.live.Load,
	})
	if err != nil {
		return err
	}
	reserved := synthetic.Reserved
	if a.o.AllowSynthetic {
		reserved = nil
	}
	a.srv, err = proxy.NewServer(proxy.Config{
		Client:               a.client,
		Engine:               a.engine,
		Journal:              a.journal,
		Routes:               pages.Routes(),
		MaxRequestBodySize:   int(a.o.MaxRequestBodySize),
		MaxDecompressedSize:  int(a.o.MaxDecompressedSize),
		MaxConcurrentWrites:  a.o.MaxConcurrentWrites,
		RetryAfter:           a.o.RetryAfter,
		BodyReadTimeout:      a.o.BodyReadTimeout,
		MaxBodyBytesInFlight: int(a.o.MaxBodyBytes),
		MaxConcurrentProxied: a.o.MaxProxied,
		Limits:               remotewrite.Limits{MaxLabels: a.o.MaxLabelsPerSeries, MaxLabelLen: a.o.MaxLabelLen},
		Reserved:             reserved,
		AllowAdminPaths:      a.o.AllowAdminPaths,
	})
	if err != nil {
		return err
	}
	a.emitter = synthetic.NewEmitter(synthetic.EmitterConfig{
		Client:   a.client,
		Producer: &synthetic.Renderer{Engine: a.engine, Sloth: a.o.CompatSloth, SlothNames: a.slothNames, Pacer: a.pacer},
		Interval: a.o.EvalInterval,
		Log:      a.log,
		Pacer:    a.pacer,
	})
	a.srv.AddMetrics(a.emitter)
	a.srv.AddMetrics(engineMetrics(a.engine))
	a.srv.AddMetrics(storeMetrics(a.windows))
	a.srv.AddMetrics(a.ops.set)
	a.srv.AddMetrics(journalMetrics(a.journal))
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
	a.ops.reload(err)
	if err != nil {
		a.log.Error("SIGHUP: config refused; the old one stays in force", "err", err)
		return
	}
	a.engine.Reload(a.engineConfig(cfg))
	a.windows.SetConfig(cfg.Maintenance)
	a.live.Store(cfg) // the report's targets from now on
	a.log.Info("SIGHUP: config reloaded", "path", a.o.Config, "sources", len(cfg.Sources), "objectives", len(cfg.Objectives))
}

// slothVersion is the sloth_version of sloth_slo_info, read once.
var slothVersion = sync.OnceValue(Version)

// slothNames names the Sloth series after the configuration in force (a
// SIGHUP reload renames them).
func (a *app) slothNames() synthetic.SlothNames {
	s := &a.live.Load().Sloth
	return synthetic.SlothNames{Service: s.Service, SLO: s.SLO, Labels: s.Labels, Version: slothVersion()}
}

func (a *app) engineConfig(cfg *config.Config) budget.EngineConfig {
	return budget.EngineConfig{
		Sources:       cfg.Sources,
		Resolve:       cfg.Resolve,
		Services:      cfg.Services,
		Release:       cfg.Release,
		MinuteHorizon: a.o.RetroactiveLimit,
		MaxRoutes:     a.o.MaxRoutes,
		MaxTenants:    a.o.MaxTenants,
		NewRoute:      a.noteRoute,
		Yield:         a.pacer.Pause,
		LongestWindow: maxWindowLength(cfg),
	}
}

// maxWindowLength is the longest any compliance window of cfg (route
// objectives and services) can ever be (budget.WindowMaxLength: a calendar
// period's longest instance): the engine ignores samples older than that
// plus the retroactive limit.
func maxWindowLength(cfg *config.Config) time.Duration {
	longest := budget.WindowMaxLength(budget.DefaultObjective(&budget.Source{}).Window)
	for _, r := range cfg.Objectives {
		longest = max(longest, budget.WindowMaxLength(r.Window))
	}
	for _, s := range cfg.Services {
		longest = max(longest, budget.WindowMaxLength(s.Objective.Window))
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

// longestWindow is the longest compliance window a route or a service can
// have now: the backfill reads that much history.
func longestWindow(cfg *config.Config, now time.Time) time.Duration {
	longest := budget.DefaultObjective(&budget.Source{}).Window.LengthAt(now)
	for _, r := range cfg.Objectives {
		longest = max(longest, r.Window.LengthAt(now))
	}
	for _, s := range cfg.Services {
		longest = max(longest, s.Objective.Window.LengthAt(now))
	}
	return longest + time.Hour
}

// defaultTokenName is the actor the audit log records for a token file
// holding one plain token.
const defaultTokenName = "default"

// readTokens reads -api.tokenFile: one `name:token` per line (blank lines
// and lines starting with # are skipped), the name being what the audit
// log records as the actor of a change; a file of one line that is not
// `name:token` is a plain token named "default", as before names existed.
// No file means no token, and mutations are refused. Errors name the
// line, never the token.
func readTokens(path string) ([]ui.Token, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read -api.tokenFile: %w", err)
	}
	type line struct {
		no   int
		text string
	}
	var lines []line
	for i, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, line{i + 1, l})
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("cannot use -api.tokenFile %s: it is empty (no token line)", path)
	}
	if name, secret, ok := strings.Cut(lines[0].text, ":"); len(lines) == 1 && (!ok || !validTokenName(name) || secret == "") {
		return []ui.Token{{Name: defaultTokenName, Secret: lines[0].text}}, nil
	}
	tokens := make([]ui.Token, 0, len(lines))
	names, secrets := map[string]bool{}, map[string]bool{}
	for _, l := range lines {
		name, secret, ok := strings.Cut(l.text, ":")
		name, secret = strings.TrimSpace(name), strings.TrimSpace(secret)
		switch {
		case !ok || !validTokenName(name):
			return nil, fmt.Errorf("cannot use -api.tokenFile %s: line %d: want name:token, the name of letters, digits, '.', '_', '@' or '-' (at most 64)", path, l.no)
		case secret == "":
			return nil, fmt.Errorf("cannot use -api.tokenFile %s: line %d: the token of %q is empty", path, l.no, name)
		case names[name]:
			return nil, fmt.Errorf("cannot use -api.tokenFile %s: line %d: the name %q is given twice", path, l.no, name)
		case secrets[secret]:
			return nil, fmt.Errorf("cannot use -api.tokenFile %s: line %d: the token of %q is also another name's; the actor would be ambiguous", path, l.no, name)
		}
		names[name], secrets[secret] = true, true
		tokens = append(tokens, ui.Token{Name: name, Secret: secret})
	}
	return tokens, nil
}

func validTokenName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("._@-", c)) {
			return false
		}
	}
	return true
}
