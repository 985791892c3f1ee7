package main

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// LoadConfig says how to send. Requests are numbered k = 0, 1, ...; request
// k carries block k % Blocks of round Round0 + k / Blocks, so every block of
// a round goes out before the next round starts.
type LoadConfig struct {
	Target Target
	Bodies *Bodies
	Enc    Encoding
	// Open selects the open loop at Rate requests per second; otherwise the
	// closed loop runs Conns requests back to back.
	Open bool
	Rate float64
	// Conns is the concurrency: connections of the closed loop, the most
	// requests in flight of the open loop.
	Conns int
	// Warmup is sent first and not measured; Duration is the measured window
	// after it. Nothing is sent after Warmup+Duration.
	Warmup, Duration time.Duration
	// MaxRequests bounds the requests of the whole run, warm-up included.
	MaxRequests int64
	// Round0 is the round of request 0.
	Round0 int64
	// Timeout of one request.
	Timeout time.Duration
	// Pre are the bodies of the first requests, made before the run (see
	// Pregenerate); later requests are encoded inline.
	Pre [][]byte
	// Trace keeps every measured request in Result.Trace.
	Trace bool
	// Events receives "measure_start" and "measure_end" at the window
	// boundaries, for a harness that samples /proc then. May be nil.
	Events func(name string)
}

// outcome is one request as a worker saw it.
type outcome struct {
	done    time.Time
	latency time.Duration
	status  int // 0 for a transport error
	// upstream is the time the target's upstream took, as the target
	// said (Server-Timing: upstream;dur=<ms>); 0 if it did not.
	upstream time.Duration
}

// workerStats are one worker's measured requests; merged at the end.
type workerStats struct {
	latencies []time.Duration
	added     []time.Duration // latency - upstream, of requests that said upstream
	trace     []TraceEntry    // only with LoadConfig.Trace
	ok        int64
	bytes     int64
	errors    map[string]int64
	inline    int64 // bodies encoded while sending, not before
	late      int64 // open loop: sent more than 1 ms after the schedule
}

// Result is what a run measured in its window.
type Result struct {
	Window    time.Duration
	OK        int64
	Bytes     int64
	Errors    map[string]int64
	Latencies []time.Duration // sorted
	// Added are, sorted, the latencies less the upstream's time of the
	// requests whose answer said it (slogate's Server-Timing): what the
	// target added to each.
	Added        []time.Duration
	Sent         int64 // requests started, warm-up included
	Inline, Late int64
	LastRound    int64
	// Trace is every measured request, in no order (LoadConfig.Trace).
	Trace []TraceEntry
}

// TraceEntry is one measured request: when it completed, after the start
// of the window, and how long it took.
type TraceEntry struct {
	Done, Latency time.Duration
	Status        int
	// Upstream is the upstream's time the target said (0: none).
	Upstream time.Duration
}

// runLoad sends the load and returns what the measured window saw.
func runLoad(cfg LoadConfig) (*Result, error) {
	if cfg.Conns <= 0 {
		return nil, errors.New("cannot run: concurrency must be positive")
	}
	if cfg.Open && cfg.Rate <= 0 {
		return nil, errors.New("cannot run the open loop: rate must be positive")
	}
	bs := cfg.Bodies
	nb := int64(bs.p.Blocks())
	pre := cfg.Pre
	hc := &fasthttp.HostClient{
		Addr:                          cfg.Target.Addr,
		Name:                          "slogate-loadgen",
		MaxConns:                      cfg.Conns,
		ReadTimeout:                   cfg.Timeout,
		WriteTimeout:                  cfg.Timeout,
		MaxIdleConnDuration:           time.Minute,
		Dial:                          loopbackDial(cfg.Timeout),
		MaxIdemponentCallAttempts:     1,
		DisableHeaderNamesNormalizing: true,
	}
	body := func(buf *BodyBuffer, k int64) ([]byte, bool, error) {
		if k < int64(len(pre)) {
			return pre[k], false, nil
		}
		b, err := bs.Encode(buf, int(k%nb), cfg.Round0+k/nb)
		return b, true, err
	}
	send := func(b []byte) (int, time.Duration) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(cfg.Target.URL)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/x-protobuf")
		req.Header.Set("Content-Encoding", string(cfg.Enc))
		if cfg.Enc == Snappy {
			req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		}
		req.SetBodyRaw(b)
		if err := hc.DoTimeout(req, resp, cfg.Timeout); err != nil {
			return 0, 0
		}
		return resp.StatusCode(), upstreamTiming(resp.Header.Peek("Server-Timing"))
	}

	start := time.Now()
	t0 := start.Add(cfg.Warmup)
	t1 := t0.Add(cfg.Duration)
	// The window's boundary events come from their own goroutine, on time
	// whatever the workers do; the run returns only after both were sent.
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		if cfg.Events == nil {
			return
		}
		time.Sleep(time.Until(t0))
		cfg.Events("measure_start")
		time.Sleep(time.Until(t1))
		cfg.Events("measure_end")
	}()
	var next atomic.Int64 // next request number
	stats := make([]*workerStats, cfg.Conns)
	record := func(st *workerStats, o outcome, size int) {
		if o.done.Before(t0) || o.done.After(t1) {
			return
		}
		st.latencies = append(st.latencies, o.latency)
		if o.upstream > 0 {
			st.added = append(st.added, o.latency-o.upstream)
		}
		if cfg.Trace {
			st.trace = append(st.trace, TraceEntry{Done: o.done.Sub(t0), Latency: o.latency, Status: o.status, Upstream: o.upstream})
		}
		if o.status/100 == 2 {
			st.ok++
			st.bytes += int64(size)
			return
		}
		key := "transport"
		if o.status != 0 {
			key = strconv.Itoa(o.status)
		}
		st.errors[key]++
	}

	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	if !cfg.Open {
		for w := range cfg.Conns {
			st := &workerStats{errors: map[string]int64{}}
			stats[w] = st
			wg.Go(func() {
				var buf BodyBuffer
				for time.Now().Before(t1) {
					k := next.Add(1) - 1
					if k >= cfg.MaxRequests {
						return
					}
					b, inline, err := body(&buf, k)
					if err != nil {
						fail(err)
						return
					}
					if inline {
						st.inline++
					}
					s := time.Now()
					code, up := send(b)
					d := time.Now()
					record(st, outcome{done: d, latency: d.Sub(s), status: code, upstream: up}, len(b))
				}
			})
		}
		wg.Wait()
		<-eventsDone
		return merge(stats, cfg, min(next.Load(), cfg.MaxRequests), nb, firstErr)
	}

	// Open loop: request k is due at start + k/Rate, whatever happened to
	// earlier requests. Latency runs from the due time (or from when the
	// body was ready, if that was later), so a stall shows up in the
	// percentiles instead of silently lowering the rate (coordinated
	// omission).
	type job struct {
		k   int64
		due time.Time
	}
	jobs := make(chan job)
	for w := range cfg.Conns {
		st := &workerStats{errors: map[string]int64{}}
		stats[w] = st
		wg.Go(func() {
			var buf BodyBuffer
			for j := range jobs {
				b, inline, err := body(&buf, j.k)
				if err != nil {
					fail(err)
					continue
				}
				if inline {
					st.inline++
				}
				s := time.Now()
				if s.Sub(j.due) > time.Millisecond {
					st.late++
				}
				from := j.due
				if inline && s.After(from) {
					from = s
				}
				code, up := send(b)
				d := time.Now()
				record(st, outcome{done: d, latency: d.Sub(from), status: code, upstream: up}, len(b))
			}
		})
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	var k int64
	for ; k < cfg.MaxRequests; k++ {
		due := start.Add(time.Duration(k) * interval)
		if !due.Before(t1) {
			break
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		jobs <- job{k: k, due: due}
	}
	close(jobs)
	wg.Wait()
	<-eventsDone
	return merge(stats, cfg, k, nb, firstErr)
}

func merge(stats []*workerStats, cfg LoadConfig, sent, nb int64, err error) (*Result, error) {
	if err != nil {
		return nil, err
	}
	r := &Result{Window: cfg.Duration, Errors: map[string]int64{}, Sent: sent}
	if sent > 0 {
		r.LastRound = cfg.Round0 + (sent-1)/nb
	}
	for _, st := range stats {
		r.OK += st.ok
		r.Bytes += st.bytes
		r.Inline += st.inline
		r.Late += st.late
		r.Latencies = append(r.Latencies, st.latencies...)
		r.Added = append(r.Added, st.added...)
		r.Trace = append(r.Trace, st.trace...)
		for k, v := range st.errors {
			r.Errors[k] += v
		}
	}
	slices.Sort(r.Latencies)
	slices.Sort(r.Added)
	return r, nil
}

// upstreamTiming parses "upstream;dur=<ms>" of a Server-Timing header; 0
// when it is absent or malformed.
func upstreamTiming(v []byte) time.Duration {
	for part := range strings.SplitSeq(string(v), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if name != "upstream" {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			if d, ok := strings.CutPrefix(strings.TrimSpace(p), "dur="); ok {
				if ms, err := strconv.ParseFloat(d, 64); err == nil && ms > 0 {
					return time.Duration(ms * float64(time.Millisecond))
				}
			}
		}
	}
	return 0
}

// percentile returns the q-quantile (0..1) of sorted latencies, nearest
// rank; 0 when there are none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
