package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slogate/slogate/internal/proc"
)

// minGC is how many garbage collections the live phase of a memory row
// must hold for its peak RSS to count as a steady state.
const minGC = 3

// Windows of the memory rows.
const (
	win30d  = "30d"
	winYear = "year"
)

// memResult is one memory row: slogate with routes busy routes that hold a
// full window of history, then under continuous writes.
type memResult struct {
	Routes int    `json:"routes"`
	Window string `json:"window"` // 30d (rolling) or year (calendar, UTC)
	FromMs int64  `json:"history_from_ms"`
	// History written through slogate (bench/history).
	HistorySamples int64   `json:"history_samples"`
	HistoryBytes   int64   `json:"history_bytes"`
	HistorySeconds float64 `json:"history_s"`
	RSSLoaded      int64   `json:"rss_after_history_bytes"`
	// Steady state: live writes (one sample per series every 15s) for
	// LiveSeconds; PeakRSS is the highest VmRSS sampled every 100ms.
	LiveSeconds float64 `json:"live_s"`
	LiveSteps   int     `json:"live_steps"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
	EndRSS      int64   `json:"end_rss_bytes"`
	HWM         int64   `json:"hwm_bytes"`
	GCCycles    float64 `json:"gc_cycles"`
	// HeapAlloc and NextGC are the Go heap and its GC goal at the end of
	// the live phase: before its next collection the heap grows to NextGC.
	HeapAlloc float64 `json:"heap_alloc_bytes"`
	NextGC    float64 `json:"next_gc_bytes"`
	// HeapIdleResident is the Go heap's free pages not yet given back to
	// the system (HeapIdle - HeapReleased): resident, and where the heap
	// grows first.
	HeapIdleResident float64 `json:"heap_idle_resident_bytes"`
	// The engine's counts off the Go heap at the end of the live phase:
	// in blocks in use, and resident (slogate_engine_counts_bytes).
	CountsUsed     float64 `json:"counts_used_bytes"`
	CountsResident float64 `json:"counts_resident_bytes"`
	LiveCPU        float64 `json:"live_cpu_s"`
	// Engine counters at the end.
	Counted float64 `json:"samples_counted"`
	Ignored float64 `json:"samples_ignored"`
	Engine  float64 `json:"engine_routes"`
	// The snapshot slogate writes when it stops (SIGTERM), and the start
	// that restores it.
	SnapshotBytes   int64   `json:"snapshot_bytes"`
	StopSeconds     float64 `json:"stop_s"`
	RestoreSeconds  float64 `json:"restore_s"`
	RSSRestored     int64   `json:"rss_restored_bytes"`
	RestoredRoutes  float64 `json:"restored_routes"`
	Other           float64 `json:"other_cores"`
	Err             string  `json:"error,omitempty"`
	evalIntervalSec float64
}

// steadyRSS is the steady-state RSS: the peak of the live phase once it
// held minGC garbage collections. With fewer, the peak may precede the
// heap's growth before its next collection: the heap grows from HeapAlloc
// at the end to its goal NextGC (with the default GOGC=100, twice the
// heap live after the last collection) before the next collection frees
// it, first into its free pages that are still resident. So the figure
// is the larger of the peak and the RSS at the end plus the growth beyond
// those pages: an upper bound of what the process reaches once it
// collects regularly.
func (m *memResult) steadyRSS() (rss int64, projected bool) {
	if m.GCCycles >= minGC || m.HeapAlloc <= 0 || m.NextGC <= 0 {
		return m.PeakRSS, false
	}
	if bound := m.EndRSS + m.heapGrowth(); bound > m.PeakRSS {
		return bound, true
	}
	return m.PeakRSS, false
}

// heapGrowth is what the Go heap may add to the RSS before its next
// collection: its growth to NextGC beyond its free resident pages.
func (m *memResult) heapGrowth() int64 {
	return int64(max(0, m.NextGC-m.HeapAlloc-m.HeapIdleResident))
}

// perRoute is the steady-state RSS per route.
func (m *memResult) perRoute() float64 {
	rss, _ := m.steadyRSS()
	return float64(rss) / float64(m.Routes)
}

// stepMicrosPerRoute is slogate's CPU per evaluation step (15s) per route
// in the live phase, in µs: evaluation, emission of the synthetic series,
// the step's writes and GC.
func (m *memResult) stepMicrosPerRoute() float64 {
	steps := m.LiveSeconds / m.evalInterval()
	if steps <= 0 {
		return 0
	}
	return m.LiveCPU / steps / float64(m.Routes) * 1e6
}

func (m *memResult) evalInterval() float64 {
	if m.evalIntervalSec > 0 {
		return m.evalIntervalSec
	}
	return 15
}

// memoryRows runs the memory group (20,000 routes, 30d and year) and the
// scale group (100,000 routes, 30d) into the sink.
func (h *harness) memoryRows() {
	var rows []memResult
	if h.cfg.groups["memory"] {
		for _, w := range []string{win30d, winYear} {
			if slices.Contains(strings.Split(h.cfg.memWindows, ","), w) {
				rows = append(rows, memResult{Routes: h.cfg.memRoutes, Window: w})
			}
		}
	}
	if h.cfg.groups["scale"] {
		rows = append(rows, memResult{Routes: h.cfg.scaleRoutes, Window: win30d})
	}
	for _, m := range rows {
		// About 2.5s of history per 1,000 routes and year, plus the live
		// phase, a stop and a restore.
		need := h.cfg.memLive + time.Duration(m.Routes/1000)*2500*time.Millisecond + 20*time.Second
		name := fmt.Sprintf("memory: %d routes, %s window", m.Routes, m.Window)
		if time.Since(h.started)+need > h.cfg.budget {
			m.Err = fmt.Sprintf("skipped: the run would exceed -budget=%s", h.cfg.budget)
			h.logf("%-58s SKIPPED (time budget)", name)
		} else {
			t := time.Now()
			h.memoryRow(&m)
			if m.Err != "" {
				h.logf("%-58s ERROR %s", name, m.Err)
			} else {
				steady, _ := m.steadyRSS()
				h.logf("%-58s history %.0fM samples in %.0fs, RSS %.0f MiB, peak %.0f MiB (%.0f GC cycles), steady state %.0f MiB = %.1f KiB/route, snapshot %.1f MiB, stop %.1fs, restore %.1fs (%s)",
					name, float64(m.HistorySamples)/1e6, m.HistorySeconds, mib(m.RSSLoaded), mib(m.PeakRSS), m.GCCycles, mib(steady), m.perRoute()/1024,
					mib(m.SnapshotBytes), m.StopSeconds, m.RestoreSeconds, time.Since(t).Round(time.Second))
			}
		}
		h.mem = append(h.mem, m)
	}
}

// historyFrom is where a window's full history begins: 30 days ago, or
// the start of the calendar year (UTC).
func historyFrom(window string, now time.Time) int64 {
	now = now.UTC()
	if window == winYear {
		return time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	}
	return now.Add(-30 * 24 * time.Hour).UnixMilli()
}

func (h *harness) memoryRow(m *memResult) {
	tag := fmt.Sprintf("mem-%d-%s", m.Routes, m.Window)
	cfgPath := filepath.Join(h.tmp, tag+".yml")
	conf := fmt.Sprintf("presets:\n  - {name: ingress-nginx, maxRoutes: %d}\nobjectives:\n  - name: availability\n    slo: 0.999\n    window: %s\n", m.Routes, m.Window)
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		m.Err = err.Error()
		return
	}
	state := filepath.Join(h.tmp, tag+"-state")
	defer os.RemoveAll(state)
	start := func(name string) (*proc.Proc, error) {
		addr, err := proc.FreeAddr()
		if err != nil {
			return nil, err
		}
		// Periodic snapshots every minute (the default is 5m), so that
		// the live phase holds one: its memory is part of the steady
		// state users see. The one written at the stop is measured too.
		// The restore of 100,000 full routes takes minutes.
		return h.startPutWithin(10*time.Minute, name, cpuPut, h.bin.slogate, addr,
			"-httpListenAddr="+addr, "-upstream.url="+h.sinkURL, "-stateDir="+state, "-config="+cfgPath,
			"-sli.maxRoutes="+strconv.Itoa(max(100_000, m.Routes)), "-snapshot.interval=1m")
	}
	put, err := start(tag + "-slogate")
	if err != nil {
		m.Err = err.Error()
		return
	}
	defer func() {
		if put != nil {
			put.Kill()
		}
	}()
	m.FromMs = historyFrom(m.Window, time.Now())
	coarse := "1h"
	if m.Window == winYear {
		coarse = "2h" // the engine keeps a year in days
	}
	args := []string{"-url=" + h.putURL + "/api/v1/write", "-routes=" + strconv.Itoa(m.Routes),
		"-from=" + strconv.FormatInt(m.FromMs, 10), "-coarseStep=" + coarse, "-live=" + h.cfg.memLiveMax.String(), "-events", "-stopOnStdin",
		// Requests as vmagent sends them (-remoteWrite.maxRowsPerBlock).
		"-maxSamples=10000"}
	cmd := exec.Command("taskset", append([]string{"-c", cpuLoad, h.bin.history}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	stdin, _ := cmd.StdinPipe()
	logf, _ := os.Create(filepath.Join(h.logDir, tag+"-history.log"))
	defer logf.Close()
	if err := cmd.Start(); err != nil {
		m.Err = fmt.Sprintf("cannot start the history writer: %s", err)
		return
	}
	pid := put.Pid()
	var (
		mu       sync.Mutex
		sampling bool
		stop     = make(chan struct{})
		done     = make(chan struct{})
	)
	go func() { // VmRSS every 100ms of the live phase
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				mu.Lock()
				if sampling {
					if rss, _, err := proc.MemoryStatus(pid); err == nil {
						m.PeakRSS = max(m.PeakRSS, rss)
					}
				}
				mu.Unlock()
			}
		}
	}()
	var gc0, cpu0 float64
	var s0 snapshot
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		var ev struct {
			Event string `json:"event"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		switch ev.Event {
		case "history_done":
			m.RSSLoaded, _, _ = proc.MemoryStatus(pid)
			gc0 = h.scrape("go_gc_duration_seconds_count")
			cpu0, _ = proc.CPUSeconds(pid)
			s0 = takeSnapshot(pid, cmd.Process.Pid, h.sink.Pid())
			mu.Lock()
			sampling = true
			mu.Unlock()
			// The live phase lasts at least memLive and until slogate has
			// run minGC garbage collections (at most memLiveMax).
			go func(began time.Time) {
				for range time.Tick(time.Second) {
					if time.Since(began) >= h.cfg.memLive && h.scrape("go_gc_duration_seconds_count")-gc0 >= minGC {
						_, _ = stdin.Write([]byte("stop\n"))
						return
					}
					if time.Since(began) > h.cfg.memLiveMax {
						return
					}
				}
			}(time.Now())
		case "live_end":
			mu.Lock()
			sampling = false
			mu.Unlock()
			s1 := takeSnapshot(pid, cmd.Process.Pid, h.sink.Pid())
			cpu1, _ := proc.CPUSeconds(pid)
			m.LiveCPU = cpu1 - cpu0
			m.GCCycles = h.scrape("go_gc_duration_seconds_count") - gc0
			m.EndRSS, m.HWM, _ = proc.MemoryStatus(pid)
			m.HeapAlloc = h.scrape("go_memstats_heap_alloc_bytes")
			m.NextGC = h.scrape("go_memstats_next_gc_bytes")
			m.HeapIdleResident = max(0, h.scrape("go_memstats_heap_idle_bytes")-h.scrape("go_memstats_heap_released_bytes"))
			m.CountsUsed = h.scrape(`slogate_engine_counts_bytes{state="used"}`)
			m.CountsResident = h.scrape(`slogate_engine_counts_bytes{state="resident"}`)
			if w := s1.at.Sub(s0.at).Seconds(); w > 0 {
				ours := 0.0
				for p, c := range s1.cpu {
					ours += c - s0.cpu[p]
				}
				m.Other = max(0, (s1.machine.userSys-s0.machine.userSys)-ours) / w
			}
		}
	}
	close(stop)
	<-done
	if err := cmd.Wait(); err != nil {
		m.Err = fmt.Sprintf("history writer failed: %s (log %s)", err, logf.Name())
		return
	}
	fmt.Fprintln(logf, stdout.String())
	var sum struct {
		Samples int64   `json:"history_samples"`
		Bytes   int64   `json:"history_bytes"`
		Seconds float64 `json:"history_s"`
		Live    float64 `json:"live_s"`
		Steps   int     `json:"live_steps"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		m.Err = fmt.Sprintf("cannot parse the history writer's summary: %s", err)
		return
	}
	m.HistorySamples, m.HistoryBytes, m.HistorySeconds, m.LiveSeconds, m.LiveSteps = sum.Samples, sum.Bytes, sum.Seconds, sum.Live, sum.Steps
	m.Counted = h.scrape("slogate_engine_samples_counted_total")
	m.Ignored = h.scrape("slogate_engine_samples_ignored_total")
	m.Engine = h.scrape("slogate_engine_routes")

	// The snapshot at the stop, then a start that restores it.
	t := time.Now()
	if err := put.Stop(2 * time.Minute); err != nil {
		m.Err = fmt.Sprintf("slogate did not stop cleanly: %s", err)
		return
	}
	m.StopSeconds = time.Since(t).Seconds()
	put = nil
	if fi, err := os.Stat(filepath.Join(state, "engine.snapshot")); err == nil {
		m.SnapshotBytes = fi.Size()
	}
	t = time.Now()
	again, err := start(tag + "-slogate-restore")
	if err != nil {
		m.Err = fmt.Sprintf("cannot restore the snapshot: %s", err)
		return
	}
	m.RestoreSeconds = time.Since(t).Seconds()
	m.RSSRestored, _, _ = proc.MemoryStatus(again.Pid())
	m.RestoredRoutes = h.scrape("slogate_engine_routes")
	again.Kill() // no second snapshot
}

// scrape reads a metric from the process under test's /metrics, summed
// over its label sets.
func (h *harness) scrape(name string) float64 {
	page, err := httpGet(h.putURL + "/metrics")
	if err != nil {
		return 0
	}
	v, _ := scrapeValue(page, name)
	return v
}

// Memory targets of the issue, per route of steady-state RSS.
const (
	targetBytes30d  = 16 << 10
	targetBytesYear = 24 << 10
)

// memoryChecks adds the memory checks to the target table.
func (r *report) memoryChecks(w func(string, ...any)) {
	for _, c := range []struct {
		window string
		target int
	}{{win30d, targetBytes30d}, {winYear, targetBytesYear}} {
		m := r.findMem(r.cfg.memRoutes, c.window)
		if m == nil {
			continue
		}
		rss, projected := m.steadyRSS()
		how := fmt.Sprintf("peak %.0f MiB over %.0fs (%.0f GC cycles)", mib(rss), m.LiveSeconds, m.GCCycles)
		if projected {
			how = fmt.Sprintf("%.0f MiB = RSS at the end %.0f MiB + the heap's growth to its goal %.0f → %.0f MiB before the next collection, less its %.0f MiB of free resident pages (%.0f GC cycles in %.0fs; peak %.0f MiB)",
				mib(rss), mib(m.EndRSS), m.HeapAlloc/(1<<20), m.NextGC/(1<<20), m.HeapIdleResident/(1<<20), m.GCCycles, m.LiveSeconds, mib(m.PeakRSS))
		}
		w("| steady-state RSS per route, %s routes, full %s history, continuous writes | ≤ %d KiB | %s ÷ %s routes = **%.1f KiB**%s | %s |\n",
			commas(m.Routes), windowName(m.Window), c.target>>10, how, commas(m.Routes), m.perRoute()/1024,
			memNoise(m), status(m.perRoute() <= float64(c.target)))
	}
}

func memNoise(m *memResult) string {
	if m.Other > noisyCores {
		return fmt.Sprintf(" — *noisy*: other processes used %.2f cores", m.Other)
	}
	return ""
}

func (r *report) findMem(routes int, window string) *memResult {
	for i := range r.mem {
		if m := &r.mem[i]; m.Routes == routes && m.Window == window && m.Err == "" {
			return m
		}
	}
	return nil
}

func windowName(w string) string {
	if w == winYear {
		return "calendar-year"
	}
	return "rolling " + w
}

// commas formats n with thousands separators.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (r *report) memoryTable(w func(string, ...any)) {
	if len(r.mem) == 0 {
		return
	}
	w("## Memory and scale (slogate → sink)\n\n")
	w("Every route is a busy ingress-nginx route (status 200 at 200-599 requests a minute, ±20%% from minute to minute, 503 at 0-0.75 a minute) holding a full window of history, written through slogate by bench/history with old timestamps (one sample a minute for the last 73h, one an hour or two before). Then live writes, one sample per series every 15s, for %s or more: RSS is sampled every 100ms, peak = steady state with default GOGC; with fewer than %d collections in the phase, the RSS at its end plus the growth of the Go heap to its goal (twice the heap live after a collection, default GOGC) before the next collection beyond its free pages still resident, an upper bound. CPU per step: slogate's CPU in the live phase per 15s evaluation step, per route (evaluation, synthetic series to the sink, the step's writes, GC). Snapshot: the file slogate writes when it stops (SIGTERM), the time that stop took, and the time a new slogate took to restore it and answer /health.\n\n", r.cfg.memLive, minGC)
	w("| routes | window | history samples / time | RSS after history MiB | peak RSS MiB (GC cycles) | steady-state RSS MiB | per route KiB | CPU per step per route | snapshot MiB (per route) | stop / restore s | RSS restored MiB | other | notes |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i := range r.mem {
		m := &r.mem[i]
		if m.Err != "" {
			w("| %s | %s | error | | | | | | | | | | %s |\n", commas(m.Routes), m.Window, oneLine(m.Err))
			continue
		}
		var notes []string
		if m.Ignored > 0 {
			notes = append(notes, fmt.Sprintf("%.0f samples not counted", m.Ignored))
		}
		if int(m.RestoredRoutes) != m.Routes {
			notes = append(notes, fmt.Sprintf("**the restore holds %.0f routes** (logs: bench/out/logs/)", m.RestoredRoutes))
		}
		if int(m.Engine) != m.Routes {
			notes = append(notes, fmt.Sprintf("engine holds %.0f routes", m.Engine))
		}
		if m.CountsResident > 0 {
			notes = append(notes, fmt.Sprintf("at the end: counts %.0f MiB in use, %.0f resident; Go heap %.0f MiB, goal %.0f", m.CountsUsed/(1<<20), m.CountsResident/(1<<20), m.HeapAlloc/(1<<20), m.NextGC/(1<<20)))
		}
		if _, projected := m.steadyRSS(); projected {
			notes = append(notes, fmt.Sprintf("%.0f GC cycles: steady state = RSS at the end + the heap's growth to its GC goal beyond its free resident pages", m.GCCycles))
		}
		if m.Other > noisyCores {
			notes = append(notes, fmt.Sprintf("noisy: other processes used %.2f cores", m.Other))
		}
		rss, _ := m.steadyRSS()
		w("| %s | %s | %.0fM / %.0fs (%.1fM/s) | %.0f | %.0f (%.0f) | %.0f | **%.1f** | %.1f µs | %.1f (%.0f B) | %.1f / %.1f | %.0f | %.2f | %s |\n",
			commas(m.Routes), windowName(m.Window), float64(m.HistorySamples)/1e6, m.HistorySeconds, float64(m.HistorySamples)/1e6/m.HistorySeconds,
			mib(m.RSSLoaded), mib(m.PeakRSS), m.GCCycles, mib(rss), m.perRoute()/1024, m.stepMicrosPerRoute(),
			mib(m.SnapshotBytes), float64(m.SnapshotBytes)/float64(m.Routes), m.StopSeconds, m.RestoreSeconds, mib(m.RSSRestored), m.Other, strings.Join(notes, "; "))
	}
	w("\n")
	r.projection(w)
}

// projection fits cost = fixed + per-route × routes through the two 30d
// rows (memRoutes and scaleRoutes) and projects 1,000,000 routes, as one
// process and as shards of scaleRoutes routes (bench/README.md, "Scale
// model").
func (r *report) projection(w func(string, ...any)) {
	a, b := r.findMem(r.cfg.memRoutes, win30d), r.findMem(r.cfg.scaleRoutes, win30d)
	if a == nil || b == nil || a.Routes == b.Routes {
		return
	}
	const target = 1_000_000
	shards := (target + b.Routes - 1) / b.Routes
	fit := func(ya, yb float64) (fixed, per float64) {
		per = (yb - ya) / float64(b.Routes-a.Routes)
		return ya - per*float64(a.Routes), per
	}
	w("### Projection to %s routes (rolling 30d)\n\n", commas(target))
	w("Linear fit through the %s and %s route rows: cost = fixed + per route × routes. A shard holds %s routes; %d shards hold %s (each its own slogate, each fed the SLI series of its routes).\n\n",
		commas(a.Routes), commas(b.Routes), commas(b.Routes), shards, commas(target))
	w("| figure | fixed | per route | %s routes measured / fitted | one shard (%s) | %d shards | one process of %s |\n|---|---|---|---|---|---|---|\n",
		commas(a.Routes), commas(b.Routes), shards, commas(target))
	// lin writes a figure; the shards' column sums it, or for a time (the
	// shards stop and restore in parallel) is one shard's.
	lin := func(name string, ya, yb float64, unit string, scale float64, perFmt string, parallel bool) {
		fixed, per := fit(ya, yb)
		at := func(n int) float64 { return fixed + per*float64(n) }
		f := func(v float64) string { return fmt.Sprintf("%.2f %s", v/scale, unit) }
		all := f(float64(shards) * at(b.Routes))
		if parallel {
			all = f(at(b.Routes)) + " (in parallel)"
		}
		w("| %s | %s | "+perFmt+" | %s / %s | %s | %s | %s |\n", name, f(fixed), per, f(ya), f(at(a.Routes)), f(at(b.Routes)), all, f(at(target)))
	}
	ra, _ := a.steadyRSS()
	rb, _ := b.steadyRSS()
	lin("steady-state RSS", float64(ra), float64(rb), "GiB", 1<<30, "%.0f B", false)
	lin("snapshot size", float64(a.SnapshotBytes), float64(b.SnapshotBytes), "GiB", 1<<30, "%.0f B", false)
	lin("snapshot time (stop)", a.StopSeconds, b.StopSeconds, "s", 1, "%.2g s", true)
	lin("restore time (start)", a.RestoreSeconds, b.RestoreSeconds, "s", 1, "%.2g s", true)
	lin("CPU per 15s step", a.LiveCPU/(a.LiveSeconds/a.evalInterval()), b.LiveCPU/(b.LiveSeconds/b.evalInterval()), "CPU-s", 1, "%.2g CPU-s", false)
	w("\nShards are independent: the %d-shard column is the sum of their RSS, snapshots and CPU; their stop and restore times are those of one shard, in parallel. CPU per step above 15 CPU-seconds means one process cannot keep up with its evaluation interval on one core.\n\n", shards)
}
