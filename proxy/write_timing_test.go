package proxy

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/vmclient"
)

// The whole write handler: read the body, decompress, scan, forward to the
// upstream (an in-process server answering 204), count the SLI series in
// the real engine. Run:
//
//	go test -run='^$' -bench=ServeWrite -benchmem ./proxy
//
// ns/sample is per sample on the wire (one per series, as vmagent sends
// scrapes); the upstream round trip through an in-memory pipe is included.

const (
	benchSeries  = 1000
	benchSLIStep = 100 // every 100th series is an ingress-nginx counter: 1% SLI
)

// writeBodies returns n snappy bodies of benchSeries series each, the k-th
// with timestamps from + k seconds, so that every body counts; every
// benchSLIStep-th series is an SLI series.
func writeBodies(n int, from int64) [][]byte { return writeBodiesSLI(n, from, benchSLIStep) }

// writeBodiesSLI is writeBodies with every sliStep-th series an SLI series.
func writeBodiesSLI(n int, from int64, sliStep int) [][]byte {
	return writeBodiesSLIStep(n, from, sliStep, 1000)
}

// writeBodiesSLIStep is writeBodiesSLI with the k-th body's timestamps
// from + k*stepMs.
func writeBodiesSLIStep(n int, from int64, sliStep int, stepMs int64) [][]byte {
	series := make([]remotewrite.TimeSeries, benchSeries)
	for i := range series {
		if i%sliStep == 0 {
			r := i / sliStep
			series[i].Labels = []remotewrite.Label{
				{Name: "__name__", Value: "nginx_ingress_controller_requests"},
				{Name: "controller_class", Value: "k8s.io/ingress-nginx"},
				{Name: "controller_namespace", Value: "ingress-nginx"},
				{Name: "controller_pod", Value: "ingress-nginx-controller-7d9f8b6c5-x2x4k"},
				{Name: "host", Value: fmt.Sprintf("shop-%d.example.com", r)},
				{Name: "ingress", Value: fmt.Sprintf("shop-%d", r)},
				{Name: "instance", Value: "10.0.0.7:10254"},
				{Name: "job", Value: "ingress-nginx"},
				{Name: "method", Value: "GET"},
				{Name: "namespace", Value: "shop"},
				{Name: "path", Value: "/"},
				{Name: "service", Value: fmt.Sprintf("shop-%d", r)},
				{Name: "status", Value: []string{"200", "503"}[r%2]},
			}
		} else {
			series[i].Labels = []remotewrite.Label{
				{Name: "__name__", Value: "node_cpu_seconds_total"},
				{Name: "cpu", Value: fmt.Sprint(i % 64)},
				{Name: "instance", Value: fmt.Sprintf("node-%d:9100", i/64)},
				{Name: "job", Value: "node-exporter"},
				{Name: "mode", Value: "user"},
			}
		}
		series[i].Samples = make([]remotewrite.Sample, 1)
	}
	bodies := make([][]byte, n)
	var raw []byte
	for k := range bodies {
		for i := range series {
			series[i].Samples[0] = remotewrite.Sample{Value: float64(k * (1 + i%7)), Timestamp: from + int64(k)*stepMs}
		}
		raw = remotewrite.AppendWriteRequest(raw[:0], series)
		bodies[k] = snappy.Encode(nil, raw)
	}
	return bodies
}

// newWriteServer returns a Server with a real engine (the ingress-nginx
// source) in front of an in-process upstream that accepts every write.
func newWriteServer(tb testing.TB) (*Server, *budget.Engine) {
	tb.Helper()
	return newJournaledWriteServer(tb, &memJournal{})
}

// newJournaledWriteServer is newWriteServer with the route journal j: the
// engine adds its new routes to j, the server syncs it.
func newJournaledWriteServer(tb testing.TB, j *memJournal) (*Server, *budget.Engine) {
	tb.Helper()
	upLn := fasthttputil.NewInmemoryListener()
	go func() {
		_ = fasthttp.Serve(upLn, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) })
	}()
	tb.Cleanup(func() { _ = upLn.Close() })
	client, err := vmclient.New(vmclient.Config{URL: "http://vm:8428", Dial: func(string) (net.Conn, error) { return upLn.Dial() }})
	if err != nil {
		tb.Fatal(err)
	}
	engine := budget.NewEngine(budget.EngineConfig{Sources: []budget.Source{{
		Name: "ingress-nginx", Kind: budget.Availability, Metric: "nginx_ingress_controller_requests",
		RouteLabels: []string{"namespace", "ingress", "host", "path"}, StatusLabel: "status",
		Bad: regexp.MustCompile(`^(?:5..)$`),
	}}, NewRoute: j.add})
	srv, err := NewServer(Config{Client: client, Engine: engine, Journal: j, Reserved: reservedForTest})
	if err != nil {
		tb.Fatal(err)
	}
	return srv, engine
}

// serveBody runs one write through Server.Handle as fasthttp would: the
// body set whole, or with stream, read from it as the server hands over
// every body beyond its first read.
func serveBody(tb testing.TB, srv *Server, ctx *fasthttp.RequestCtx, body []byte, stream *bytes.Reader) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/api/v1/write")
	ctx.Request.Header.SetContentEncoding("snappy")
	if stream != nil {
		stream.Reset(body)
		ctx.Request.SetBodyStream(stream, len(body))
	} else {
		ctx.Request.SetBodyRaw(body)
	}
	srv.Handle(ctx)
	if code := ctx.Response.StatusCode(); code != fasthttp.StatusNoContent {
		tb.Fatalf("write answered %d: %s", code, ctx.Response.Body())
	}
}

// TestAllocationsServeWrite: in steady state a write allocates nothing on
// slogate's side, whatever it holds (every body here counts new samples),
// whether its body came whole or as a stream.
func TestAllocationsServeWrite(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		// make test runs the allocation tests once more without -race.
		t.Skip("coverage and race instrumentation allocate")
	}
	for _, streamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", streamed), func(t *testing.T) {
			srv, engine := newWriteServer(t)
			from := time.Now().Add(-time.Hour).UnixMilli()
			bodies := writeBodies(130, from) // AllocsPerRun calls once more than asked
			var ctx fasthttp.RequestCtx
			var stream *bytes.Reader
			if streamed {
				stream = new(bytes.Reader)
			}
			for _, b := range bodies[:20] { // first sight of every series and route
				serveBody(t, srv, &ctx, b, stream)
			}
			if ctx.Request.IsBodyStream() != streamed {
				t.Fatalf("the request's body is a stream: %v, want %v", !streamed, streamed)
			}
			k := 20
			allocs := testing.AllocsPerRun(100, func() {
				serveBody(t, srv, &ctx, bodies[k], stream)
				k++
			})
			if allocs != 0 {
				t.Fatalf("a write allocates %.1f times per request", allocs)
			}
			if st := engine.Stats(); st.SamplesCounted < 100*benchSeries/benchSLIStep {
				t.Fatalf("the engine counted %d samples, want every SLI sample of the measured writes", st.SamplesCounted)
			}
		})
	}
}

// BenchmarkServeWrite: the whole write handler at 1% SLI series (the
// ns/sample of the bench's 1% rows); BenchmarkServeWriteSLI at 1%, 10% and
// 33%, whose difference is the cost of an SLI sample. Each row reports
// cpu-ns/sample too, the process' CPU time (rusage: the handler, the
// in-process upstream, the GC) per sample, which other load on the machine
// inflates less than the elapsed time; the 10% and 33% rows report
// cpu-ns/SLI-sample, (cpu-ns/sample - cpu-ns/sample at 1%) / (SLI share -
// 1%), once the 1% row ran.
func BenchmarkServeWrite(b *testing.B) { benchServeWrite(b, benchSLIStep) }

func BenchmarkServeWriteSLI(b *testing.B) {
	var base float64 // cpu-ns/sample at sliStep 100
	for _, step := range []int{100, 10, 3} {
		b.Run(fmt.Sprintf("sli=%d%%", 100/step), func(b *testing.B) {
			cpu := benchServeWrite(b, step)
			if step == 100 {
				base = cpu
			} else if base > 0 {
				b.ReportMetric((cpu-base)/(sliShare(step)-sliShare(100)), "cpu-ns/SLI-sample")
			}
		})
	}
}

// sliShare is the share of SLI series in the bodies of writeBodiesSLI.
func sliShare(sliStep int) float64 {
	return float64((benchSeries+sliStep-1)/sliStep) / benchSeries
}

// benchStepMs is how far the timestamps of consecutive bodies lie apart.
// They start benchAgo before the clock, so that they are recent samples,
// as real traffic sends: the engine judges them against its cached clock
// bounds without reading the clock (budget's inTime). 30,000 bodies reach
// the present; benchServeWrite fails rather than measure refused samples.
const (
	benchStepMs = 100
	benchAgo    = 55 * time.Minute
)

// benchServeWrite runs the benchmark and returns its cpu-ns/sample.
func benchServeWrite(b *testing.B, sliStep int) float64 {
	srv, engine := newWriteServer(b)
	from := time.Now().Add(-benchAgo).UnixMilli()
	const chunk = 1024
	bodies := writeBodiesSLIStep(chunk, from, sliStep, benchStepMs)
	var ctx fasthttp.RequestCtx
	serveBody(b, srv, &ctx, bodies[0], nil)
	b.SetBytes(int64(len(bodies[1])))
	b.ReportAllocs()
	b.ResetTimer()
	k := 1
	cpu := -cpuTime() // minus the CPU time outside the measured writes
	for b.Loop() {
		if k == len(bodies) {
			b.StopTimer()
			c := cpuTime()
			from += chunk * benchStepMs
			bodies = writeBodiesSLIStep(chunk, from, sliStep, benchStepMs)
			k = 0
			cpu -= cpuTime() - c
			b.StartTimer()
		}
		serveBody(b, srv, &ctx, bodies[k], nil)
		k++
	}
	cpu += cpuTime()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchSeries, "ns/sample")
	cpuNs := float64(cpu.Nanoseconds()) / float64(b.N) / benchSeries
	b.ReportMetric(cpuNs, "cpu-ns/sample")
	if st := engine.Stats(); st.Future != 0 || st.Past != 0 {
		b.Fatalf("the engine refused %d future and %d past samples: too many iterations for the timestamps (at most %d)", st.Future, st.Past, benchAgo.Milliseconds()/benchStepMs)
	}
	return cpuNs
}

// cpuTime is the CPU time the process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
