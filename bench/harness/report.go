package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where and on what the benchmark ran.
type machine struct {
	Date        string `json:"date"`
	NProc       int    `json:"nproc"`
	Model       string `json:"cpu_model"`
	MemTotal    string `json:"mem_total"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	Commit      string `json:"slogate_commit"`
	VMVersion   string `json:"vm_version"`
	LoadAvgFrom string `json:"loadavg_start"`
	LoadAvgTo   string `json:"loadavg_end"`
}

func collectMachine(root string, bin binaries, cfg config) machine {
	m := machine{
		Date:        time.Now().UTC().Format("2006-01-02 15:04 MST"),
		NProc:       runtime.NumCPU(),
		GoVersion:   runtime.Version(),
		LoadAvgFrom: loadavg(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:")), "%d kB", &kb); err == nil {
			m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.GoVersion = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		out, _ := cmd.Output()
		return strings.TrimSpace(string(out))
	}
	switch {
	case cfg.slogateBin != "":
		m.Commit = "binary " + cfg.slogateBin
	case cfg.slogateRev != "":
		m.Commit = git("rev-parse", "--short", cfg.slogateRev) + " (-slogate.rev=" + cfg.slogateRev + ")"
	default:
		m.Commit = git("rev-parse", "--short", "HEAD")
		if git("status", "--porcelain", "--", "cmd", "proxy", "remotewrite", "budget", "go.mod", "go.sum") != "" {
			m.Commit += " + uncommitted changes in the working tree (cmd/, proxy/, remotewrite/, budget/)"
		}
	}
	m.VMVersion = "victoria-metrics " + moduleVersion(bin.vm) + ", vmagent " + moduleVersion(bin.vmagent)
	return m
}

// moduleVersion reads the main module's version from a Go binary's build
// information (go install builds print no -version).
func moduleVersion(bin string) string {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "mod" {
			return f[2]
		}
	}
	return "?"
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// report renders RESULTS.md.
type report struct {
	machine machine
	results []result
	mem     []memResult
	cfg     config
	total   time.Duration
	command string
}

// Targets of the issue.
const (
	targetCPURatio   = 0.20 // slogate CPU per sample / vmagent's, at 1% SLI
	targetCPURatio30 = 0.33 // the same at 30% SLI
	// targetSLISampleUs is the CPU of one SLI sample in µs: the difference
	// between 30% and 1% SLI per additional SLI sample.
	targetSLISampleUs = 0.25
	targetAddedP99ms  = 5.0 // added p99 at 50% load
	targetScaling     = 1.7 // two cores / one core
)

func (r *report) find(target, up, enc string, sli int, open bool, label string) *result {
	for i := range r.results {
		x := &r.results[i]
		if x.Target == target && x.Upstream == up && x.Enc == enc && x.SLI == sli && x.Open == open && x.Label == label && x.Err == "" {
			return x
		}
	}
	return nil
}

func status(ok bool) string {
	if ok {
		return "**PASS**"
	}
	return "**FAIL**"
}

func (r *report) markdown() string {
	r.machine.LoadAvgTo = loadavg()
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := r.machine
	w("# slogate benchmark results\n\n")
	w("Written by `make bench` (bench/harness); how to read it: bench/README.md.\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s |\n", m.Date)
	w("| machine | %d CPUs (nproc), %s, %s RAM, Linux %s |\n", m.NProc, m.Model, m.MemTotal, m.Kernel)
	w("| toolchain | %s |\n", m.GoVersion)
	w("| slogate | %s |\n", m.Commit)
	w("| VictoriaMetrics, vmagent | %s |\n", m.VMVersion)
	w("| command | `%s` |\n", r.command)
	w("| run time | %s |\n", r.total.Round(time.Second))
	w("| phases | warm-up %s, then a measured window of %s (maximum throughput: closed loop, %d connections) or %s (latency: open loop, up to 64 requests in flight); a phase that a CPU check reads runs %d times, its run of median CPU per sample counts; slogate and vmagent at the same rate into VictoriaMetrics run in turns |\n", r.cfg.warmup, r.cfg.duration, r.cfg.conns, r.cfg.latencyWindow, max(1, r.cfg.repeat))
	w("| load average (1m 5m 15m) | start %s, end %s |\n", m.LoadAvgFrom, m.LoadAvgTo)
	w("| CPU layout | process under test on CPU %s; into the sink, load generator and sink on CPU %s; into VictoriaMetrics, VictoriaMetrics alone on CPU %s and the load generator on CPU %s |\n\n", cpuPut, cpuLoad, cpuUpstream, cpuLoadVM)

	other, n, worst := 0.0, 0, 0.0
	engine := 0.0
	for _, x := range r.results {
		if x.Err == "" {
			other += x.Other
			worst = max(worst, x.Other)
			n++
		}
		engine = max(engine, x.SLISamples)
	}
	if n > 0 && other/float64(n) > 0.1 {
		w("> **Warning: the machine was not quiet.** Processes outside the benchmark used %.2f cores on average during the measured windows (worst phase %.2f of %d). CPU-seconds per sample are the least affected figure; throughput and latency are pessimistic. Rerun on an idle machine for reference numbers.\n\n", other/float64(n), worst, m.NProc)
	}
	if engine > 0 {
		w("slogate's SLI engine was active: up to %.0f SLI samples counted per phase (`slogate_sli_samples_total`).\n\n", engine)
	} else {
		w("slogate ran as a pure proxy (decode and scan every write, forward it; `slogate_sli_samples_total` stayed 0): no SLI engine was wired in the binary measured.\n\n")
	}

	r.checks(w)
	r.scenarioTables(w)
	r.latencyTable(w)
	r.scalingTable(w)
	r.memoryTable(w)
	r.errorList(w)
	return b.String()
}

func (r *report) checks(w func(string, ...any)) {
	w("## Target checks\n\n| check | target | measured | status |\n|---|---|---|---|\n")
	for _, enc := range []string{"snappy", "zstd"} {
		// Into the sink both run at their own maximum; into
		// VictoriaMetrics both run at the same rate, half of slogate's
		// maximum (see group in main.go for why).
		for _, c := range []struct {
			up, label, how string
			open           bool
		}{
			{upSink, "max", "each at its max", false},
			{upVM, labelHalf, "same rate", true},
		} {
			s := r.find(slogate, c.up, enc, 1, c.open, c.label)
			v := r.find(vmagent, c.up, enc, 1, c.open, c.label)
			if s == nil || v == nil || v.cpuPerMillion() == 0 {
				continue
			}
			ratio := s.cpuPerMillion() / v.cpuPerMillion()
			note := ""
			if !v.Drained {
				note = " (vmagent's queue had not drained: its figure is a lower bound)"
			}
			w("| CPU per sample, slogate / vmagent, %s, 1%% SLI, → %s, %s | ≤ %.2f | %.3f / %.3f CPU-s per 1M samples = **%.3f**%s%s | %s |\n",
				enc, upName(c.up), c.how, targetCPURatio, s.cpuPerMillion(), v.cpuPerMillion(), ratio, note, noise(s, v), status(ratio <= targetCPURatio))
		}
	}
	// At 30% both process the same stream, whose SLI series carry more
	// labels than the rest: a sample costs vmagent more too. The ratio
	// to vmagent at 1% is shown beside it.
	for _, enc := range []string{"snappy", "zstd"} {
		v := r.find(vmagent, upSink, enc, 1, false, "max")
		if v == nil || v.cpuPerMillion() == 0 {
			continue
		}
		if s := r.find(slogate, upSink, enc, 30, false, "max"); s != nil {
			v30, same := r.find(vmagent, upSink, enc, 30, false, "max"), "at 30%"
			if v30 == nil || v30.cpuPerMillion() == 0 {
				v30, same = v, "at 1% (no 30% run)"
			}
			ratio := s.cpuPerMillion() / v30.cpuPerMillion()
			w("| CPU per sample, slogate / vmagent, %s, **30%%** SLI, → sink, each at its max (vmagent %s) | ≤ %.2f | %.3f / %.3f CPU-s per 1M samples = **%.3f**%s; against vmagent at 1%%: %.3f / %.3f = %.3f | %s |\n",
				enc, same, targetCPURatio30, s.cpuPerMillion(), v30.cpuPerMillion(), ratio, noise(s, v30), s.cpuPerMillion(), v.cpuPerMillion(), s.cpuPerMillion()/v.cpuPerMillion(), status(ratio <= targetCPURatio30))
		}
		if s := r.find(slogate, upSink, enc, 10, false, "max"); s != nil {
			ratio := s.cpuPerMillion() / v.cpuPerMillion()
			w("| (info, not a target) CPU per sample at **10%%** SLI, slogate / vmagent, %s, → sink, each at its max | ≤ %.2f | %.3f / %.3f = **%.3f** | %s |\n",
				enc, targetCPURatio30, s.cpuPerMillion(), v.cpuPerMillion(), ratio, strings.ReplaceAll(status(ratio <= targetCPURatio30), "**", ""))
		}
	}
	for _, enc := range []string{"snappy", "zstd"} {
		one, thirty := r.find(slogate, upSink, enc, 1, false, "max"), r.find(slogate, upSink, enc, 30, false, "max")
		if one == nil || thirty == nil {
			continue
		}
		us := sliSampleMicros(one, thirty)
		w("| CPU per SLI sample, slogate, %s, → sink (1%% → 30%% SLI: the difference per additional SLI sample) | ≤ %.2f µs | (%.3f − %.3f) CPU-s per 1M ÷ 0.29 = **%.3f µs**%s | %s |\n",
			enc, targetSLISampleUs, thirty.cpuPerMillion(), one.cpuPerMillion(), us, noise(one, thirty), status(us <= targetSLISampleUs))
	}
	for _, up := range []string{upVM, upSink} {
		for _, enc := range []string{"snappy", "zstd"} {
			d := r.find(direct, up, enc, 1, true, labelHalf)
			s := r.find(slogate, up, enc, 1, true, labelHalf)
			if d == nil || s == nil {
				continue
			}
			add99 := s.LG.Latency.P99 - d.LG.Latency.P99
			add50 := s.LG.Latency.P50 - d.LG.Latency.P50
			if up == upVM && s.LG.Added.Count > 0 {
				// VictoriaMetrics' own p99 moves by tens of ms from one
				// window to the next (its slow seconds show in the traces
				// of both phases): per request, slogate's answer says how
				// long VictoriaMetrics took, and the rest is slogate's.
				w("| added p99 latency at 50%% of slogate's max, %s, → %s (%s samples/s): per request, latency − VictoriaMetrics' time (Server-Timing) | ≤ %.0f ms | p99 **%.1f ms** (p50 %.1f ms, %d requests); windows compared: p99 %.1f − %.1f = %.1f ms%s | %s |\n",
					enc, upName(up), si(s.Rate*float64(s.LG.samplesPerRequest())), targetAddedP99ms, s.LG.Added.P99, s.LG.Added.P50, s.LG.Added.Count,
					s.LG.Latency.P99, d.LG.Latency.P99, add99, noise(s, d), status(s.LG.Added.P99 <= targetAddedP99ms))
				continue
			}
			w("| added p99 latency at 50%% of slogate's max, %s, → %s (%s samples/s) | ≤ %.0f ms | p99 %.1f − %.1f = **%.1f ms** (p50 %+.1f ms)%s | %s |\n",
				enc, upName(up), si(s.Rate*float64(s.LG.samplesPerRequest())), targetAddedP99ms, s.LG.Latency.P99, d.LG.Latency.P99, add99, add50, noise(s, d), status(add99 <= targetAddedP99ms))
		}
	}
	one := r.find(slogate, upSink, "snappy", 1, false, "max")
	two := r.find(slogate, upSink, "snappy", 1, false, label2Cores)
	if one != nil && two != nil && one.LG.SamplesPerSec > 0 && two.Put.CPU > 0 && one.Put.CPU > 0 {
		raw := two.LG.SamplesPerSec / one.LG.SamplesPerSec
		eff2 := float64(two.LG.Samples) / two.Put.CPU // samples per slogate CPU-second on 2 cores
		eff1 := float64(one.LG.Samples) / one.Put.CPU
		// One dedicated core gives eff1 samples/s, two give 2 x eff2: the
		// ratio is what two cores add, net of any per-sample overhead that
		// parallelism costs (locks, scheduling, cache sharing). Measured
		// throughput on one core is not used: neighbours may have taken
		// part of that core.
		projected := 2 * eff2 / eff1
		// Demand: CPU used plus run-queue wait, in cores. A slogate that
		// serializes on a lock cannot keep two threads runnable.
		demand := min(2, (two.Put.CPU+two.Put.Wait)/two.Window)
		ok := projected >= targetScaling && demand >= targetScaling
		w("| two cores ≥ 1.7× one core (slogate → sink, snappy, 1%%) | ≥ 1.7× | projected **%.2f×** = 2 cores × %s ÷ 1 core × %s samples per slogate CPU-second; slogate kept **%.2f** cores busy or runnable on 2 cores (needs ≥ 1.7); raw %.2f× (%s vs %s samples/s; on 2 cores slogate got %.2f cores, the generator, the sink and other processes the rest)%s | %s |\n",
			projected, si(eff2), si(eff1), demand, raw, si(two.LG.SamplesPerSec), si(one.LG.SamplesPerSec), two.cores(), noise(one, two), status(ok))
	}
	r.memoryChecks(w)
	w("\nThe CPU check compares slogate and vmagent each at its own maximum into the sink (pure forwarding cost, no storage), and at the same rate (half of slogate's maximum) into VictoriaMetrics, which vmagent at its maximum would only bury under a disk queue. The scaling check is projected, not raw: on a 2-core machine the load generator and the sink need CPU too, so slogate cannot have both cores. The projection compares what two dedicated cores and one dedicated core would give, 2 × samples per slogate CPU-second on two cores against 1 × the same on one core, so any per-sample cost of running in parallel (locks, scheduling, shared caches) counts against it; and it passes only if slogate also kept at least 1.7 cores busy or runnable (CPU time plus run-queue wait), i.e. it had the parallel work to fill two cores instead of serializing on a lock.\n\n")
}

// noisyCores is the load from outside the benchmark above which a phase is
// flagged: its throughput and latency say as much about the neighbours as
// about the process under test.
const noisyCores = 0.3

// noise returns a remark naming the phases among rs that ran next to
// other load, or "".
func noise(rs ...*result) string {
	var parts []string
	for _, x := range rs {
		if x.Other > noisyCores {
			parts = append(parts, fmt.Sprintf("%.2f cores during the %s phase", x.Other, phaseName(x)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " — *noisy*: other processes used " + strings.Join(parts, ", ")
}

// phaseName names a phase within a check: its process, and its load
// unless that is the check's usual one.
func phaseName(x *result) string {
	if x.Label == label2Cores || x.SLI != 1 {
		return fmt.Sprintf("%s (%s, %d%%)", x.Target, x.Label, x.SLI)
	}
	return x.Target
}

func upName(up string) string {
	if up == upVM {
		return "VictoriaMetrics"
	}
	return "sink"
}

func (s *lgSummary) samplesPerRequest() int64 {
	if s.Requests == 0 {
		return 0
	}
	return s.Samples / s.Requests
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func (r *report) scenarioTables(w func(string, ...any)) {
	w("## Scenarios\n\n")
	w("samples/s: acknowledged samples in the window (vmagent: acknowledged on queueing; its CPU includes draining the queue afterwards). CPU-s/1M: CPU-seconds (utime+stime) of the process under test per million samples. cores: its CPU-seconds per second of window (vmagent: of window and drain). run-queue wait: time its threads were runnable but waited for a CPU, per second of window (from /proc/<pid>/task/*/schedstat); high values mean something else ran on its CPU. RSS: VmRSS at the end of the window / VmHWM. Latency: per request, from the scheduled send time in the open loop. other: CPU of processes outside the benchmark, in cores.\n\n")
	for _, up := range []string{upVM, upSink} {
		for _, enc := range []string{"snappy", "zstd"} {
			var rows []*result
			for i := range r.results {
				x := &r.results[i]
				if x.Upstream == up && x.Enc == enc {
					rows = append(rows, x)
				}
			}
			if len(rows) == 0 {
				continue
			}
			w("### → %s, %s\n\n", upName(up), enc)
			w("| process | SLI | load | samples/s | CPU-s/1M | cores | run-queue wait | RSS / peak MiB | p50 / p99 ms | upstream cores | generator cores | other | notes |\n")
			w("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
			for _, x := range rows {
				if x.Err != "" {
					w("| %s | %d%% | %s | error | | | | | | | | | %s |\n", x.Target, x.SLI, x.Label, oneLine(x.Err))
					continue
				}
				load := x.Label
				if x.Open {
					load = fmt.Sprintf("%s (%.0f rps)", x.Label, x.Rate)
				}
				cpu, cores, wait, mem := "–", "–", "–", "–"
				if x.Target != direct {
					cpu = fmt.Sprintf("%.3f", x.cpuPerMillion())
					cores = fmt.Sprintf("%.2f", x.cores())
					wait = fmt.Sprintf("%.0f%%", 100*x.Put.Wait/x.Window)
					mem = fmt.Sprintf("%.0f / %.0f", mib(x.Put.RSS), mib(x.Put.HWM))
				}
				w("| %s | %d%% | %s | %s | %s | %s | %s | %s | %.1f / %.1f | %.2f | %.2f | %.2f | %s |\n",
					x.Target, x.SLI, load, si(x.LG.SamplesPerSec), cpu, cores, wait, mem, x.LG.Latency.P50, x.LG.Latency.P99,
					x.Up.CPU/x.Window, x.Load.CPU/x.Window, x.Other, notes(x))
			}
			w("\n")
			if one := r.find(slogate, up, enc, 1, false, "max"); one != nil {
				var parts []string
				for _, sli := range []int{10, 30} {
					if x := r.find(slogate, up, enc, sli, false, "max"); x != nil {
						parts = append(parts, fmt.Sprintf("%.3f at %d%% (%.2f µs per additional SLI sample)", x.cpuPerMillion(), sli, sliSampleMicros(one, x)))
					}
				}
				if len(parts) > 0 {
					w("Cost of the SLI share: slogate %.3f CPU-s/1M at 1%%, %s: the CPU of decoding an SLI sample's labels, finding its route and counting it.\n\n",
						one.cpuPerMillion(), strings.Join(parts, ", "))
				}
			}
		}
	}
}

// sliSampleMicros is the CPU in µs of one additional SLI sample between
// phase one (1% SLI) and x (a larger share): the difference in CPU-seconds
// per million samples over the difference in SLI samples per sample.
func sliSampleMicros(one, x *result) float64 {
	d := float64(x.SLI-one.SLI) / 100
	if d <= 0 {
		return 0
	}
	return (x.cpuPerMillion() - one.cpuPerMillion()) / d
}

// notes flags what makes a row less than clean.
func notes(x *result) string {
	var n []string
	if len(x.Runs) > 1 {
		f := make([]string, len(x.Runs))
		for i, c := range x.Runs {
			f[i] = fmt.Sprintf("%.3f", c)
		}
		n = append(n, fmt.Sprintf("median of %d runs (CPU-s/1M %s)", len(x.Runs), strings.Join(f, ", ")))
	}
	if e := x.errRate(); e > 0 {
		n = append(n, fmt.Sprintf("%.1f%% errors %v", 100*e, x.LG.Errors))
	}
	if x.LG.Inline > 0 && x.Enc == "zstd" {
		n = append(n, fmt.Sprintf("%d of %d bodies compressed while sending (generator may set the pace)", x.LG.Inline, x.LG.Sent))
	}
	if x.Open && x.LG.Late > x.LG.Sent/100 {
		n = append(n, fmt.Sprintf("%d requests sent late", x.LG.Late))
	}
	if x.Settle >= 29 {
		n = append(n, "VictoriaMetrics was still busy after 30s of waiting")
	}
	if x.Target == vmagent {
		if x.Drained {
			n = append(n, fmt.Sprintf("queue drained in %.1fs", x.Drain))
		} else {
			n = append(n, fmt.Sprintf("queue not drained after %.0fs", x.Drain))
		}
	}
	if x.Other > noisyCores {
		n = append(n, fmt.Sprintf("noisy: other processes used %.2f cores", x.Other))
	}
	if !x.Open && x.Target != direct && x.cores() < 0.85 && x.Label == "max" {
		n = append(n, "not CPU-bound")
	}
	return strings.Join(n, "; ")
}

func (r *report) latencyTable(w func(string, ...any)) {
	w("## Latency at 50%% of slogate's maximum (open loop)\n\n")
	w("Per request (10,000 samples), milliseconds, over a %s window (slogate evaluates its routes every 15s; the window holds at least one evaluation). vmagent answers once a block is queued, before it reaches the upstream, so its figure is not an end-to-end latency. To see when slow requests happen, rerun one phase by hand with loadgen -trace (bench/README.md).\n\n", r.cfg.latencyWindow)
	w("| upstream | encoding | rate | direct p50 / p99 / max | via slogate p50 / p99 / p99.9 / max | added p50 / p99 | vmagent p50 / p99 |\n|---|---|---|---|---|---|---|\n")
	for _, up := range []string{upVM, upSink} {
		for _, enc := range []string{"snappy", "zstd"} {
			d := r.find(direct, up, enc, 1, true, labelHalf)
			s := r.find(slogate, up, enc, 1, true, labelHalf)
			if d == nil || s == nil {
				continue
			}
			vs := "–"
			if v := r.find(vmagent, up, enc, 1, true, labelHalf); v != nil {
				vs = fmt.Sprintf("%.1f / %.1f", v.LG.Latency.P50, v.LG.Latency.P99)
			}
			w("| %s | %s | %.0f rps = %s samples/s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f / %.1f | %+.1f / %+.1f | %s |\n",
				upName(up), enc, s.Rate, si(s.Rate*float64(s.LG.samplesPerRequest())),
				d.LG.Latency.P50, d.LG.Latency.P99, d.LG.Latency.Max,
				s.LG.Latency.P50, s.LG.Latency.P99, s.LG.Latency.P999, s.LG.Latency.Max,
				s.LG.Latency.P50-d.LG.Latency.P50, s.LG.Latency.P99-d.LG.Latency.P99, vs)
		}
	}
	w("\n")
}

func (r *report) scalingTable(w func(string, ...any)) {
	one := r.find(slogate, upSink, "snappy", 1, false, "max")
	two := r.find(slogate, upSink, "snappy", 1, false, label2Cores)
	if one == nil || two == nil {
		return
	}
	w("## One core versus two (slogate → sink, snappy, 1%%, closed loop)\n\n")
	w("| slogate CPUs | generator + sink CPUs | samples/s | slogate cores | samples per slogate CPU-second | CPUs idle | other |\n|---|---|---|---|---|---|---|\n")
	for _, x := range []*result{one, two} {
		w("| %s | %s | %s | %.2f | %s | %.2f cores | %.2f |\n", x.PutCPUs, x.LoadCPUs, si(x.LG.SamplesPerSec), x.cores(),
			si(float64(x.LG.Samples)/x.Put.CPU), x.Idle, x.Other)
	}
	w("\n")
}

func (r *report) errorList(w func(string, ...any)) {
	var errs []string
	for _, x := range r.results {
		if x.Err != "" {
			errs = append(errs, fmt.Sprintf("- %s: %s", x.Name, oneLine(x.Err)))
		}
	}
	if len(errs) > 0 {
		w("## Phases that failed\n\n%s\n\nLogs: bench/out/logs/.\n", strings.Join(errs, "\n"))
	}
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "/")
}

// si formats a rate with a k or M suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
