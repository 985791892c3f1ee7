// Command loadgen sends realistic remote-write load to a server on this
// machine and prints a JSON summary: throughput, errors and latency
// percentiles of a measured window after a warm-up.
//
// Load: blocks of 10,000 samples (one per series, as vmagent sends
// scrapes), a fixed share of ingress-nginx series, the rest node-exporter
// series; successive rounds advance the timestamps and grow the counters
// like successive scrapes. Snappy (Prometheus remote write) or zstd
// (VictoriaMetrics remote write protocol).
//
// Modes: the closed loop (-mode=closed) keeps -conns requests in flight back
// to back and measures the maximum throughput; the open loop (-mode=open)
// sends -rate requests per second on schedule, whatever the answers, and
// measures latency at that load.
//
// Bounds: only loopback targets; the run ends after -warmup + -duration
// (at most 10m) or -requests requests, whichever comes first.
//
// Of slogate it imports only remotewrite's encoder (AppendWriteRequest),
// which the round-trip tests of remotewrite check against the scanner.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "loadgen: %s\n", err)
		os.Exit(1)
	}
}

// maxRunTime bounds warm-up plus measured window.
const maxRunTime = 10 * time.Minute

// Summary is the JSON printed on stdout.
type Summary struct {
	URL             string           `json:"url"`
	Mode            string           `json:"mode"`
	Encoding        Encoding         `json:"encoding"`
	SLIPercent      int              `json:"sli_percent"`
	Conns           int              `json:"conns"`
	TargetRate      float64          `json:"target_rate_rps,omitempty"`
	SamplesPerBlock int              `json:"samples_per_block"`
	BlocksPerRound  int              `json:"blocks_per_round"`
	Series          int              `json:"series"`
	SLISeries       int              `json:"sli_series"`
	WarmupSeconds   float64          `json:"warmup_s"`
	WindowSeconds   float64          `json:"window_s"`
	Requests        int64            `json:"requests_ok"`
	Errors          map[string]int64 `json:"errors"`
	Samples         int64            `json:"samples_ok"`
	SamplesPerSec   float64          `json:"samples_per_s"`
	RequestsPerSec  float64          `json:"requests_per_s"`
	BytesPerRequest float64          `json:"bytes_per_request"`
	Latency         LatencySummary   `json:"latency_ms"`
	// Added is the latency less the upstream's time, over the requests
	// whose answer said it (Server-Timing: upstream;dur=): what the
	// target itself added. Count 0 when none did.
	Added           LatencySummary `json:"added_ms"`
	Sent            int64          `json:"requests_sent_total"`
	Pregenerated    int            `json:"bodies_pregenerated"`
	Inline          int64          `json:"bodies_encoded_inline"`
	Late            int64          `json:"late_dispatches"`
	Round0          int64          `json:"first_round"`
	LastRound       int64          `json:"last_round"`
	StartMs         int64          `json:"start_ms"`
	LastTimestampMs int64          `json:"last_timestamp_ms"`
}

// LatencySummary holds percentiles in milliseconds over the window.
type LatencySummary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		target      = fs.String("url", "", "remote write URL on this machine, e.g. http://127.0.0.1:8490/api/v1/write (required; loopback only)")
		encName     = fs.String("encoding", "snappy", "snappy (Prometheus remote write) or zstd (VictoriaMetrics remote write protocol)")
		sli         = fs.Int("sli", 1, "percent of ingress-nginx series in every block")
		perBlock    = fs.Int("samplesPerBlock", 10_000, "samples (series) per request")
		routes      = fs.Int("routes", 0, "distinct ingress routes; 0 means enough for -sliSeries at 12 status codes per route, at least 2000")
		sliSeries   = fs.Int("sliSeries", 0, "ingress series (routes x status codes) in the universe, rounded up to whole blocks; 0 means at least 3000 and 2 x -conns blocks per round, so that a series' samples are not in flight together (see InOrderSLISeries; the open loop counts at most 16 in flight)")
		startMs     = fs.Int64("start", 0, "timestamp of round 0 in Unix ms; 0 means now-70h rounded to the interval (inside slogate's 72h minute horizon and far from its 10m future limit)")
		interval    = fs.Duration("interval", 15*time.Second, "timestamp advance per round (the scrape interval)")
		round0      = fs.Int64("round0", 0, "round of the first request; continue a previous run against the same process with its last_round+1")
		mode        = fs.String("mode", "closed", "closed (max throughput with -conns connections) or open (fixed -rate)")
		conns       = fs.Int("conns", 16, "closed loop: connections sending back to back; open loop: most requests in flight")
		rate        = fs.Float64("rate", 0, "open loop: requests per second")
		warmup      = fs.Duration("warmup", 2*time.Second, "load sent before the measured window")
		duration    = fs.Duration("duration", 10*time.Second, "measured window")
		maxRequests = fs.Int64("requests", 1_000_000, "most requests of the whole run, warm-up included")
		timeout     = fs.Duration("timeout", 30*time.Second, "timeout of one request")
		pregen      = fs.Int("pregen", 0, "bodies encoded before sending starts, on every CPU (zstd: use about rate x (warmup+duration)); later ones are encoded inline")
		pregenCache = fs.String("pregenCache", "", "directory where pregenerated bodies are kept and reused by later runs with the same payload, -start and -round0 (give -start explicitly)")
		gate        = fs.Bool("gate", false, "after preparing, print {\"event\":\"ready\"} on stderr and wait for a line on stdin before sending (lets a harness re-pin the CPUs)")
		scattered   = fs.Bool("scattered", false, "send the ingress series of one route far apart (every SLI sample another route's) instead of together, as a scrape of an ingress controller lists them")
		traceFile   = fs.String("trace", "", "write every measured request (completion time after the window start, latency, status) as CSV to this file, to see when slow requests happen")
		events      = fs.Bool("events", false, "print {\"event\":\"measure_start\"} and {\"event\":\"measure_end\"} on stderr at the window boundaries")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *target == "" {
		return errors.New("-url is required")
	}
	tgt, err := ParseTarget(*target)
	if err != nil {
		return err
	}
	enc, err := ParseEncoding(*encName)
	if err != nil {
		return err
	}
	open := false
	switch *mode {
	case "closed":
	case "open":
		open = true
		if *rate <= 0 {
			return errors.New("-mode=open needs a positive -rate")
		}
	default:
		return fmt.Errorf("cannot use -mode=%q: want closed or open", *mode)
	}
	if *warmup < 0 || *duration <= 0 || *warmup+*duration > maxRunTime {
		return fmt.Errorf("cannot run -warmup=%s -duration=%s: the window must be positive and both together at most %s", *warmup, *duration, maxRunTime)
	}
	if *maxRequests <= 0 {
		return errors.New("-requests must be positive")
	}
	if *interval < time.Millisecond {
		return errors.New("-interval must be at least 1ms")
	}
	if *startMs == 0 {
		iv := interval.Milliseconds()
		*startMs = (time.Now().Add(-70*time.Hour).UnixMilli() / iv) * iv
	}

	if *sliSeries == 0 {
		// The open loop's -conns is a limit; at the bench's rates far
		// fewer requests are in flight than the closed loop's default.
		inFlight := *conns
		if open {
			inFlight = min(inFlight, 16)
		}
		*sliSeries = InOrderSLISeries(*perBlock, *sli, inFlight)
	}
	if *routes == 0 {
		*routes = max(2000, (*sliSeries+len(ingressStatuses)-1)/len(ingressStatuses))
	}
	pcfg := PayloadConfig{
		SamplesPerBlock: *perBlock, SLIPercent: *sli, Routes: *routes, SLISeries: *sliSeries, Scattered: *scattered,
		Start: *startMs, IntervalMs: interval.Milliseconds(),
	}
	p, err := NewPayload(pcfg)
	if err != nil {
		return err
	}
	cacheFile := ""
	if *pregenCache != "" {
		pcfg.defaults()
		cacheFile = cacheName(*pregenCache, enc, pcfg, *round0)
	}
	bodies, err := NewBodies(p, enc)
	if err != nil {
		return err
	}
	pre, err := Pregenerate(bodies, int(min(int64(*pregen), *maxRequests)), *round0, cacheFile)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	event := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "{\"event\":%q,\"unix_ms\":%d}\n", name, time.Now().UnixMilli())
	}
	if *gate {
		event("ready")
		if _, err := bufio.NewReader(stdin).ReadString('\n'); err != nil {
			return fmt.Errorf("cannot read the start line on stdin: %w", err)
		}
	}
	cfg := LoadConfig{
		Target: tgt, Bodies: bodies, Enc: enc, Open: open, Rate: *rate, Conns: *conns,
		Warmup: *warmup, Duration: *duration, MaxRequests: *maxRequests, Round0: *round0,
		Timeout: *timeout, Pre: pre, Trace: *traceFile != "",
	}
	if *events {
		cfg.Events = event
	}
	res, err := runLoad(cfg)
	if err != nil {
		return err
	}
	if *traceFile != "" {
		if err := writeTrace(*traceFile, res.Trace); err != nil {
			return err
		}
	}
	s := summarize(res, p, cfg)
	s.URL, s.Mode, s.SLIPercent, s.StartMs = *target, *mode, *sli, *startMs
	enc2 := json.NewEncoder(stdout)
	enc2.SetIndent("", "  ")
	return enc2.Encode(s)
}

func summarize(res *Result, p *Payload, cfg LoadConfig) Summary {
	sec := res.Window.Seconds()
	s := Summary{
		Encoding:        cfg.Enc,
		Conns:           cfg.Conns,
		SamplesPerBlock: p.SamplesPerBlock(),
		BlocksPerRound:  p.Blocks(),
		Series:          p.Series(),
		SLISeries:       p.SLISeries(),
		WarmupSeconds:   cfg.Warmup.Seconds(),
		WindowSeconds:   sec,
		Requests:        res.OK,
		Errors:          res.Errors,
		Samples:         res.OK * int64(p.SamplesPerBlock()),
		SamplesPerSec:   float64(res.OK*int64(p.SamplesPerBlock())) / sec,
		RequestsPerSec:  float64(res.OK) / sec,
		Sent:            res.Sent,
		Pregenerated:    len(cfg.Pre),
		Inline:          res.Inline,
		Late:            res.Late,
		Round0:          cfg.Round0,
		LastRound:       res.LastRound,
		LastTimestampMs: p.Timestamp(res.LastRound),
	}
	if cfg.Open {
		s.TargetRate = cfg.Rate
	}
	if res.OK > 0 {
		s.BytesPerRequest = float64(res.Bytes) / float64(res.OK)
	}
	s.Latency = latencySummary(res.Latencies)
	s.Added = latencySummary(res.Added)
	return s
}

// latencySummary summarizes sorted latencies.
func latencySummary(l []time.Duration) LatencySummary {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s := LatencySummary{Count: len(l)}
	if len(l) > 0 {
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		s.Mean = ms(sum / time.Duration(len(l)))
		s.P50 = ms(percentile(l, 0.50))
		s.P90 = ms(percentile(l, 0.90))
		s.P99 = ms(percentile(l, 0.99))
		s.P999 = ms(percentile(l, 0.999))
		s.Max = ms(l[len(l)-1])
	}
	return s
}

// writeTrace writes the measured requests as CSV, ordered by completion.
func writeTrace(path string, trace []TraceEntry) error {
	slices.SortFunc(trace, func(a, b TraceEntry) int { return cmp.Compare(a.Done, b.Done) })
	var b strings.Builder
	b.WriteString("done_ms,latency_ms,status,upstream_ms\n")
	for _, e := range trace {
		fmt.Fprintf(&b, "%.3f,%.3f,%d,%.3f\n", float64(e.Done.Microseconds())/1000, float64(e.Latency.Microseconds())/1000, e.Status, float64(e.Upstream.Microseconds())/1000)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("cannot write trace: %w", err)
	}
	return nil
}
