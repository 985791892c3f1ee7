package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/remotewrite"
)

// This file generates days of ingress-nginx traffic as vmagent would send
// it (one block per scrape), and holds a brute-force reference model of the
// numbers slogate must derive from it. The model shares no code with the
// engine: it keeps every point and recomputes everything from scratch.

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
	points []point
}

// stream is the generated traffic: series with their points, and the
// blocks (per scrape) in which they are sent.
type stream struct {
	start  time.Time
	routes []ingressRoute
	series []*genSeries
	blocks [][]byte // snappy WriteRequests, one per scrape, in scrape order
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

// generate builds the stream from plan, starting at start (aligned to a
// minute), deterministic for a seed.
func generate(plan trafficPlan, start time.Time, seed uint64) *stream {
	rng := rand.New(rand.NewPCG(seed, 7))
	routes := plan.routes
	if routes == nil {
		routes = ingressRoutes
	}
	st := &stream{start: start, routes: routes}
	type key struct {
		route  int
		status string
		pod    int
	}
	byKey := map[key]*genSeries{}
	values := map[key]float64{}
	step := plan.step
	if step == 0 {
		step = scrapeStep
	}
	perBlock := max(plan.perBlock, 1)
	var block []remotewrite.TimeSeries
	for i := 0; i < plan.scrapes; i++ {
		ts := start.Add(time.Duration(i) * step).UnixMilli()
		for pi, p := range plan.pods {
			if i < p.from || i >= p.to {
				continue
			}
			if pi == 0 && i == plan.resetAt {
				for k := range values {
					if k.pod == 0 {
						values[k] = float64(rng.IntN(3))
					}
				}
			}
			for ri := range routes {
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
					k := key{ri, status, pi}
					s := byKey[k]
					if s == nil {
						if d == 0 {
							continue // a status code appears with its first request
						}
						s = &genSeries{route: ri, status: status, pod: pi, labels: ingressLabels(routes[ri], status, p)}
						byKey[k] = s
						st.series = append(st.series, s)
						// A brand-new pod's counters already count a few
						// requests when first scraped.
						if i == p.from && i > 0 {
							values[k] = float64(rng.IntN(20))
						}
					}
					values[k] += d
					s.points = append(s.points, point{ts, values[k]})
				}
			}
		}
		// Every series of a pod is exposed at every scrape once it exists.
		for k, s := range byKey {
			p := plan.pods[k.pod]
			if i < p.from || i >= p.to {
				continue
			}
			if n := len(s.points); n == 0 || s.points[n-1].ts != ts {
				s.points = append(s.points, point{ts, values[k]})
			}
			block = append(block, remotewrite.TimeSeries{
				Labels:  s.labels,
				Samples: []remotewrite.Sample{{Value: values[k], Timestamp: ts}},
			})
		}
		// Non-SLI series ride along, as in every real block.
		block = append(block, remotewrite.TimeSeries{
			Labels:  []remotewrite.Label{{Name: "__name__", Value: "nginx_ingress_controller_nginx_process_connections"}, {Name: "state", Value: "active"}},
			Samples: []remotewrite.Sample{{Value: float64(rng.IntN(100)), Timestamp: ts}},
		})
		if (i+1)%perBlock == 0 || i == plan.scrapes-1 {
			st.blocks = append(st.blocks, snappy.Encode(nil, remotewrite.AppendWriteRequest(nil, block)))
			block = block[:0]
		}
	}
	return st
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

// routeTruth is the reference for one route at one evaluation.
type routeTruth struct {
	good, bad                 float64 // raw, minutes before the eval minute
	excludedGood, excludedBad float64
	winGood, winTotal         float64 // 30d window without excluded minutes
}

// reference computes, by brute force, every route's counts for an
// evaluation at eval time at (ms): minutes before floor(at/1m) count, and
// masked(route, minute) removes a minute.
func reference(st *stream, at int64, masked func(route int, minute int64) bool) map[int]*routeTruth {
	mT := floorDiv(at, 60_000)
	// A target's start decides the first-value rule: the earliest first
	// point of its series of two points (distinct timestamps) or more.
	earliest := map[int]int64{}
	for _, s := range st.series {
		first, second := int64(math.MaxInt64), int64(math.MaxInt64)
		for _, p := range s.points {
			switch {
			case p.ts < first:
				first, second = p.ts, first
			case p.ts > first && p.ts < second:
				second = p.ts
			}
		}
		if e, ok := earliest[s.pod]; second != math.MaxInt64 && (!ok || first < e) {
			earliest[s.pod] = first
		}
	}
	out := map[int]*routeTruth{}
	for ri := range st.routes {
		out[ri] = &routeTruth{}
	}
	for _, s := range st.series {
		pts := slices.Clone(s.points)
		sort.Slice(pts, func(i, j int) bool { return pts[i].ts < pts[j].ts })
		pts = slices.CompactFunc(pts, func(a, b point) bool { return a.ts == b.ts })
		bad := s.status[0] == '5'
		for i, p := range pts {
			var d float64
			switch {
			case i > 0 && p.v >= pts[i-1].v:
				d = p.v - pts[i-1].v
			case i > 0:
				d = p.v // reset
			case hasStart(earliest, s.pod) && earliest[s.pod] < p.ts:
				d = p.v // a new series of a known target: counted in full
			default:
				d = 0 // baseline
			}
			m := floorDiv(p.ts, 60_000)
			if m >= mT || d == 0 {
				continue
			}
			rt := out[s.route]
			if bad {
				rt.bad += d
			} else {
				rt.good += d
			}
			if masked != nil && masked(s.route, m) {
				if bad {
					rt.excludedBad += d
				} else {
					rt.excludedGood += d
				}
				continue
			}
			if m >= mT-30*24*60 {
				rt.winTotal += d
				if !bad {
					rt.winGood += d
				}
			}
		}
	}
	return out
}

func hasStart(earliest map[int]int64, pod int) bool {
	_, ok := earliest[pod]
	return ok
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
