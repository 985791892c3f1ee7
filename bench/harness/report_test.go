package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReportChecks renders a report from made-up phases and checks that
// every target appears with the right verdict.
func TestReportChecks(t *testing.T) {
	lg := func(sps float64, p50, p99 float64) lgSummary {
		var s lgSummary
		s.WindowSeconds = 10
		s.SamplesPerSec = sps
		s.Samples = int64(sps * 10)
		s.Requests = s.Samples / 10_000
		s.Latency.P50, s.Latency.P99 = p50, p99
		return s
	}
	res := func(target, up, enc string, sli int, open bool, label string, cpu float64, l lgSummary) result {
		sc := scenario{Target: target, Upstream: up, Enc: enc, SLI: sli, Open: open, Label: label, PutCPUs: cpuPut, Rate: 100}
		return result{scenario: sc, LG: l, Put: procStats{CPU: cpu, Wait: 0.2}, Window: 10, Drained: true}
	}
	var rs []result
	for _, enc := range []string{"snappy", "zstd"} {
		rs = append(rs,
			res(slogate, upSink, enc, 1, false, "max", 9.5, lg(8e6, 15, 40)),  // 0.119 CPU-s/1M
			res(vmagent, upSink, enc, 1, false, "max", 10, lg(2e6, 70, 130)),  // 0.5
			res(slogate, upSink, enc, 10, false, "max", 9.5, lg(4e6, 30, 60)), // 0.238
			res(slogate, upSink, enc, 30, false, "max", 9.5, lg(2e6, 40, 80)), // 0.475
			res(direct, upVM, enc, 1, true, labelHalf, 0, lg(3e5, 10, 20)),    //
			res(slogate, upVM, enc, 1, true, labelHalf, 0.6, lg(3e5, 11, 45)), // +25 ms p99
			res(vmagent, upVM, enc, 1, true, labelHalf, 3, lg(3e5, 9, 15)),    // 1.0
			res(direct, upSink, enc, 1, true, labelHalf, 0, lg(4e6, 0.5, 2)),  //
			res(slogate, upSink, enc, 1, true, labelHalf, 5, lg(4e6, 1.5, 6)), // +4 ms p99
		)
	}
	// vmagent at 30% into the sink with snappy only: zstd's 30% ratio
	// falls back to vmagent at 1%.
	rs = append(rs, res(vmagent, upSink, "snappy", 30, false, "max", 10, lg(1.6e6, 70, 130))) // 0.625
	// zstd into VictoriaMetrics: the answers said VictoriaMetrics' time.
	for i := range rs {
		if rs[i].Target == slogate && rs[i].Upstream == upVM && rs[i].Enc == "zstd" {
			rs[i].LG.Added = latencyMs{Count: 300, P50: 0.8, P99: 3.2}
		}
	}
	two := res(slogate, upSink, "snappy", 1, false, label2Cores, 15, lg(14e6, 15, 40))
	two.Put.Wait = 5 // 1.5 + 0.5 = 2 cores busy or runnable
	rs = append(rs, two)
	r := report{results: rs, cfg: config{warmup: 2 * time.Second, duration: 8 * time.Second, latencyWindow: 16 * time.Second, conns: 16}}
	md := r.markdown()
	for _, want := range []string{
		"snappy, 1% SLI, → sink, each at its max | ≤ 0.20 | 0.119 / 0.500 CPU-s per 1M samples = **0.237** | **FAIL**",
		"zstd, 1% SLI, → VictoriaMetrics, same rate | ≤ 0.20 | 0.200 / 1.000 CPU-s per 1M samples = **0.200** | **PASS**",
		"snappy, **30%** SLI, → sink, each at its max (vmagent at 30%) | ≤ 0.33 | 0.475 / 0.625 CPU-s per 1M samples = **0.760**; against vmagent at 1%: 0.475 / 0.500 = 0.950 | **FAIL**",
		"zstd, **30%** SLI, → sink, each at its max (vmagent at 1% (no 30% run)) | ≤ 0.33 | 0.475 / 0.500 CPU-s per 1M samples = **0.950**; against vmagent at 1%: 0.475 / 0.500 = 0.950 | **FAIL**",
		"CPU per SLI sample, slogate, zstd, → sink (1% → 30% SLI: the difference per additional SLI sample) | ≤ 0.25 µs | (0.475 − 0.119) CPU-s per 1M ÷ 0.29 = **1.228 µs** | **FAIL**",
		"snappy, → VictoriaMetrics (1.00M samples/s) | ≤ 5 ms | p99 45.0 − 20.0 = **25.0 ms** (p50 +1.0 ms) | **FAIL**",
		"zstd, → VictoriaMetrics (1.00M samples/s): per request, latency − VictoriaMetrics' time (Server-Timing) | ≤ 5 ms | p99 **3.2 ms** (p50 0.8 ms, 300 requests); windows compared: p99 45.0 − 20.0 = 25.0 ms | **PASS**",
		"snappy, → sink (1.00M samples/s) | ≤ 5 ms | p99 6.0 − 2.0 = **4.0 ms** (p50 +1.0 ms) | **PASS**",
		"projected **2.22×**",
		"slogate kept **2.00** cores busy or runnable",
		"0.237 at 10% (1.32 µs per additional SLI sample)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

func TestSI(t *testing.T) {
	for v, want := range map[float64]string{12: "12", 4_600: "5k", 6_687_000: "6.69M"} {
		if got := si(v); got != want {
			t.Errorf("si(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestMemoryReport renders the memory rows and the projection from
// made-up figures.
func TestMemoryReport(t *testing.T) {
	mk := func(routes int, window string, peak, snap int64, stop float64, cpu float64) memResult {
		return memResult{Routes: routes, Window: window, PeakRSS: peak, SnapshotBytes: snap, StopSeconds: stop, RestoreSeconds: stop / 2,
			LiveSeconds: 60, LiveCPU: cpu, GCCycles: 4, Engine: float64(routes), RestoredRoutes: float64(routes), HistorySamples: 1e8, HistorySeconds: 10}
	}
	r := report{cfg: config{memRoutes: 20_000, scaleRoutes: 100_000, memLive: time.Minute}, mem: []memResult{
		mk(20_000, win30d, 20_000*15<<10+50<<20, 20_000*4000, 1.0, 4),     // 15 KiB + 50 MiB fixed
		mk(20_000, winYear, 20_000*25<<10, 20_000*6000, 1.5, 4),           // 25 KiB
		mk(100_000, win30d, 100_000*15<<10+50<<20, 100_000*4000, 4.2, 20), // same slope
	}}
	// Fewer than 3 GC cycles: the end RSS plus the growth to the GC goal.
	r.mem[1].GCCycles, r.mem[1].EndRSS, r.mem[1].HeapAlloc, r.mem[1].NextGC = 1, 300<<20, 150<<20, 400<<20
	r.mem[1].HeapIdleResident = 50 << 20
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	r.memoryChecks(w)
	r.memoryTable(w)
	md := b.String()
	for _, want := range []string{
		"20,000 routes, full rolling 30d history, continuous writes | ≤ 16 KiB |",
		"= **17.6 KiB** | **FAIL**", // 15 KiB + 50 MiB / 20,000
		"20,000 routes, full calendar-year history, continuous writes | ≤ 24 KiB |",
		"500 MiB = RSS at the end 300 MiB + the heap's growth to its goal 150 → 400 MiB before the next collection, less its 50 MiB of free resident pages (1 GC cycles in 60s; peak 488 MiB) ÷ 20,000 routes = **25.6 KiB** | **FAIL**",
		"| steady-state RSS | 0.05 GiB | 15360 B |",
		"| snapshot size | 0.00 GiB | 4000 B |",
		"| 4.20 s | 4.20 s (in parallel) |", // snapshot time: the shards stop at once
		"10 shards hold 1,000,000",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("memory report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

// TestMedianRun: a repeated phase reports its run of median CPU per
// sample, with every run's figure; failed runs do not count.
func TestMedianRun(t *testing.T) {
	run := func(cpu float64, err string) result {
		return result{Put: procStats{CPU: cpu}, LG: lgSummary{Samples: 1e6, Requests: 100}, Err: err}
	}
	m := medianRun([]result{run(0.3, ""), run(0.1, ""), run(0.2, "")})
	if m.cpuPerMillion() != 0.2 || !slices.Equal(m.Runs, []float64{0.3, 0.1, 0.2}) {
		t.Fatalf("median of 0.3, 0.1, 0.2: %.3f, runs %v", m.cpuPerMillion(), m.Runs)
	}
	if n := notes(&m); !strings.Contains(n, "median of 3 runs (CPU-s/1M 0.300, 0.100, 0.200)") {
		t.Fatalf("notes %q", n)
	}
	m = medianRun([]result{run(0.3, ""), run(0, "boom"), run(0.1, "")})
	if m.Err != "" || m.cpuPerMillion() != 0.1 || len(m.Runs) != 2 {
		t.Fatalf("median of 0.3, failed, 0.1: %.3f err %q runs %v", m.cpuPerMillion(), m.Err, m.Runs)
	}
	m = medianRun([]result{run(0, "a"), run(0, "b")})
	if m.Err != "b" {
		t.Fatalf("every run failed: err %q, want the last", m.Err)
	}
	if m = medianRun([]result{run(0.4, "")}); m.Runs != nil || m.cpuPerMillion() != 0.4 {
		t.Fatalf("one run: %.3f runs %v", m.cpuPerMillion(), m.Runs)
	}
}
