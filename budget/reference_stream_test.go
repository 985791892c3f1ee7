package budget

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// The random streams. A world is one tenant: ingress and edge targets
// scraping request counters and latency histograms of a few hosts, with
// outages, status codes appearing mid-stream, counter resets, pod restarts
// (new instance, staleness markers), scrape gaps, NaN values and clock
// skew. Its delivery path delays, retries and reorders blocks (within a
// few scrapes), swaps a new target's first blocks, and holds a target's
// blocks during a stall to send them late, several samples per series.

type streamSpec struct {
	seed     uint64
	length   time.Duration
	interval time.Duration
	hosts    []string
	evals    int   // evaluations at random times, plus one at the end
	start    int64 // Unix ms; 0 means 2026-03-09T00:00:00Z
}

type simCall struct {
	labels  []Label
	samples []Sample
}

type simEvent struct {
	at     int64
	seq    int
	tenant Tenant
	calls  []simCall
	setMsk bool
	eval   bool
}

type simTarget struct {
	job, base, instance string
	offset              int64
	restarts, scrapes   int
	counters            map[string]*simCounter
	order               []string
	gapUntil, stallEnd  int64
	backlog             [][]simCall
}

type simCounter struct {
	labels  []Label
	v       float64
	present bool
}

type simWorld struct {
	spec    streamSpec
	rng     *rand.Rand
	tenant  Tenant
	targets []*simTarget
	outages map[string][][2]int64
	events  *[]simEvent
}

func (w *simWorld) emit(ev simEvent) {
	ev.seq = len(*w.events)
	ev.tenant = w.tenant
	*w.events = append(*w.events, ev)
}

func (w *simWorld) binomial(n int, p float64) int {
	k := 0
	for range n {
		if w.rng.Float64() < p {
			k++
		}
	}
	return k
}

func (w *simWorld) inc(tg *simTarget, labels []Label, d int, show bool) {
	key := labelsText(labels)
	c := tg.counters[key]
	if c == nil {
		c = &simCounter{labels: labels}
		tg.counters[key] = c
		tg.order = append(tg.order, key)
	}
	c.v += float64(d)
	c.present = c.present || show || d > 0
}

// scrape advances tg's counters by one interval and returns its block.
func (w *simWorld) scrape(tg *simTarget, ts int64) []simCall {
	for _, host := range w.spec.hosts {
		paths := []string{""}
		if tg.job == "ingress" {
			paths = []string{"/", "/api"}
		}
		hostReq := 0
		for _, path := range paths {
			n := w.rng.IntN(40)
			errFrac := 0.002
			for _, o := range w.outages[host] {
				if o[0] <= ts && ts < o[1] {
					errFrac = 0.2 + 0.8*w.rng.Float64()
				}
			}
			counts := map[string]int{"500": w.binomial(n, errFrac), "404": w.binomial(n, 0.01), "429": w.binomial(n, 0.005)}
			if w.rng.IntN(2) == 0 {
				counts["503"], counts["500"] = counts["500"], 0
			}
			n200 := n
			for _, code := range []string{"404", "429", "500", "503"} {
				n200 -= counts[code]
				labels := []Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: code}, {Name: "host", Value: host},
					{Name: "instance", Value: tg.instance}, {Name: "job", Value: tg.job}}
				if path != "" {
					labels = append(labels, Label{Name: "path", Value: path})
				}
				w.inc(tg, labels, counts[code], false)
			}
			labels := []Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: "200"}, {Name: "host", Value: host},
				{Name: "instance", Value: tg.instance}, {Name: "job", Value: tg.job}}
			if path != "" {
				labels = append(labels, Label{Name: "path", Value: path})
			}
			w.inc(tg, labels, max(n200, 0), true)
			hostReq += n
		}
		fast := w.binomial(hostReq, 0.7)
		ok := fast + w.binomial(hostReq-fast, 0.5)
		for le, d := range map[string]int{"0.1": fast, "0.5": ok, "1": ok + (hostReq-ok)/2, "+Inf": hostReq} {
			w.inc(tg, []Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "host", Value: host},
				{Name: "instance", Value: tg.instance}, {Name: "job", Value: tg.job}, {Name: "le", Value: le}}, d, true)
		}
	}
	var calls []simCall
	for _, key := range tg.order {
		if c := tg.counters[key]; c.present {
			v := c.v
			switch r := w.rng.Float64(); {
			case r < 0.002:
				v = math.NaN()
			case r < 0.004:
				v = staleNaN
			}
			calls = append(calls, simCall{labels: c.labels, samples: []Sample{{Value: v, Timestamp: ts}}})
		}
	}
	return calls
}

// run generates the world's scrapes and their deliveries.
func (w *simWorld) run(start, end int64) {
	iv := w.spec.interval.Milliseconds()
	for tick := start; tick < end; tick += iv {
		for _, tg := range w.targets {
			ts := tick + tg.offset
			if ts < tg.gapUntil {
				continue
			}
			switch r := w.rng.Float64(); {
			case r < 0.002:
				tg.gapUntil = ts + (5+w.rng.Int64N(35))*minute
				continue
			case r < 0.003: // counter reset: the process restarted
				for _, c := range tg.counters {
					c.v = 0
					c.present = c.present && refLabel(c.labels, "code") == "200" || refLabel(c.labels, "le") != ""
				}
			case r < 0.0035: // pod restart: stale markers, then a new instance
				var calls []simCall
				for _, key := range tg.order {
					if tg.counters[key].present {
						calls = append(calls, simCall{tg.counters[key].labels, []Sample{{Value: staleNaN, Timestamp: ts}}})
					}
				}
				w.emit(simEvent{at: ts + 1000, calls: calls})
				tg.restarts++
				tg.instance = fmt.Sprintf("%s-%d", tg.base, tg.restarts)
				tg.counters, tg.order, tg.scrapes = map[string]*simCounter{}, nil, 0
				continue
			}
			calls := w.scrape(tg, ts)
			tg.scrapes++
			if r := w.rng.Float64(); r < 0.003 { // clock skew: refused, or accepted ahead
				skew := (1 + w.rng.Int64N(7)) * minute
				if r < 0.0015 {
					skew = (11 + w.rng.Int64N(9)) * minute
				}
				for i := range calls {
					calls[i].samples = []Sample{{Value: calls[i].samples[0].Value, Timestamp: ts + skew}}
				}
			}
			if ts < tg.stallEnd {
				tg.backlog = append(tg.backlog, calls)
				continue
			}
			if len(tg.backlog) > 0 { // the stall ends: one block, several samples per series
				merged := map[string]*simCall{}
				var flush []simCall
				for _, b := range tg.backlog {
					for _, c := range b {
						k := labelsText(c.labels)
						if merged[k] == nil {
							flush = append(flush, simCall{labels: c.labels})
							merged[k] = &flush[len(flush)-1]
						}
					}
				}
				for _, b := range tg.backlog {
					for _, c := range b {
						m := merged[labelsText(c.labels)]
						m.samples = append(m.samples, c.samples...)
					}
				}
				w.emit(simEvent{at: ts, calls: flush})
				tg.backlog = nil
			}
			if w.rng.Float64() < 0.001 {
				tg.stallEnd = ts + (20+w.rng.Int64N(70))*minute
			}
			at := ts + 500 + w.rng.Int64N(15_000)
			if tg.scrapes <= 2 && w.rng.IntN(2) == 0 || w.rng.Float64() < 0.03 {
				at += iv * (1 + w.rng.Int64N(3)) // reordered behind later blocks
			}
			w.emit(simEvent{at: at, calls: calls})
			if w.rng.Float64() < 0.02 { // retried block
				w.emit(simEvent{at: at + w.rng.Int64N(3*iv), calls: calls})
			}
		}
	}
}

// randomMasks changes the mask set: some masks go, some are shortened, new
// ones cover random stretches of the past two days, the present, the near
// future, or the minute horizon (where minutes are being finalized).
func randomMasks(rng *rand.Rand, old []Mask, now int64, hosts []string) []Mask {
	var out []Mask
	for _, m := range old {
		switch r := rng.Float64(); {
		case r < 0.3: // deleted
		case r < 0.5:
			tm := m.(*testMask)
			iv := tm.ivs[0]
			iv.End = iv.Start + (iv.End-iv.Start)/2
			out = append(out, &testMask{match: tm.match, ivs: []Interval{iv}})
		default:
			out = append(out, m)
		}
	}
	matches := []map[string]string{{}, {"host": hosts[0]}, {"host": hosts[len(hosts)-1]},
		{"source": "web-latency"}, {"customer": "acme"}, {"host": hosts[0], "path": "/api"}}
	for i := range 1 + rng.IntN(2) {
		start := now - rng.Int64N(48*time.Hour.Milliseconds()) + rng.Int64N(time.Hour.Milliseconds())
		if i == 0 && rng.IntN(2) == 0 { // at the minute horizon, where minutes are being finalized
			start = now - 72*time.Hour.Milliseconds() - rng.Int64N(time.Hour.Milliseconds())
		}
		out = append(out, &testMask{match: matches[rng.IntN(len(matches))],
			ivs: []Interval{{Start: start, End: start + 2*minute + rng.Int64N(6*time.Hour.Milliseconds())}}})
	}
	return out
}

func refSources() []Source {
	byPath := webSource()
	byPath.Name, byPath.RouteLabels = "web-by-path", []string{"host", "path"}
	byPath.Bad = regexp.MustCompile(`^(?:5..|429)$`)
	byPath.Filter = map[string]*regexp.Regexp{"job": regexp.MustCompile(`^(?:ingress)$`)}
	return []Source{webSource(), byPath, latencySource()}
}

func refResolve(berlin *time.Location) func(src *Source, route []Label) Objective {
	return func(src *Source, route []Label) Objective {
		host := route[0].Value
		switch {
		case src.Name == "web" && strings.HasPrefix(host, "a."):
			return Objective{Name: "availability", SLO: 0.999, SLA: 0.995, Contract: []Label{{Name: "customer", Value: "acme"}},
				Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}}
		case src.Name == "web" && strings.HasPrefix(host, "b."):
			return Objective{Name: "availability", SLO: 0.99, SLA: 0.98,
				Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: berlin}}
		case src.Name == "web-by-path":
			return Objective{Name: "availability", SLO: 0.995, Window: slo.Window{Kind: slo.Rolling, Length: 7 * 24 * time.Hour}}
		}
		return DefaultObjective(src)
	}
}

// runStream feeds one random stream of two tenants to the engine and the
// reference and compares every status at every evaluation.
func runStream(t *testing.T, spec streamSpec) {
	t.Helper()
	runStreamWith(t, spec, streamConfig{resolve: refResolve})
}

// streamConfig is what a stream's engine and reference are configured with
// beyond the sources.
type streamConfig struct {
	resolve  func(berlin *time.Location) func(src *Source, route []Label) Objective
	services []Service
	longest  time.Duration // 0: the default
}

// runStreamWith is runStream with objectives, services and the longest
// window of cfg; it compares the services too.
func runStreamWith(t *testing.T, spec streamSpec, cfg streamConfig) {
	t.Helper()
	events, start, _, rng, berlin := genStream(t, spec)
	var masks []Mask
	now := start
	longest := cfg.longest
	if longest == 0 {
		longest = defaultLongestWindow
	}
	e := NewEngine(EngineConfig{Sources: refSources(), Resolve: cfg.resolve(berlin), Services: cfg.services, LongestWindow: longest,
		Now: func() time.Time { return time.UnixMilli(now) }})
	ref := newRefModel(refSources(), cfg.resolve(berlin), defaultMinuteHorizon, defaultMaxFuture, longest)
	ref.services = cfg.services
	evals := 0
	for _, ev := range events {
		now = ev.at
		switch {
		case ev.setMsk:
			masks = randomMasks(rng, masks, now, spec.hosts)
			e.SetMasks(masks)
			ref.setMasks(masks)
		case ev.eval:
			evals++
			at := now - rng.Int64N(45_000)
			where := func(tn Tenant) string {
				return fmt.Sprintf("seed %d, tenant %v, eval at %s (+%s)", spec.seed, tn,
					time.UnixMilli(at).UTC().Format(time.RFC3339), time.Duration(at-start)*time.Millisecond)
			}
			for _, tn := range []Tenant{{}, {AccountID: 7, ProjectID: 3}} {
				want := ref.evaluate(tn, at)
				got := e.Evaluate(tn, at)
				if len(got) != len(want) {
					t.Fatalf("%s: %d routes, want %d", where(tn), len(got), len(want))
				}
				for _, g := range got {
					w, ok := want[g.Source+"|"+g.Route]
					if !ok {
						t.Fatalf("seed %d: unexpected route %s|%s", spec.seed, g.Source, g.Route)
					}
					if d := compareStatus(g, w); len(d) > 0 {
						t.Fatalf("%s, route %s|%s:\n%s", where(tn), g.Source, g.Route, strings.Join(d, "\n"))
					}
				}
				if len(cfg.services) == 0 {
					continue
				}
				wantSvc := ref.evaluateServices(tn, at)
				gotSvc := e.EvaluateServices(tn, at)
				if len(gotSvc) != len(wantSvc) {
					t.Fatalf("%s: %d service SLIs, want %d", where(tn), len(gotSvc), len(wantSvc))
				}
				// Services in configuration order, then By values.
				order := func(g ServiceStatus) (int, string) {
					var vals []string
					for _, l := range g.Labels {
						vals = append(vals, l.Value)
					}
					return slices.IndexFunc(cfg.services, func(s Service) bool { return s.Name == g.Service }), strings.Join(vals, "\xff")
				}
				if !slices.IsSortedFunc(gotSvc, func(a, b ServiceStatus) int {
					ai, av := order(a)
					bi, bv := order(b)
					return cmp.Or(cmp.Compare(ai, bi), cmp.Compare(av, bv))
				}) {
					t.Errorf("%s: services out of order", where(tn))
				}
				for _, g := range gotSvc {
					if testing.Verbose() && ev.seq == events[len(events)-1].seq {
						t.Logf("%s: service %s %v: routes %d, good %d bad %d, slices %+v, window slices %+v, %s window %d/%d, sla remaining %.4g",
							where(tn), g.Service, g.Labels, g.Routes, g.Good, g.Bad, g.Slices, g.WindowSlices,
							g.Windows[slo.WindowCompliance].Name, g.Windows[slo.WindowCompliance].Good, g.Windows[slo.WindowCompliance].Total, g.SLA.RemainingRatio)
					}
					key := refServiceKey(g.Service, g.Labels)
					w, ok := wantSvc[key]
					if !ok {
						t.Fatalf("%s: unexpected service SLI %q", where(tn), key)
					}
					if d := compareServiceStatus(g, w); len(d) > 0 {
						t.Fatalf("%s, service %q:\n%s", where(tn), key, strings.Join(d, "\n"))
					}
				}
			}
		default:
			for _, c := range ev.calls {
				e.Ingest(ev.tenant, c.labels, c.samples)
				ref.ingest(ev.tenant, c.labels, c.samples, now)
			}
		}
	}
	st := e.Stats()
	if st.RoutesRefused != 0 || st.RoutesForgotten != 0 || st.Expired != 0 {
		t.Errorf("seed %d: stats %+v: the stream left the exact range", spec.seed, st)
	}
	t.Logf("seed %d: %d evaluations, stats %+v", spec.seed, evals, st)
}

func TestReferenceShortStreams(t *testing.T) {
	seeds := 10
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		runStream(t, streamSpec{seed: uint64(seed), length: 4 * time.Hour, interval: 30 * time.Second,
			hosts: []string{"a.example", "b.example"}, evals: 12})
	}
}

func TestReferenceTwoDays(t *testing.T) {
	seeds := 2
	if testing.Short() {
		seeds = 1
	}
	for seed := range seeds {
		runStream(t, streamSpec{seed: 100 + uint64(seed), length: 48 * time.Hour, interval: 2 * time.Minute,
			hosts: []string{"a.example", "b.example", "c.example"}, evals: 8})
	}
}

func TestReference35Days(t *testing.T) {
	seeds := 2
	if testing.Short() {
		seeds = 1
	}
	for seed := range seeds {
		runStream(t, streamSpec{seed: 200 + uint64(seed), length: 35 * 24 * time.Hour, interval: 15 * time.Minute,
			hosts: []string{"a.example", "b.example"}, evals: 6})
	}
}
