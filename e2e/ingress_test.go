package e2e

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/remotewrite"
)

// This file generates days of ingress-nginx traffic as vmagent would send
// it (one block per scrape), and holds a brute-force reference model of the
// numbers slogate must derive from it. The model shares no code with the
// engine: it applies the counter rules to every generated sample, keeps the
// increments per route and minute, and sums them from scratch for each
// evaluation. Blocks are made one at a time, so that a month of traffic
// never sits in memory.

const scrapeStep = 15 * time.Second

// ingressRoute is one ingress route: its identity labels.
type ingressRoute struct{ namespace, ingress, host, path string }

var ingressRoutes = []ingressRoute{
	{"shop", "web", "shop.example.com", "/"},
	{"shop", "checkout", "shop.example.com", "/checkout"},
	{"api", "api", "api.example.com", "/v1"},
	{"blog", "blog", "blog.example.com", "/"},
}

// pod is an ingress controller pod: a scrape target.
type pod struct {
	name, instance string
	from, to       int // scrapes [from, to) it is up
}

// trafficPlan describes the incidents of a generated stream.
type trafficPlan struct {
	// routes are the routes served; nil means ingressRoutes.
	routes  []ingressRoute
	scrapes int
	// perBlock scrapes go into one block, as vmagent sends a backlog; 0
	// means 1.
	perBlock int
	step     time.Duration // between scrapes; 0 means scrapeStep
	pods     []pod
	// resetAt is a scrape at which pod 0's process restarts (all its
	// counters start again from a small value).
	resetAt int
	// outages: route index -> scrape range [from, to) with mostly 5xx, the
	// status given.
	outages []outage
	// keepSamples makes every series keep its samples (genSeries.points),
	// for checks sample by sample; the reference does not need them.
	keepSamples bool
	// routeStarts: route index -> the scrape at which the route is first
	// served (a new ingress); absent routes are served from the start.
	routeStarts map[int]int
}

type outage struct {
	route    int
	from, to int
	status   string
}

// point is one sample of the generated stream.
type point struct {
	ts int64
	v  float64
}

// genSeries is one generated series.
type genSeries struct {
	route  int
	status string
	pod    int
	labels []remotewrite.Label
	points []point // only with trafficPlan.keepSamples

	last    float64 // the value of the latest sample
	sampled bool    // the series has a sample
}

// minuteTally is one route's increments in one minute.
type minuteTally struct{ good, bad float64 }

// stream is the generated traffic: its series, the reference's tally of
// their increments, and, when made by generate, the blocks in which it is
// sent.
type stream struct {
	start  time.Time
	routes []ingressRoute
	series []*genSeries
	// tally[route][m] holds the increments of minute firstMinute+m
	// (minutes since the epoch).
	tally       [][]minuteTally
	firstMinute int64
	earliest    map[int]int64 // pod -> its first sample's timestamp (ms)
	blocks      [][]byte      // snappy WriteRequests in scrape order
}

func defaultPlan(scrapes int) trafficPlan {
	return trafficPlan{
		scrapes: scrapes,
		pods: []pod{
			{"ingress-nginx-controller-a", "10.0.0.1:10254", 0, scrapes},
			{"ingress-nginx-controller-b", "10.0.0.2:10254", 0, scrapes / 2},
			// b's replacement after a rollout: a new target.
			{"ingress-nginx-controller-c", "10.0.0.3:10254", scrapes / 2, scrapes},
		},
		resetAt: scrapes / 4,
		outages: []outage{
			{route: 0, from: scrapes / 6, to: scrapes/6 + 40, status: "500"},
			{route: 1, from: scrapes * 2 / 3, to: scrapes*2/3 + 120, status: "503"},
		},
	}
}

// generate builds the stream from plan with all its blocks, starting at
// start (aligned to a minute), deterministic for a seed.
func generate(plan trafficPlan, start time.Time, seed uint64) *stream {
	g := newGenerator(plan, start, seed)
	for b := g.next(); b != nil; b = g.next() {
		g.st.blocks = append(g.st.blocks, b)
	}
	return g.st
}

// seriesKey identifies a generated series.
type seriesKey struct {
	route  int
	status string
	pod    int
}

// generator makes the blocks of a stream one at a time, in scrape order;
// the stream's series and tally grow with every block.
type generator struct {
	plan     trafficPlan
	st       *stream
	rng      *rand.Rand
	step     time.Duration
	perBlock int
	scrape   int // the next scrape

	byKey  map[seriesKey]*genSeries
	values map[seriesKey]float64
	// Reused for every block.
	block    []remotewrite.TimeSeries
	raw, enc []byte
}

func newGenerator(plan trafficPlan, start time.Time, seed uint64) *generator {
	routes := plan.routes
	if routes == nil {
		routes = ingressRoutes
	}
	step := plan.step
	if step == 0 {
		step = scrapeStep
	}
	st := &stream{start: start, routes: routes, earliest: map[int]int64{}}
	st.firstMinute = floorDiv(start.UnixMilli(), 60_000)
	minutes := 0 // spanned by the scrapes
	if plan.scrapes > 0 {
		minutes = int(floorDiv(start.Add(time.Duration(plan.scrapes-1)*step).UnixMilli(), 60_000)-st.firstMinute) + 1
	}
	st.tally = make([][]minuteTally, len(routes))
	for ri := range st.tally {
		st.tally[ri] = make([]minuteTally, minutes)
	}
	return &generator{
		plan:     plan,
		st:       st,
		rng:      rand.New(rand.NewPCG(seed, 7)),
		step:     step,
		perBlock: max(plan.perBlock, 1),
		byKey:    map[seriesKey]*genSeries{},
		values:   map[seriesKey]float64{},
	}
}

// blocks returns the number of blocks of the stream.
func (g *generator) blocks() int { return (g.plan.scrapes + g.perBlock - 1) / g.perBlock }

// next returns the next block, a snappy WriteRequest in a slice of its
// own, or nil after the last.
func (g *generator) next() []byte {
	if g.scrape >= g.plan.scrapes {
		return nil
	}
	g.block = g.block[:0]
	for range g.perBlock {
		if g.scrape >= g.plan.scrapes {
			break
		}
		g.scrapeOnce()
		g.scrape++
	}
	g.raw = remotewrite.AppendWriteRequest(g.raw[:0], g.block)
	// snappy.Encode allocates for the worst case when dst is short; the
	// copy keeps only the encoded bytes.
	g.enc = snappy.Encode(g.enc[:cap(g.enc)], g.raw)
	return bytes.Clone(g.enc)
}

// scrapeOnce appends the series of scrape g.scrape to g.block.
func (g *generator) scrapeOnce() {
	plan, st, rng, i := &g.plan, g.st, g.rng, g.scrape
	ts := st.start.Add(time.Duration(i) * g.step).UnixMilli()
	for pi, p := range plan.pods {
		if i < p.from || i >= p.to {
			continue
		}
		if pi == 0 && i == plan.resetAt {
			for k := range g.values {
				if k.pod == 0 {
					g.values[k] = float64(rng.IntN(3))
				}
			}
		}
		for ri := range st.routes {
			if from, ok := plan.routeStarts[ri]; ok && i < from {
				continue
			}
			inc := map[string]float64{
				"200": float64(50 + rng.IntN(100)),
				"404": float64(rng.IntN(3)),
			}
			if ri == 2 && rng.IntN(20) == 0 {
				inc["502"] = 1 // background errors on one route
			}
			for _, o := range plan.outages {
				if o.route == ri && i >= o.from && i < o.to {
					inc[o.status] = float64(40 + rng.IntN(60))
					inc["200"] = math.Floor(inc["200"] / 4)
				}
			}
			for status, d := range inc {
				k := seriesKey{ri, status, pi}
				if g.byKey[k] == nil {
					if d == 0 {
						continue // a status code appears with its first request
					}
					s := &genSeries{route: ri, status: status, pod: pi, labels: ingressLabels(st.routes[ri], status, p)}
					g.byKey[k] = s
					st.series = append(st.series, s)
					// A brand-new pod's counters already count a few
					// requests when first scraped.
					if i == p.from && i > 0 {
						g.values[k] = float64(rng.IntN(20))
					}
				}
				g.values[k] += d
			}
		}
	}
	// Every series of a pod is exposed at every scrape once it exists.
	for k, s := range g.byKey {
		p := plan.pods[k.pod]
		if i < p.from || i >= p.to {
			continue
		}
		v := g.values[k]
		if plan.keepSamples {
			s.points = append(s.points, point{ts, v})
		}
		st.count(s, ts, v)
		g.block = append(g.block, remotewrite.TimeSeries{
			Labels:  s.labels,
			Samples: []remotewrite.Sample{{Value: v, Timestamp: ts}},
		})
	}
	// Non-SLI series ride along, as in every real block.
	g.block = append(g.block, remotewrite.TimeSeries{
		Labels:  []remotewrite.Label{{Name: "__name__", Value: "nginx_ingress_controller_nginx_process_connections"}, {Name: "state", Value: "active"}},
		Samples: []remotewrite.Sample{{Value: float64(rng.IntN(100)), Timestamp: ts}},
	})
}

func ingressLabels(r ingressRoute, status string, p pod) []remotewrite.Label {
	return []remotewrite.Label{
		{Name: "__name__", Value: "nginx_ingress_controller_requests"},
		{Name: "controller_class", Value: "k8s.io/ingress-nginx"},
		{Name: "controller_namespace", Value: "ingress-nginx"},
		{Name: "controller_pod", Value: p.name},
		{Name: "host", Value: r.host},
		{Name: "ingress", Value: r.ingress},
		{Name: "instance", Value: p.instance},
		{Name: "job", Value: "ingress-nginx"},
		{Name: "method", Value: "GET"},
		{Name: "namespace", Value: r.namespace},
		{Name: "path", Value: r.path},
		{Name: "service", Value: r.ingress},
		{Name: "status", Value: status},
	}
}

// sendOrder returns the order in which blocks are sent, as vmagent's
// concurrent queues and retries produce it: every 53rd block swapped with
// its successor, every 97th sent twice (a retry after a lost answer).
func sendOrder(n int) []int {
	order := make([]int, 0, n+n/97)
	for i := 0; i < n; i++ {
		order = append(order, i)
	}
	for i := 53; i+1 < n; i += 53 {
		order[i], order[i+1] = order[i+1], order[i]
	}
	var out []int
	for i, b := range order {
		out = append(out, b)
		if i%97 == 96 {
			out = append(out, b)
		}
	}
	return out
}

// postBlock sends one block to url, retrying while the answer is 503 (the
// upstream is down) as vmagent does; onRetry runs before each retry.
func postBlock(t testing.TB, url string, body []byte, onRetry func()) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := testenv.HTTPClient.Do(req)
		if err != nil {
			t.Fatalf("cannot post block: %s", err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNoContent:
			return
		case resp.StatusCode == http.StatusServiceUnavailable && attempt < 600:
			if onRetry != nil {
				onRetry()
			}
			time.Sleep(50 * time.Millisecond) // vmagent's retry backoff, shortened
		default:
			t.Fatalf("block refused: %d %s", resp.StatusCode, msg)
		}
	}
}

// postLazily sends the blocks of g to url in order (block indexes, as
// sendOrder gives them), making each block when first needed and dropping
// it after its last use: only the blocks between the last one sent and
// the furthest one made are held.
func postLazily(t testing.TB, url string, g *generator, order []int) {
	t.Helper()
	lastUse := make([]int, g.blocks())
	for i := range lastUse {
		lastUse[i] = -1
	}
	for i, b := range order {
		lastUse[b] = i
	}
	held := map[int][]byte{}
	made := 0
	for i, b := range order {
		for ; made <= b; made++ {
			if body := g.next(); lastUse[made] >= 0 {
				held[made] = body
			}
		}
		postBlock(t, url, held[b], nil)
		if lastUse[b] == i {
			delete(held, b)
		}
	}
}

// count applies the counter rules to the sample v at ts (ms) of s, the
// samples of a stream coming in time order, and tallies the increment in
// its route and minute.
func (st *stream) count(s *genSeries, ts int64, v float64) {
	// A target's start decides the first-value rule: the earliest first
	// point of its series of two points or more. Every pod's 200 series
	// starts with the pod and goes on with every scrape, so here that is
	// the pod's earliest sample.
	if _, ok := st.earliest[s.pod]; !ok {
		st.earliest[s.pod] = ts
	}
	var d float64
	switch {
	case s.sampled && v >= s.last:
		d = v - s.last
	case s.sampled:
		d = v // reset
	case st.earliest[s.pod] < ts:
		d = v // a new series of a known target: counted in full
	default:
		d = 0 // baseline
	}
	s.last, s.sampled = v, true
	m := &st.tally[s.route][floorDiv(ts, 60_000)-st.firstMinute]
	if s.status[0] == '5' {
		m.bad += d
	} else {
		m.good += d
	}
}

// retally rebuilds the tally from the series' samples (kept with
// trafficPlan.keepSamples), taken in time order as the generator counts
// them: the reference of a part of a stream.
func (st *stream) retally() {
	type sample struct {
		s  *genSeries
		ts int64
		v  float64
	}
	var all []sample
	for _, s := range st.series {
		s.last, s.sampled = 0, false
		for _, p := range s.points {
			all = append(all, sample{s, p.ts, p.v})
		}
	}
	slices.SortStableFunc(all, func(a, b sample) int { return cmp.Compare(a.ts, b.ts) })
	st.earliest = map[int]int64{}
	st.firstMinute = floorDiv(st.start.UnixMilli(), 60_000)
	minutes := 0
	if n := len(all); n > 0 {
		minutes = int(floorDiv(all[n-1].ts, 60_000)-st.firstMinute) + 1
	}
	st.tally = make([][]minuteTally, len(st.routes))
	for ri := range st.tally {
		st.tally[ri] = make([]minuteTally, minutes)
	}
	for _, x := range all {
		st.count(x.s, x.ts, x.v)
	}
}

// routeTruth is the reference for one route at one evaluation.
type routeTruth struct {
	good, bad                 float64 // raw, minutes before the eval minute
	excludedGood, excludedBad float64
	winGood, winTotal         float64 // 30d window without excluded minutes
}

// reference computes, by brute force from the tally of every sample, every
// route's counts for an evaluation at eval time at (ms): minutes before
// floor(at/1m) count, and masked(route, minute) removes a minute.
func reference(st *stream, at int64, masked func(route int, minute int64) bool) map[int]*routeTruth {
	mT := floorDiv(at, 60_000)
	out := map[int]*routeTruth{}
	for ri := range st.routes {
		rt := &routeTruth{}
		out[ri] = rt
		for i, c := range st.tally[ri] {
			m := st.firstMinute + int64(i)
			if m >= mT {
				break
			}
			rt.good += c.good
			rt.bad += c.bad
			if masked != nil && masked(ri, m) {
				rt.excludedGood += c.good
				rt.excludedBad += c.bad
				continue
			}
			if m >= mT-30*24*60 {
				rt.winTotal += c.good + c.bad
				rt.winGood += c.good
			}
		}
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// approxEqual compares to 1e-9, relative for large values.
func approxEqual(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func routeKey(ri int) string { return ingressRoutes[ri].key() }

// key is the route's `route` label: its identity values joined by "/".
func (r ingressRoute) key() string {
	return fmt.Sprintf("%s/%s/%s/%s", r.namespace, r.ingress, r.host, r.path)
}
