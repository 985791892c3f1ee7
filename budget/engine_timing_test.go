package budget

import (
	"fmt"
	"regexp"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/arena"
	"github.com/slogate/slogate/slo"
)

// Benchmarks of the engine's hot paths. Run:
//
//	go test ./budget -run '^$' -bench 'Ingest|Evaluate' -benchmem -count 6 | tee new.txt
//	benchstat old.txt new.txt
//
// and the memory bound: go test ./budget -run TestEngineMemoryPerRoute -v

// nginxSource mirrors the ingress-nginx preset (12 labels per series).
func nginxSource() Source {
	return Source{Name: "ingress-nginx", Kind: Availability, Metric: "nginx_ingress_controller_requests",
		RouteLabels: []string{"namespace", "ingress", "host", "path"}, StatusLabel: "status",
		Bad: regexp.MustCompile(`^(?:5..)$`), MaxRoutes: 100_000}
}

// nginxSeries returns the labels of routes x codes request counters as
// ingress-nginx exports them, spread over 3 controller pods.
func nginxSeries(routes int, codes []string) [][]Label {
	var out [][]Label
	for r := range routes {
		for _, code := range codes {
			pod := fmt.Sprintf("ingress-nginx-controller-7d9f8b6c5-%05d", r%3)
			out = append(out, []Label{
				{Name: "__name__", Value: "nginx_ingress_controller_requests"},
				{Name: "canary", Value: ""},
				{Name: "controller_class", Value: "k8s.io/ingress-nginx"},
				{Name: "controller_namespace", Value: "ingress-nginx"},
				{Name: "controller_pod", Value: pod},
				{Name: "host", Value: fmt.Sprintf("shop-%d.example.com", r)},
				{Name: "ingress", Value: fmt.Sprintf("shop-%d", r)},
				{Name: "instance", Value: "10.0.0." + fmt.Sprint(r%3) + ":10254"},
				{Name: "job", Value: "ingress-nginx"},
				{Name: "method", Value: "GET"},
				{Name: "namespace", Value: "shop"},
				{Name: "path", Value: "/"},
				{Name: "service", Value: fmt.Sprintf("shop-%d", r)},
				{Name: "status", Value: code},
			})
		}
	}
	return out
}

func labelBytes(ls [][]Label) int64 {
	n := 0
	for _, l := range ls {
		for _, x := range l {
			n += len(x.Name) + len(x.Value)
		}
	}
	return int64(n / len(ls))
}

// traefikSeries returns routes x codes request counters of Traefik's
// service metric (6 labels), on 3 instances.
func traefikSeries(routes int, codes []string) [][]Label {
	var out [][]Label
	for r := range routes {
		for _, code := range codes {
			out = append(out, []Label{
				{Name: "__name__", Value: "traefik_service_requests_total"},
				{Name: "code", Value: code},
				{Name: "instance", Value: "10.0.1." + fmt.Sprint(r%3) + ":8080"},
				{Name: "job", Value: "traefik"},
				{Name: "method", Value: "GET"},
				{Name: "protocol", Value: "http"},
				{Name: "service", Value: fmt.Sprintf("shop-%d@kubernetes", r)},
			})
		}
	}
	return out
}

// BenchmarkIngest: one sample per Ingest call, as remote write sends a
// scrape: 10,000 series of 2,000 routes in turn, 15s apart per series.
// Hashing the labels (every label is part of the series' identity) is a
// good part of the cost, so it is measured for 14 and 6 labels.
func BenchmarkIngest(b *testing.B) {
	codes := []string{"200", "201", "304", "404", "503"}
	traefik := nginxSource()
	traefik.Name, traefik.Metric, traefik.RouteLabels, traefik.StatusLabel =
		"traefik-service", "traefik_service_requests_total", []string{"service"}, "code"
	b.Run("labels=14", func(b *testing.B) { benchIngest(b, nginxSource(), nginxSeries(2000, codes)) })
	b.Run("labels=6", func(b *testing.B) { benchIngest(b, traefik, traefikSeries(2000, codes)) })
}

func benchIngest(b *testing.B, src Source, series [][]Label) {
	e := NewEngine(EngineConfig{Sources: []Source{src}})
	ts := time.Now().Add(-24 * time.Hour).UnixMilli()
	v := 0.0
	for _, l := range series { // discover series and routes
		e.Ingest(Tenant{}, l, []Sample{{Value: v, Timestamp: ts}})
	}
	samples := make([]Sample, 1)
	b.SetBytes(labelBytes(series))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(series)
		if j == 0 {
			ts += 15_000
			v += 3
		}
		samples[0] = Sample{Value: v, Timestamp: ts}
		e.Ingest(Tenant{}, series[j], samples)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
}

// BenchmarkIngestParallel: as BenchmarkIngest (14 labels) from GOMAXPROCS
// goroutines sharing one tenant (and its mutex), each with its own series.
// ns/sample is wall time per sample of all goroutines: 1/throughput.
func BenchmarkIngestParallel(b *testing.B) {
	series := nginxSeries(2000, []string{"200", "201", "304", "404", "503"})
	e := NewEngine(EngineConfig{Sources: []Source{nginxSource()}})
	start := time.Now().Add(-24 * time.Hour).UnixMilli()
	for _, l := range series {
		e.Ingest(Tenant{}, l, []Sample{{Value: 0, Timestamp: start}})
	}
	var workers atomic.Int64
	procs := int64(runtime.GOMAXPROCS(0))
	b.SetBytes(labelBytes(series))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := workers.Add(1) - 1
		var mine [][]Label
		for i := int(w); i < len(series); i += int(procs) {
			mine = append(mine, series[i])
		}
		samples := make([]Sample, 1)
		ts, v := start, 0.0
		for i := 0; pb.Next(); i++ {
			j := i % len(mine)
			if j == 0 {
				ts += 15_000
				v += 3
			}
			samples[0] = Sample{Value: v, Timestamp: ts}
			e.Ingest(Tenant{}, mine[j], samples)
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
}

// newLoadedEngine returns an engine with routes routes of a rolling 30d
// window, two series each (200 and 503), and a few minutes of data.
func newLoadedEngine(routes int) (*Engine, int64) {
	return newLoadedEngineWith(routes, EngineConfig{})
}

// newLoadedEngineWith is newLoadedEngine with cfg (its Sources are set).
func newLoadedEngineWith(routes int, cfg EngineConfig) (*Engine, int64) {
	series := nginxSeries(routes, []string{"200", "503"})
	cfg.Sources = []Source{nginxSource()}
	e := NewEngine(cfg)
	ts := time.Now().Add(-time.Hour).UnixMilli()
	for k := range int64(4) {
		for i, l := range series {
			e.Ingest(Tenant{}, l, []Sample{{Value: float64(k * int64(10+i%7)), Timestamp: ts + k*minute}})
		}
	}
	return e, ts + 4*minute
}

// BenchmarkEvaluate: every route's 8 windows, 2 budgets and release state,
// 20,000 routes per op, into a reused slice (AppendStatus): with a few
// minutes of data, and with a full window of busy history (fillBuckets).
// allocs/op and B/op are the garbage of one evaluation step.
func BenchmarkEvaluate(b *testing.B) {
	const routes = 20_000
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("full=%v", full), func(b *testing.B) {
			e, at := newLoadedEngine(routes)
			if full {
				fillBuckets(e)
			}
			dst := e.AppendStatus(nil, Tenant{}, at) // advance every route once
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if dst = e.AppendStatus(dst[:0], Tenant{}, at); len(dst) != routes {
					b.Fatalf("%d routes, want %d", len(dst), routes)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/routes, "ns/route")
		})
	}
}

// BenchmarkEvaluateTimeSlices: BenchmarkEvaluate with a calendar year in
// Asia/Kolkata and 5m time slices (judged from the ring minutes at every
// evaluation), and one service over all routes.
func BenchmarkEvaluateTimeSlices(b *testing.B) {
	const routes = 20_000
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		b.Fatal(err)
	}
	obj := Objective{Name: "availability", SLO: 0.999, SLA: 0.99,
		Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodYear, Location: kolkata},
		Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.99}}
	svc := Service{Name: "all", Objective: obj}
	e, at := newLoadedEngineWith(routes, EngineConfig{Resolve: func(*Source, []Label) Objective { return obj }, Services: []Service{svc}})
	dst := e.AppendStatus(nil, Tenant{}, at)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if dst = e.AppendStatus(dst[:0], Tenant{}, at); len(dst) != routes {
			b.Fatalf("%d routes, want %d", len(dst), routes)
		}
		if n := len(e.EvaluateServices(Tenant{}, at)); n != 1 {
			b.Fatalf("%d services", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/routes, "ns/route")
}

// TestEngineMemoryPerRoute measures the heap of 20,000 routes (two series
// each) with a rolling 30d window, a calendar year, and a calendar year
// judged in 5m time slices, with a few minutes of data and with a full
// window of busy history (fillBuckets), and fails above maxPerRoute.
func TestEngineMemoryPerRoute(t *testing.T) {
	if testing.Short() || raceOn {
		t.Skip("allocates about 1 GB; measures the heap without the race detector")
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	year := slo.Window{Kind: slo.Calendar, Period: slo.PeriodYear, Location: berlin}
	for _, c := range []struct {
		name string
		obj  Objective
	}{
		{"rolling 30d", Objective{Name: "availability", SLO: 0.999, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}}},
		{"year", Objective{Name: "availability", SLO: 0.999, SLA: 0.995, Window: year}},
		{"year, 5m slices", Objective{Name: "availability", SLO: 0.999, SLA: 0.995, Window: year,
			Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.99}, Credits: []slo.Credit{{Below: 0.995, Percent: 10}}}},
	} {
		for _, full := range []bool{false, true} {
			perRoute := engineMemoryPerRoute(t, c.name, func(*Source, []Label) Objective { return c.obj }, full)
			if perRoute > maxPerRoute {
				t.Errorf("%s, full=%v: %.0f bytes per route, want at most %d", c.name, full, perRoute, maxPerRoute)
			}
		}
	}
}

// settleArena collects until the arena's blocks in use stop changing:
// the cleanups that return blocks run after a collection, on their own.
func settleArena() {
	used, same := int64(-1), 0
	for i := 0; i < 200 && same < 3; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond) // the cleanup goroutine runs
		if u := arena.Stats().Used; u != used {
			used, same = u, 0
		} else {
			same++
		}
	}
}

// maxPerRoute is the most heap a route may take in TestEngineMemoryPerRoute
// (a full window of busy history: about 12 KB).
const maxPerRoute = 20 << 10

// engineMemoryPerRoute loads 20,000 routes with the objectives of resolve,
// with a full window of history if full, and returns the heap they take
// per route.
func engineMemoryPerRoute(t *testing.T, name string, resolve func(*Source, []Label) Objective, full bool) float64 {
	const routes = 20_000
	var before, after runtime.MemStats
	settleArena()
	runtime.ReadMemStats(&before)
	arenaBefore := arena.Stats().Used
	e, at := newLoadedEngineWith(routes, EngineConfig{Resolve: resolve, LongestWindow: 366*24*time.Hour + time.Hour})
	if full {
		fillBuckets(e)
	}
	settleArena()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapInuse) - float64(before.HeapInuse)
	counts := float64(arena.Stats().Used - arenaBefore)
	perRoute := (heap + counts) / routes
	storage := 0
	for _, r := range e.lookupTenant(Tenant{}).routes[0] {
		storage += r.b.bytes()
	}
	t.Logf("%s, full=%v: %.0f bytes/route: %.0f on the Go heap, %.0f in the arena; %d of them counts (%d routes, %d series)",
		name, full, perRoute, heap/routes, counts/routes, storage/routes, routes, e.Stats().Series)
	if n := len(e.Evaluate(Tenant{}, at)); n != routes {
		t.Errorf("%s: %d routes, want %d", name, n, routes)
	}
	runtime.KeepAlive(e)
	return perRoute
}

// BenchmarkIngestReordered: as BenchmarkIngest (14 labels), but each
// series' points arrive shuffled within windows of 8 scrapes (2 minutes),
// as a sender with a backlog sends them over several connections: most
// points are reorders inside the series' history.
func BenchmarkIngestReordered(b *testing.B) {
	series := nginxSeries(2000, []string{"200", "201", "304", "404", "503"})
	e := NewEngine(EngineConfig{Sources: []Source{nginxSource()}})
	ts0 := time.Now().Add(-24 * time.Hour).UnixMilli()
	for _, l := range series {
		e.Ingest(Tenant{}, l, []Sample{{Value: 0, Timestamp: ts0}})
	}
	perm := [8]int64{3, 0, 6, 1, 7, 2, 5, 4}
	samples := make([]Sample, 1)
	b.ReportAllocs()
	b.ResetTimer()
	round := int64(0)
	for i := 0; i < b.N; i++ {
		j := i % len(series)
		if j == 0 {
			round++
		}
		k := round&^7 + perm[round&7] + 8 // the scrape this round carries
		samples[0] = Sample{Value: float64(3 * k), Timestamp: ts0 + 15_000*k}
		e.Ingest(Tenant{}, series[j], samples)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
}
