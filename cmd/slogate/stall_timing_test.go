package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/remotewrite"
)

// How long writes wait while slogate evaluates its routes and writes their
// synthetic series: the evaluation step that the bench's latency rows see
// once per 15s. slogate runs there on one CPU (GOMAXPROCS=1), so a step
// that keeps the only P busy for its whole length, or holds a lock the
// write path needs through it, stalls every write that arrives meanwhile.
// Run:
//
//	go test -run='^$' -bench=WriteStall -benchtime=5x -count=3 ./cmd/slogate
//
// The writer (a write of 1,000 series, 1% SLI, every millisecond) and the
// upstream sink run in a process of their own. step-ms is the wall time of
// one emitter step and step-cpu-ms its CPU time; stall-ms is the longest
// latency of a write sent during the step, from its scheduled send time
// (an open loop, as the bench's latency phases), averaged over the steps,
// worst-stall-ms the longest of all; idle-ms is the longest latency of the
// writes before and after the step, the floor the machine allows.

const (
	stallCodes        = 3    // status codes per route: 200, 404, 503
	stallSeriesPerReq = 1000 // series per measured write, 1% SLI
	stallRate         = time.Millisecond
)

// stallRig is a slogate wired as serve wires it (newApp, restore,
// wireHTTP), serving on a loopback listener and forwarding to the load
// process' sink, with routes ingress-nginx routes of history.
type stallRig struct {
	a      *app
	load   *loadProcess
	url    string
	routes int
	sli    []remotewrite.TimeSeries // every route's series, stallCodes each
	filler []remotewrite.TimeSeries
	ts     int64 // event time of the last round
	value  float64
	raw    []byte
	ctx    fasthttp.RequestCtx
}

func newStallRig(tb testing.TB, routes int) *stallRig {
	tb.Helper()
	load := startLoadProcess(tb)
	o := defaultOptions()
	o.StateDir = tb.TempDir()
	o.UpstreamURL = "http://" + load.sink
	a, err := newApp(o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.restore(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.journal.Close() })
	if err := a.wireHTTP(); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = a.srv.Serve(ln) }()
	tb.Cleanup(func() { _ = a.srv.Shutdown(context.Background()) })

	r := &stallRig{a: a, load: load, url: "http://" + ln.Addr().String() + "/api/v1/write", routes: routes}
	for i := range routes {
		for _, code := range []string{"200", "404", "503"}[:stallCodes] {
			r.sli = append(r.sli, remotewrite.TimeSeries{Labels: []remotewrite.Label{
				{Name: "__name__", Value: "nginx_ingress_controller_requests"},
				{Name: "controller_class", Value: "k8s.io/ingress-nginx"},
				{Name: "controller_namespace", Value: "ingress-nginx"},
				{Name: "controller_pod", Value: "ingress-nginx-controller-7d9f8b6c5-x2x4k"},
				{Name: "host", Value: fmt.Sprintf("shop-%d.example.com", i)},
				{Name: "ingress", Value: fmt.Sprintf("shop-%d", i)},
				{Name: "instance", Value: "10.0.0.7:10254"},
				{Name: "job", Value: "ingress-nginx"},
				{Name: "method", Value: "GET"},
				{Name: "namespace", Value: "shop"},
				{Name: "path", Value: "/"},
				{Name: "service", Value: fmt.Sprintf("shop-%d", i)},
				{Name: "status", Value: code},
			}, Samples: make([]remotewrite.Sample, 1)})
		}
	}
	for i := range stallSeriesPerReq - stallSeriesPerReq/100 {
		r.filler = append(r.filler, remotewrite.TimeSeries{Labels: []remotewrite.Label{
			{Name: "__name__", Value: "node_cpu_seconds_total"},
			{Name: "cpu", Value: fmt.Sprint(i % 64)},
			{Name: "instance", Value: fmt.Sprintf("node-%d:9100", i/64)},
			{Name: "job", Value: "node-exporter"},
			{Name: "mode", Value: "user"},
		}, Samples: make([]remotewrite.Sample, 1)})
	}
	// Event time as in the bench: well in the past, a round every 15s.
	r.ts = time.Now().Add(-70 * time.Hour).UnixMilli()
	r.ts -= r.ts % 15_000
	for range 120 { // half an hour of history
		r.round(tb)
	}
	return r
}

// round writes every SLI series once more, 15s of event time later,
// straight into the handler.
func (r *stallRig) round(tb testing.TB) {
	tb.Helper()
	r.ts += 15_000
	r.value += 100
	for i := range r.sli {
		r.sli[i].Samples[0] = remotewrite.Sample{Value: r.value + float64(i%7), Timestamp: r.ts}
	}
	for s := 0; s < len(r.sli); s += 5000 {
		r.raw = remotewrite.AppendWriteRequest(r.raw[:0], r.sli[s:min(s+5000, len(r.sli))])
		c := &r.ctx
		c.Request.Reset()
		c.Response.Reset()
		c.Request.Header.SetMethod(fasthttp.MethodPost)
		c.Request.SetRequestURI("/api/v1/write")
		c.Request.Header.SetContentEncoding("snappy")
		c.Request.SetBodyRaw(snappy.Encode(nil, r.raw))
		r.a.srv.Handle(c)
		if code := c.Response.StatusCode(); code != fasthttp.StatusNoContent {
			tb.Fatalf("round write answered %d: %s", code, c.Response.Body())
		}
	}
}

// bodies returns n write bodies of stallSeriesPerReq series each: node
// series and 1% SLI series, the k-th one's SLI samples k ms after the last
// round, so that every write counts.
func (r *stallRig) bodies(n int) [][]byte {
	out := make([][]byte, n)
	series := slices.Clone(r.filler)
	nsli := stallSeriesPerReq / 100
	for k := range out {
		series = series[:len(r.filler)]
		for j := range nsli {
			s := r.sli[(k*nsli+j)%len(r.sli)]
			s.Samples = []remotewrite.Sample{{Value: r.value + 50, Timestamp: r.ts + 1 + int64(k)}}
			series = append(series, s)
		}
		for i := range r.filler {
			series[i].Samples[0] = remotewrite.Sample{Value: float64(k), Timestamp: r.ts + int64(k)}
		}
		r.raw = remotewrite.AppendWriteRequest(r.raw[:0], series)
		out[k] = snappy.Encode(nil, r.raw)
	}
	return out
}

// stallRun is what one measured step saw.
type stallRun struct {
	step, cpu   time.Duration // wall and CPU time of the emitter step
	stall, idle time.Duration // longest write latency during the step, and without it
	writes      int           // writes sent during the step
}

// measure has the load process send writes every stallRate on schedule
// (an open loop) for lead without a step (the idle figure), then while one
// emitter step runs, and reports the longest latencies. The round written
// before makes the step a new one, which evaluates every route and writes
// its series.
func (r *stallRig) measure(tb testing.TB, lead time.Duration) stallRun {
	tb.Helper()
	r.round(tb)
	n := int(2 * lead / stallRate)
	var file []byte
	for _, b := range r.bodies(n) {
		file = binary.AppendUvarint(file, uint64(len(b)))
		file = append(file, b...)
	}
	path := filepath.Join(tb.TempDir(), "bodies")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		tb.Fatal(err)
	}
	// The garbage of preparing the writes is collected now, not by a
	// collection that the writes or the step would start.
	runtime.GC()
	if _, err := fmt.Fprintf(r.load.in, "run %s %s\n", r.url, path); err != nil {
		tb.Fatal(err)
	}
	if line, err := r.load.out.ReadString('\n'); err != nil || line != "started\n" {
		tb.Fatalf("load process: %q, %v", line, err)
	}
	time.Sleep(lead)
	// The step runs on a thread of its own (nothing else runs on a
	// locked thread), so that the thread's CPU time is the step's.
	runtime.LockOSThread()
	cpu0 := threadCPU()
	stepStart := time.Now()
	r.a.emitter.Step()
	stepEnd := time.Now()
	cpu := threadCPU() - cpu0
	runtime.UnlockOSThread()
	run := stallRun{step: stepEnd.Sub(stepStart), cpu: cpu}
	time.Sleep(lead)
	if _, err := fmt.Fprintln(r.load.in, "stop"); err != nil {
		tb.Fatal(err)
	}
	for k := 0; ; k++ {
		line, err := r.load.out.ReadString('\n')
		if err != nil {
			tb.Fatalf("load process: %v", err)
		}
		if line == "end\n" {
			break
		}
		var sched, done int64
		var code int
		if _, err := fmt.Sscanf(line, "%d %d %d", &sched, &done, &code); err != nil || code != fasthttp.StatusNoContent {
			tb.Fatalf("load process: write %d: %q (%v)", k, line, err)
		}
		lat := time.Duration(done - sched)
		if done > stepStart.UnixNano() && sched < stepEnd.UnixNano() {
			run.stall = max(run.stall, lat)
			run.writes++
		} else {
			run.idle = max(run.idle, lat)
		}
	}
	return run
}

// loadProcess is the writer and the upstream, in a process of their own
// (this test binary, run as TestStallLoadProcess): in slogate's process
// they would wait for its one P as its own handlers do, and measure
// themselves.
type loadProcess struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	sink string // address of its upstream sink
}

const loadProcessEnv = "SLOGATE_STALL_LOAD_PROCESS"

func startLoadProcess(tb testing.TB) *loadProcess {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStallLoadProcess$")
	cmd.Env = append(os.Environ(), loadProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &loadProcess{cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	tb.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	line, err := p.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "sink ") {
		tb.Fatalf("load process: %q, %v", line, err)
	}
	p.sink = strings.TrimSpace(strings.TrimPrefix(line, "sink "))
	return p
}

// TestStallLoadProcess is the load process of the stall measurements, not
// a test: it serves a sink that answers 204, prints its address, and for
// every "run <url> <bodies file>" line on stdin sends the bodies, one
// every stallRate on schedule, each in its own goroutine, in a loop until
// the next line ("stop"), then prints one
// "<scheduled> <done> <status>" line per write (Unix ns) and "end".
func TestStallLoadProcess(t *testing.T) {
	if os.Getenv(loadProcessEnv) == "" {
		t.Skip("the load process of BenchmarkWriteStall")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = fasthttp.Serve(ln, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) })
	}()
	fmt.Printf("sink %s\n", ln.Addr())
	hc := &fasthttp.Client{MaxConnsPerHost: 512, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	lines := make(chan string)
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			lines <- in.Text()
		}
		close(lines)
	}()
	for line := range lines {
		var url, path string
		if _, err := fmt.Sscanf(line, "run %s %s", &url, &path); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var bodies [][]byte
		for len(file) > 0 {
			n, k := binary.Uvarint(file)
			bodies = append(bodies, file[k:k+int(n)])
			file = file[k+int(n):]
		}
		type result struct {
			sched, done int64
			code        int
		}
		var results []result
		var mu sync.Mutex
		var wg sync.WaitGroup
		fmt.Println("started")
		start := time.Now()
	send:
		for k := 0; ; k++ {
			sched := start.Add(time.Duration(k) * stallRate)
			select {
			case <-lines:
				break send
			case <-time.After(time.Until(sched)):
			}
			body := bodies[k%len(bodies)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.Header.SetMethod(fasthttp.MethodPost)
				req.SetRequestURI(url)
				req.Header.SetContentEncoding("snappy")
				req.SetBodyRaw(body)
				code := 0
				if err := hc.Do(req, resp); err == nil {
					code = resp.StatusCode()
				}
				done := time.Now().UnixNano()
				mu.Lock()
				results = append(results, result{sched.UnixNano(), done, code})
				mu.Unlock()
			}()
		}
		wg.Wait()
		w := bufio.NewWriter(os.Stdout)
		for _, r := range results {
			fmt.Fprintf(w, "%d %d %d\n", r.sched, r.done, r.code)
		}
		fmt.Fprintln(w, "end")
		w.Flush()
	}
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// withOneP runs f with GOMAXPROCS=1, as slogate runs on one CPU.
func withOneP(f func()) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
}

// BenchmarkWriteStall: writes during an evaluation step of 2,000 routes
// (the bench's load) and of 10,000, on one P.
func BenchmarkWriteStall(b *testing.B) {
	for _, routes := range []int{2000, 10_000} {
		b.Run(fmt.Sprintf("routes=%d", routes), func(b *testing.B) {
			r := newStallRig(b, routes)
			withOneP(func() {
				r.measure(b, 20*time.Millisecond) // warm: the first step
				var sum stallRun
				var worst time.Duration
				b.ResetTimer()
				for b.Loop() {
					run := r.measure(b, 30*time.Millisecond)
					sum.step += run.step
					sum.cpu += run.cpu
					sum.stall += run.stall
					sum.idle = max(sum.idle, run.idle)
					worst = max(worst, run.stall)
				}
				ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
				n := float64(b.N)
				b.ReportMetric(ms(sum.step)/n, "step-ms")
				b.ReportMetric(ms(sum.cpu)/n, "step-cpu-ms")
				b.ReportMetric(ms(sum.stall)/n, "stall-ms")
				b.ReportMetric(ms(worst), "worst-stall-ms")
				b.ReportMetric(ms(sum.idle), "idle-ms")
			})
		})
	}
}

// TestWriteStallDuringStep: on one P, a write sent while an evaluation
// step of 10,000 routes runs waits far less than the step's CPU time: the
// step gives way to the writes (synthetic.Pacer, budget's Yield). Before
// it did, the writes waited for most of the step (about 90 ms of a 100 ms
// step); now they wait about 10 ms. The bound, a quarter of the step's CPU
// time, in the median of three steps, leaves room for a loaded machine.
func TestWriteStallDuringStep(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("loads 10,000 routes of history; times writes without the race detector")
	}
	r := newStallRig(t, 10_000)
	withOneP(func() {
		r.measure(t, 20*time.Millisecond) // the first step
		var runs []stallRun
		for range 3 {
			runs = append(runs, r.measure(t, 30*time.Millisecond))
		}
		slices.SortFunc(runs, func(a, b stallRun) int { return int(a.stall - b.stall) })
		cpus := []time.Duration{runs[0].cpu, runs[1].cpu, runs[2].cpu}
		slices.Sort(cpus)
		for _, run := range runs {
			t.Logf("step %v (CPU %v): longest write %v during it (%d writes), %v without", run.step, run.cpu, run.stall, run.writes, run.idle)
		}
		if stall, cpu := runs[1].stall, cpus[1]; stall > cpu/4 {
			t.Fatalf("writes waited up to %v during an evaluation step of %v CPU time (median of 3), want at most a quarter of it", stall, cpu)
		}
	})
}
