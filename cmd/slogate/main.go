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
	_ "time/tzdata" // calendar windows and maintenance in any zone, also in a bare container

	"github.com/VictoriaMetrics/metrics"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/proxy"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/store"
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
	// Taken over at once: a SIGHUP during a long startup replay must not
	// end the process; it is applied once slogate serves.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log := slog.New(slog.NewTextHandler(stderr, nil))

	cfg, err := loadConfig(o.Config)
	if err != nil {
		return err
	}
	engine := budget.NewEngine(engineConfig(cfg, o))
	up, err := proxy.NewUpstream(proxy.UpstreamConfig{URL: o.UpstreamURL, Timeout: o.UpstreamTimeout})
	if err != nil {
		return err
	}

	// State first, then the maintenance windows (they mask the restored
	// routes), then the replay of what VictoriaMetrics has beyond the
	// snapshot: only then are new writes counted.
	keeper := newStateKeeper(engine, o.StateDir, log)
	restored, err := keeper.load()
	if err != nil {
		return err
	}
	store, err := store.OpenMaintenance(o.StateDir, o.RetroactiveLimit, time.Now, cfg.Maintenance, engine.SetMasks)
	if err != nil {
		return err
	}
	readURL := o.UpstreamReadURL
	if readURL == "" {
		readURL = o.UpstreamURL
	}
	replayer := &proxy.Replayer{ReadURL: readURL, Cluster: o.UpstreamCluster}
	switch {
	case restored:
		// Samples at or before a series' last point count zero, so the
		// overlap is harmless; ten minutes cover reordered blocks. Only
		// routes of the snapshot: a sharded replica must not take over
		// its peers' routes.
		replayer.Ingest = func(t budget.Tenant, labels []budget.Label, samples []budget.Sample) {
			if engine.KnowsRoute(t, labels) {
				engine.Ingest(t, labels, samples)
			}
		}
		err = replayGap(ctx, log, engine, replayer, engine.Tenants(), func(t budget.Tenant) int64 {
			return engine.Watermark(t) - (10 * time.Minute).Milliseconds()
		})
	case o.Backfill:
		replayer.Ingest = engine.Ingest
		from := time.Now().Add(-longestWindow(cfg, time.Now())).UnixMilli()
		tenants := []budget.Tenant{{}}
		if o.UpstreamCluster {
			if tenants, err = replayer.Tenants(ctx, from, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("cannot backfill: %w", err)
			}
		}
		log.Info("backfill: replaying SLI history from VictoriaMetrics", "from", time.UnixMilli(from).UTC(), "tenants", len(tenants))
		err = replayGap(ctx, log, engine, replayer, tenants, func(budget.Tenant) int64 { return from })
	}
	if err != nil {
		return fmt.Errorf("cannot replay SLI history: %w", err)
	}

	token, err := readToken(o.APITokenFile)
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
		Producer: &proxy.Synthetic{Engine: engine, Sloth: o.CompatSloth},
		Interval: o.EvalInterval,
		Log:      log,
	})
	if o.UpstreamCluster {
		// vminsert serves every tenant, 0:0 included, under /insert/.
		emitter.SetWritePath(proxy.InsertWritePath)
	}
	srv.AddMetrics(emitter)
	srv.AddMetrics(engineMetrics(engine))

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	emitterDone := make(chan struct{})
	go func() { emitter.Run(bg); close(emitterDone) }()
	go keeper.run(bg, o.SnapshotInterval)

	for done := false; !done; {
		select {
		case err := <-serveErr:
			return fmt.Errorf("cannot serve: %w", err)
		case <-hup:
			reload(log, o, engine, store)
		case <-ctx.Done():
			done = true
		}
	}
	log.Info("shutting down: draining requests in flight", "timeout", o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("cannot drain requests in flight: %w", err)
	}
	// The last points, with everything the drained writes counted, then
	// the state they leave.
	stopBackground()
	<-emitterDone
	if err := keeper.save(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// engineMetrics exposes the engine's counters at /metrics.
func engineMetrics(e *budget.Engine) *metrics.Set {
	s := metrics.NewSet()
	for _, m := range []struct {
		name string
		get  func(budget.EngineStats) uint64
	}{
		{`slogate_engine_samples_counted_total`, func(st budget.EngineStats) uint64 { return st.SamplesCounted }},
		{`slogate_engine_samples_ignored_total{reason="duplicate"}`, func(st budget.EngineStats) uint64 { return st.Duplicates }},
		{`slogate_engine_samples_ignored_total{reason="too_old_for_reorder"}`, func(st budget.EngineStats) uint64 { return st.TooOld }},
		{`slogate_engine_samples_ignored_total{reason="future"}`, func(st budget.EngineStats) uint64 { return st.Future }},
		{`slogate_engine_samples_ignored_total{reason="nan"}`, func(st budget.EngineStats) uint64 { return st.NaN }},
		{`slogate_engine_samples_ignored_total{reason="expired"}`, func(st budget.EngineStats) uint64 { return st.Expired }},
		{`slogate_engine_reorders_total`, func(st budget.EngineStats) uint64 { return st.Reorders }},
		{`slogate_engine_first_value_fixups_total`, func(st budget.EngineStats) uint64 { return st.FirstValueFixups }},
		{`slogate_engine_routes_refused_total`, func(st budget.EngineStats) uint64 { return st.RoutesRefused }},
		{`slogate_engine_routes_forgotten_total`, func(st budget.EngineStats) uint64 { return st.RoutesForgotten }},
		{`slogate_engine_routes`, func(st budget.EngineStats) uint64 { return st.Routes }},
		{`slogate_engine_series`, func(st budget.EngineStats) uint64 { return st.Series }},
	} {
		get := m.get
		s.NewGauge(m.name, func() float64 { return float64(get(e.Stats())) })
	}
	return s
}

// loadConfig reads -config, or returns the built-in default.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.DefaultConfig(), nil
	}
	return config.LoadConfig(path)
}

func engineConfig(cfg *config.Config, o options) budget.EngineConfig {
	return budget.EngineConfig{
		Sources:       cfg.Sources,
		Resolve:       cfg.Resolve,
		Release:       cfg.Release,
		MinuteHorizon: o.RetroactiveLimit,
	}
}

// reload applies a changed -config on SIGHUP without losing state. An
// invalid file is refused with its file:line message and the old
// configuration stays in force.
func reload(log *slog.Logger, o options, e *budget.Engine, store *store.Maintenance) {
	if o.Config == "" {
		log.Info("SIGHUP: no -config to reload")
		return
	}
	cfg, err := config.LoadConfig(o.Config)
	if err != nil {
		log.Error("SIGHUP: config refused; the old one stays in force", "err", err)
		return
	}
	e.Reload(engineConfig(cfg, o))
	store.SetConfig(cfg.Maintenance)
	log.Info("SIGHUP: config reloaded", "path", o.Config, "sources", len(cfg.Sources), "objectives", len(cfg.Objectives))
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
