// Command traffic is the demo's traffic generator (make demo). It sends
// real HTTP requests through the router (Caddy) to the demo's backends and
// plays a day with an incident and a planned maintenance window.
//
// Why real time, with the day compressed into the schedule: slogate counts
// events in the minute of their sample timestamp, and the router's counters
// are scraped at wall-clock time, so requests sent now are counted now; a
// "day at speed" with compressed timestamps would need synthetic metrics,
// not a real router. Instead one -cycle (default 10m) stands for a day: the
// request rate follows a day's curve (quiet at night, peak in the
// afternoon), and the day's events happen at their share of the cycle:
//
//	 5%  (07:12)  the maintenance of the last site is announced through
//	              slogate's API (POST /slogate/api/v1/maintenance, bearer
//	              token), for the whole minutes around its downtime
//	10%  (08:24)  incident: the first site's backend answers 50% of requests 500
//	40%  (15:36)  incident over
//	50%  (18:00)  the second site's backend gets slow: 30% of requests take 400ms
//	60%  (20:24)  back to normal
//	75%  (00:00)  maintenance: the last site's backend answers 503 to everything
//	90%  (03:36)  maintenance over
//	              and, once slogate has evaluated the window's last minute,
//	              the requests that failed in it and the SLA budget, from
//	              slogate's API: the downtime did not count
//
// The default cycle takes 10 minutes. The demo writes a month of history
// first (scripts/demo/history), which leaves the first site a few percent
// of its SLA budget: the incident's three minutes make slogate's page say
// "SLA budget gone in N minutes" while it runs, and a few days of them use
// the budget up; the planned downtime is cut out of the last site's budget. Events are printed as they
// happen. After -cycles days (or -maxRequests requests) the generator stops.
// Every address must be a loopback address. It talks to slogate over HTTP
// only and imports no slogate package.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "traffic: %s\n", err)
		os.Exit(1)
	}
}

// config is the generator's configuration, from the command line.
type config struct {
	target      *url.URL // the router
	sites       []site
	slogate     *url.URL
	token       string
	cycle       time.Duration
	cycles      int
	peak        float64 // requests per second of the busiest site at the day's peak
	maxRequests int64
	maxInFlight int
}

// site is a virtual host of the router and the control endpoint of its
// backend.
type site struct {
	host    string   // Host header, as in the Caddyfile
	backend *url.URL // the backend's own address, for /-/control
	weight  float64  // share of the peak rate
}

func parseConfig(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("traffic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "http://127.0.0.1:18480", "router (Caddy) address the requests go to")
	sites := fs.String("sites", "shop.acme.localhost=http://127.0.0.1:18501,api.acme.localhost=http://127.0.0.1:18502,portal.globex.localhost=http://127.0.0.1:18503",
		"virtual hosts and their backends, host=backendURL,...; the first has the incident, the second the slow hour, the last the maintenance")
	slogate := fs.String("slogate", "http://127.0.0.1:18490", "slogate, for announcing the maintenance window")
	tokenFile := fs.String("tokenFile", "", "file holding slogate's API bearer token (-api.tokenFile); required")
	cycle := fs.Duration("cycle", 10*time.Minute, "wall-clock length of one played day (at least 20s)")
	cycles := fs.Int("cycles", 6, "days to play before stopping")
	peak := fs.Float64("peak", 40, "requests per second of the busiest site at the day's peak (at most 500)")
	maxRequests := fs.Int64("maxRequests", 2_000_000, "stop after this many requests")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c := &config{cycle: *cycle, cycles: *cycles, peak: *peak, maxRequests: *maxRequests, maxInFlight: 64}
	var err error
	if c.target, err = loopbackURL("-target", *target); err != nil {
		return nil, err
	}
	if c.slogate, err = loopbackURL("-slogate", *slogate); err != nil {
		return nil, err
	}
	weights := []float64{1, 0.6, 0.3}
	for i, kv := range strings.Split(*sites, ",") {
		host, backend, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || host == "" {
			return nil, fmt.Errorf("cannot parse -sites entry %q: want host=backendURL", kv)
		}
		u, err := loopbackURL("-sites "+host, backend)
		if err != nil {
			return nil, err
		}
		w := weights[min(i, len(weights)-1)]
		c.sites = append(c.sites, site{host: host, backend: u, weight: w})
	}
	switch {
	case len(c.sites) < 3:
		return nil, fmt.Errorf("cannot play the day with %d sites: want 3 (incident, slow hour, maintenance)", len(c.sites))
	case c.cycle < 20*time.Second:
		return nil, fmt.Errorf("cannot use -cycle=%s: want at least 20s", c.cycle)
	case c.cycles < 1 || c.peak <= 0 || c.peak > 500 || c.maxRequests < 1:
		return nil, fmt.Errorf("cannot use -cycles=%d -peak=%g -maxRequests=%d: want >= 1, in (0, 500], >= 1", c.cycles, c.peak, c.maxRequests)
	case *tokenFile == "":
		return nil, fmt.Errorf("-tokenFile is required: the maintenance window is announced through slogate's API")
	}
	b, err := os.ReadFile(*tokenFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read -tokenFile: %w", err)
	}
	if c.token = strings.TrimSpace(string(b)); c.token == "" {
		return nil, fmt.Errorf("cannot use -tokenFile %s: it is empty", *tokenFile)
	}
	return c, nil
}

// loopbackURL parses an http URL and refuses any host that is not a
// loopback address: the demo sends traffic to this machine only.
func loopbackURL(flagName, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("cannot use %s %q: want http://127.0.0.1:<port>", flagName, s)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return nil, fmt.Errorf("cannot use %s %q: the demo only sends to loopback addresses", flagName, s)
	}
	return u, nil
}

// event is one scheduled change of the day, at a share of the cycle.
type event struct {
	at   float64
	site int
	// query is the backend control change; empty for the announcement
	// and the effect.
	query string
	what  string
	// effect: print what the planned window did to the site's budget.
	effect bool
}

// schedule is the day; the announcement of the maintenance window of the
// last site (from maintenanceFrom to maintenanceTo) comes first.
var schedule = []event{
	{at: 0.05, site: -1, what: "announce the maintenance window"},
	{at: 0.10, site: 0, query: "errors=0.5", what: "incident: answers 50% of requests with 500 (watch its SLA budget on slogate's page)"},
	{at: 0.40, site: 0, query: "errors=0", what: "incident over"},
	{at: 0.50, site: 1, query: "slow=0.3&slowLatency=400ms", what: "slow: 30% of requests take 400ms"},
	{at: 0.60, site: 1, query: "slow=0", what: "back to normal speed"},
	{at: maintenanceFrom, site: -1, query: "down=true", what: "planned maintenance: answers 503 to everything"},
	{at: maintenanceTo, site: -1, query: "down=false", what: "maintenance over"},
	{at: maintenanceTo, site: -1, effect: true, what: "the planned window's effect"},
}

const (
	maintenanceFrom = 0.75
	maintenanceTo   = 0.90
	// dayStart is the day's clock at the start of a cycle.
	dayStart = 6 * time.Hour
)

// maintenanceWindow returns the announced window for a cycle starting at
// c0: the whole minutes around the downtime, since slogate masks minutes
// (a minute is excluded when its start lies in the window).
func maintenanceWindow(c0 time.Time, cycle time.Duration) (start, end time.Time) {
	start = c0.Add(time.Duration(maintenanceFrom * float64(cycle))).Truncate(time.Minute)
	end = c0.Add(time.Duration(maintenanceTo * float64(cycle)))
	if t := end.Truncate(time.Minute); t.Before(end) {
		end = t.Add(time.Minute)
	}
	return start, end
}

// rate returns a site's requests per second at share phase of the day: a
// day's curve from 10% of the peak at 02:00 to the peak at 14:00.
func rate(peak, weight, phase float64) float64 {
	clock := math.Mod(dayStart.Hours()/24+phase, 1) // 0 = midnight
	shape := (1 + math.Cos(2*math.Pi*(clock-14.0/24))) / 2
	return peak * weight * (0.1 + 0.9*shape)
}

// dayClock formats the played day's time at share phase of a cycle.
func dayClock(phase float64) string {
	d := dayStart + time.Duration(phase*float64(24*time.Hour))
	d %= 24 * time.Hour
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

// generator sends the requests and plays the schedule.
type generator struct {
	cfg    *config
	out    io.Writer
	errOut io.Writer      // the summary when stopped by a signal
	bg     sync.WaitGroup // the planned windows' effect reports
	outMu  sync.Mutex
	client *http.Client
	start  time.Time
	sent   atomic.Int64
	// per site: answers by status class (index status/100), and failures
	answers [][6]atomic.Int64
	skipped atomic.Int64 // requests not sent because maxInFlight were pending
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	g := &generator{
		cfg:    cfg,
		out:    stdout,
		errOut: stderr,
		client: &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: cfg.maxInFlight, MaxConnsPerHost: cfg.maxInFlight},
		},
		answers: make([][6]atomic.Int64, len(cfg.sites)),
	}
	return g.play(ctx)
}

func (g *generator) logf(format string, args ...any) {
	g.outMu.Lock()
	defer g.outMu.Unlock()
	fmt.Fprintf(g.out, time.Now().Format("15:04:05")+" traffic: "+format+"\n", args...)
}

// play runs every cycle, then waits for the requests in flight.
func (g *generator) play(parent context.Context) error {
	g.start = time.Now()
	end := g.start.Add(time.Duration(g.cfg.cycles) * g.cfg.cycle)
	ctx, cancel := context.WithDeadline(parent, end)
	defer cancel()
	for i := range g.cfg.sites {
		if err := g.control(ctx, i, "errors=0&slow=0&down=false"); err != nil {
			return err
		}
	}
	g.logf("playing %d day(s) of %s each through %s; the day starts at %s", g.cfg.cycles, g.cfg.cycle, g.cfg.target, dayClock(0))
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for i := range g.cfg.sites {
		wg.Add(1)
		go func() { defer wg.Done(); g.drive(ctx, i) }()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := g.timeline(ctx); err != nil {
			errc <- err
			cancel()
		}
	}()
	go func() { defer wg.Done(); g.report(ctx) }()
	wg.Wait()
	g.bg.Wait()
	if parent.Err() != nil {
		// Stopped (Ctrl-C): the terminal gets the demo's goodbye only.
		g.outMu.Lock()
		g.out = g.errOut
		g.outMu.Unlock()
	}
	g.summary()
	select {
	case err := <-errc:
		return err
	default:
	}
	if g.sent.Load() >= g.cfg.maxRequests {
		g.logf("stopped after -maxRequests=%d requests", g.cfg.maxRequests)
	}
	return nil
}

// timeline applies the schedule of every cycle at its time.
func (g *generator) timeline(ctx context.Context) error {
	last := len(g.cfg.sites) - 1
	var before budgetState // of the last site, when its downtime began
	for c := 0; c < g.cfg.cycles; c++ {
		c0 := g.start.Add(time.Duration(c) * g.cfg.cycle)
		for _, ev := range schedule {
			if !sleepUntil(ctx, c0.Add(time.Duration(ev.at*float64(g.cfg.cycle)))) {
				return nil
			}
			i := ev.site
			if i < 0 {
				i = last
			}
			prefix := fmt.Sprintf("[day %d %s] %s", c+1, dayClock(ev.at), g.cfg.sites[i].host)
			if ev.query == "down=true" {
				before, _ = g.budget(ctx, g.cfg.sites[i].host)
			}
			if ev.effect {
				_, end := maintenanceWindow(c0, g.cfg.cycle)
				g.bg.Add(1)
				go g.effect(ctx, prefix, g.cfg.sites[i].host, end, before)
				continue
			}
			if ev.query == "" {
				start, end := maintenanceWindow(c0, g.cfg.cycle)
				id, err := g.announce(ctx, g.cfg.sites[i].host, start, end)
				if err != nil {
					return err
				}
				g.logf("%s: maintenance window %s announced for %s-%s (slogate cuts those minutes out of its budget)",
					prefix, id, start.Format("15:04"), end.Format("15:04"))
				continue
			}
			if err := g.control(ctx, i, ev.query); err != nil {
				return err
			}
			g.logf("%s: %s", prefix, ev.what)
		}
	}
	return nil
}

// drive sends requests for site i at the day's rate until ctx ends or the
// request budget is spent. Requests are sent without waiting for answers,
// at most maxInFlight at once; over that a request is skipped, not queued.
func (g *generator) drive(ctx context.Context, i int) {
	s := g.cfg.sites[i]
	paths := []string{"/", "/products/42", "/cart", "/search?q=slo", "/account"}
	inflight := make(chan struct{}, g.cfg.maxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	next := time.Now()
	for n := 0; ; n++ {
		phase := math.Mod(time.Since(g.start).Seconds()/g.cfg.cycle.Seconds(), 1)
		next = next.Add(time.Duration(float64(time.Second) / rate(g.cfg.peak, s.weight, phase)))
		if behind := time.Since(next); behind > time.Second {
			next = time.Now() // do not burst to catch up
		}
		if !sleepUntil(ctx, next) {
			return
		}
		if g.sent.Add(1) > g.cfg.maxRequests {
			return
		}
		select {
		case inflight <- struct{}{}:
		default:
			g.skipped.Add(1)
			continue
		}
		wg.Add(1)
		go func(path string) {
			defer wg.Done()
			defer func() { <-inflight }()
			g.request(ctx, i, path)
		}(paths[n%len(paths)])
	}
}

// request sends one GET through the router with the site's Host header.
func (g *generator) request(ctx context.Context, i int, path string) {
	u := *g.cfg.target
	u.Path, u.RawQuery, _ = strings.Cut(path, "?")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		g.answers[i][0].Add(1)
		return
	}
	req.Host = g.cfg.sites[i].host
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() == nil { // not merely cut off by stopping
			g.answers[i][0].Add(1)
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if c := resp.StatusCode / 100; c >= 1 && c <= 5 {
		g.answers[i][c].Add(1)
	}
}

// control changes the settings of site i's backend.
func (g *generator) control(ctx context.Context, i int, query string) error {
	u := g.cfg.sites[i].backend.JoinPath("/-/control")
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return fmt.Errorf("cannot make control request: %w", err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopping
		}
		return fmt.Errorf("cannot switch the backend of %s (%s): %w", g.cfg.sites[i].host, query, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("cannot switch the backend of %s (%s): status %d: %s", g.cfg.sites[i].host, query, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// announce declares a maintenance window for host through slogate's API
// and returns its id.
func (g *generator) announce(ctx context.Context, host string, start, end time.Time) (string, error) {
	body, err := json.Marshal(map[string]any{
		"start":  start.UTC().Format(time.RFC3339),
		"end":    end.UTC().Format(time.RFC3339),
		"match":  map[string]string{"host": regexp.QuoteMeta(host)},
		"reason": "planned database upgrade (announced by the demo)",
		"author": "demo traffic generator",
	})
	if err != nil {
		return "", fmt.Errorf("cannot encode maintenance window: %w", err)
	}
	u := g.cfg.slogate.JoinPath("/slogate/api/v1/maintenance")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("cannot make maintenance request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.cfg.token)
	resp, err := g.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot announce maintenance of %s: %w", host, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("cannot announce maintenance of %s: slogate answered %d: %s", host, resp.StatusCode, bytes.TrimSpace(msg))
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(msg, &created); err != nil || created.ID == "" {
		return "", fmt.Errorf("cannot read the created maintenance window %q: %v", msg, err)
	}
	return created.ID, nil
}

// budgetState is what slogate's API says of a site's availability.
type budgetState struct {
	excludedBad int64   // failed requests left out by maintenance
	sla         float64 // the SLA budget's remaining ratio
	evaluatedAt time.Time
}

// effect prints what the planned window ending at end did, once slogate
// has evaluated past it (it counts complete minutes); nothing when the
// generator stops first.
func (g *generator) effect(ctx context.Context, prefix, host string, end time.Time, before budgetState) {
	defer g.bg.Done()
	for {
		if after, ok := g.budget(ctx, host); ok && !after.evaluatedAt.Before(end) {
			g.logf("%s: the planned window left out %d requests that failed; SLA budget %.2f%% left (%.2f%% when the downtime began)",
				prefix, after.excludedBad-before.excludedBad, after.sla*100, before.sla*100)
			return
		}
		if !sleepUntil(ctx, time.Now().Add(time.Second)) {
			return
		}
	}
}

// budget reads a host's availability budget from slogate's API; false when
// slogate cannot tell (the demo goes on without the line).
func (g *generator) budget(ctx context.Context, host string) (budgetState, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.slogate.JoinPath("/slogate/api/v1/slos").String(), nil)
	if err != nil {
		return budgetState{}, false
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return budgetState{}, false
	}
	defer resp.Body.Close()
	var slos struct {
		SLOs []struct {
			Labels    map[string]string `json:"labels"`
			Objective struct {
				Name string `json:"name"`
			} `json:"objective"`
			EvaluatedAt time.Time `json:"evaluatedAt"`
			Requests    struct {
				ExcludedBad int64 `json:"excludedBad"`
			} `json:"requests"`
			Budgets map[string]struct {
				RemainingRatio float64 `json:"remainingRatio"`
			} `json:"budgets"`
		} `json:"slos"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&slos) != nil {
		return budgetState{}, false
	}
	for _, s := range slos.SLOs {
		if s.Labels["host"] == host && s.Objective.Name == "availability" {
			return budgetState{excludedBad: s.Requests.ExcludedBad, sla: s.Budgets["sla"].RemainingRatio, evaluatedAt: s.EvaluatedAt}, true
		}
	}
	return budgetState{}, false
}

// report prints what the sites answered, every tenth of a cycle.
func (g *generator) report(ctx context.Context) {
	t := time.NewTicker(g.cfg.cycle / 10)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			phase := math.Mod(now.Sub(g.start).Seconds()/g.cfg.cycle.Seconds(), 1)
			g.logf("[%s] %s", dayClock(phase), g.counts())
		}
	}
}

func (g *generator) counts() string {
	var parts []string
	for i, s := range g.cfg.sites {
		a := &g.answers[i]
		parts = append(parts, fmt.Sprintf("%s 2xx %d 5xx %d failed %d", s.host, a[2].Load(), a[5].Load(), a[0].Load()))
	}
	return strings.Join(parts, "; ")
}

func (g *generator) summary() {
	g.logf("done: %d requests (%d skipped while %d were pending); %s", g.sent.Load(), g.skipped.Load(), g.cfg.maxInFlight, g.counts())
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
