// Command harness is the comparative benchmark behind `make bench`. It
// builds slogate, the load generator and the sink, then runs one phase
// after another against real VictoriaMetrics and vmagent binaries:
//
//	direct:  loadgen → VictoriaMetrics | sink
//	slogate: loadgen → slogate → VictoriaMetrics | sink
//	vmagent: loadgen → vmagent → VictoriaMetrics | sink
//
// for snappy and zstd bodies and 1% / 10% / 30% ingress series, at maximum
// throughput (closed loop) and at 50% of slogate's maximum (open loop, for
// latency), plus slogate on two cores, and memory and scale rows: slogate
// with 20,000 and 100,000 busy routes holding a full window of history,
// written by bench/history (memory.go). It measures each process from /proc
// (CPU-seconds, RSS) around the load generator's measured window and writes
// bench/RESULTS.md with the target checks. See bench/README.md.
//
// It runs binaries, never imports slogate's packages: processes come from
// internal/proc.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slogate/slogate/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "harness: %s\n", err)
		os.Exit(1)
	}
}

type config struct {
	out      string
	outDir   string
	binDir   string
	warmup   time.Duration
	duration time.Duration
	// repeat is how many times a phase that a CPU check reads runs.
	repeat int
	// scattered has the generator send a route's ingress series far
	// apart (loadgen -scattered).
	scattered bool
	// latencyWindow is the window of the open-loop phases: long enough to
	// hold one evaluation of slogate's engine (every 15s), so that p99
	// does not depend on whether a tick happened to fall in the window.
	latencyWindow time.Duration
	conns         int
	drainMax      time.Duration
	maxPregen     int
	groups        map[string]bool
	// encs and rows select encodings and kinds of phase within the vm and
	// sink groups, for short partial runs (rows: max, sli, vmagent,
	// latency; the latency rows also run slogate's maximum, their rate).
	encs, rows map[string]bool
	// slogateRev builds slogate from this git revision instead of the
	// working tree; slogateBin uses a binary as it is.
	slogateRev string
	slogateBin string
	// budget bounds the whole run: a phase that would end after it is
	// skipped (and listed as such).
	budget time.Duration
	// memRoutes and scaleRoutes are the routes of the memory rows (30d and
	// year) and of the scale row; memLive is their steady-state phase.
	memRoutes, scaleRoutes int
	memLive, memLiveMax    time.Duration
	memWindows             string
}

type binaries struct {
	slogate, loadgen, sink, history, vm, vmagent string
}

// harness holds what the phases share.
type harness struct {
	cfg      config
	root     string
	tmp      string
	logDir   string
	bin      binaries
	allCPUs  string
	vm, sink *proc.Proc
	vmURL    string
	sinkURL  string
	putURL   string
	seq      int
	// startMs is the event time of round 0 for every phase: 70h ago, so
	// that slogate takes every sample (72h horizon) and the generator can
	// reuse bodies it prepared for an earlier phase.
	startMs int64
	results []result
	mem     []memResult
	log     io.Writer
	started time.Time
	args    []string
}

// CPU layout: the process under test on CPU 1, the upstream on CPU 0.
// Into the sink the load generator shares CPU 0 with the sink: at
// slogate's maximum it needs a good part of a core, which must not come
// out of slogate's. Into VictoriaMetrics the generator runs on CPU 1 next
// to the process under test (it needs 0.02 cores there), so that
// VictoriaMetrics has CPU 0 to itself: its latency, the baseline the added
// latency is measured against, then no longer depends on how the
// generator's and its own work happen to interleave on one core.
const (
	cpuPut      = "1"
	cpuLoad     = "0"
	cpuLoadVM   = "1"
	cpuUpstream = "0"
	label2Cores = "2 cores"
	// labelHalf is 50% of slogate's maximum.
	labelHalf = "50% load"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.out, "out", "bench/RESULTS.md", "report to write, relative to the repository root")
	fs.StringVar(&cfg.outDir, "logs", "bench/out", "directory for logs, raw results.json and temporary data (git-ignored), relative to the repository root")
	fs.StringVar(&cfg.binDir, "bin", cmp.Or(os.Getenv("SLOGATE_BIN_DIR"), ".bin"), "directory holding victoria-metrics and vmagent (make deps), relative to the repository root unless absolute; default $SLOGATE_BIN_DIR, else .bin")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load before each measured window")
	fs.DurationVar(&cfg.duration, "duration", 8*time.Second, "measured window of each closed-loop (maximum throughput) phase")
	fs.BoolVar(&cfg.scattered, "scattered", false, "the generator sends the ingress series of one route far apart, every SLI sample another route's (loadgen -scattered), instead of together as a scrape lists them")
	fs.IntVar(&cfg.repeat, "repeat", 3, "runs of each phase a CPU check reads (slogate and vmagent at their maximum into the sink, and at 50% load into VictoriaMetrics); the run of median CPU per sample is reported")
	fs.DurationVar(&cfg.latencyWindow, "latencyWindow", 16*time.Second, "measured window of each open-loop (50% load, latency) phase; keep it over slogate's 15s evaluation interval")
	fs.IntVar(&cfg.conns, "conns", 16, "connections of the closed loop")
	fs.DurationVar(&cfg.drainMax, "drainMax", 20*time.Second, "longest wait for vmagent's queue to drain after a window")
	fs.IntVar(&cfg.maxPregen, "maxPregen", 16000, "most zstd bodies the load generator prepares before a phase (about 80 KB each)")
	groups := fs.String("groups", "vm,sink,scaling,memory,scale", "comma-separated phase groups to run: vm, sink, scaling, memory (-memRoutes with a full 30d and a full calendar year of history), scale (-scaleRoutes, 30d)")
	fs.IntVar(&cfg.memRoutes, "memRoutes", 20_000, "routes of the memory rows")
	fs.StringVar(&cfg.memWindows, "memWindows", "30d,year", "comma-separated windows of the memory rows (30d, year)")
	fs.IntVar(&cfg.scaleRoutes, "scaleRoutes", 100_000, "routes of the scale row")
	fs.DurationVar(&cfg.memLive, "memLive", time.Minute, "shortest steady-state phase of the memory and scale rows: live writes every 15s after the history, RSS sampled every 100ms, until slogate has also run 3 garbage collections")
	fs.DurationVar(&cfg.memLiveMax, "memLiveMax", 2*time.Minute, "longest steady-state phase of the memory and scale rows")
	fs.StringVar(&cfg.slogateRev, "slogate.rev", "", "build slogate from this git revision (git archive, the working tree is not touched) instead of the working tree, e.g. HEAD~3")
	fs.StringVar(&cfg.slogateBin, "slogate.bin", "", "use this slogate binary instead of building one")
	fs.DurationVar(&cfg.budget, "budget", 60*time.Minute, "time budget of the whole run; phases that would end after it are skipped")
	encs := fs.String("enc", "snappy,zstd", "comma-separated encodings of the vm and sink groups")
	rows := fs.String("rows", "max,sli,vmagent,latency", "comma-separated kinds of phase of the vm and sink groups: max (direct and slogate at 1%, closed loop), sli (slogate at 10% and 30%), vmagent, latency (50% load; runs slogate's maximum for its rate)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.groups, cfg.encs, cfg.rows = set(*groups), set(*encs), set(*rows)
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("cannot run: the harness pins processes to CPUs 0 and 1, this machine has %d", runtime.NumCPU())
	}
	root, err := proc.FindRepoRoot()
	if err != nil {
		return err
	}
	h := &harness{cfg: cfg, root: root, allCPUs: "0,1", log: stderr, started: time.Now(), args: args}
	h.startMs = time.Now().Add(-70*time.Hour).UnixMilli() / 15_000 * 15_000
	outDir := filepath.Join(root, cfg.outDir)
	h.logDir = filepath.Join(outDir, "logs")
	h.tmp = filepath.Join(outDir, "tmp")
	for _, d := range []string{h.logDir, h.tmp, filepath.Join(h.tmp, "bodies")} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("cannot clean %s: %w", d, err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create %s: %w", d, err)
		}
	}
	defer os.RemoveAll(h.tmp)
	if err := h.build(); err != nil {
		return err
	}
	h.logf("binaries built in %s", time.Since(h.started).Round(time.Second))
	info := collectMachine(root, h.bin, cfg)

	if err := h.runAll(ctx); err != nil {
		return err
	}
	total := time.Since(h.started)
	raw, _ := json.MarshalIndent(struct {
		Machine machine     `json:"machine"`
		Results []result    `json:"results"`
		Memory  []memResult `json:"memory"`
	}{info, h.results, h.mem}, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "results.json"), raw, 0o644); err != nil {
		return fmt.Errorf("cannot write results.json: %w", err)
	}
	rep := report{
		machine: info, results: h.results, mem: h.mem, cfg: cfg, total: total,
		command: "make bench  (go run ./bench/harness " + strings.Join(args, " ") + ")",
	}
	outPath := filepath.Join(root, cfg.out)
	if err := os.WriteFile(outPath, []byte(rep.markdown()), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", outPath, err)
	}
	fmt.Fprintf(stdout, "wrote %s and %s in %s\n", outPath, filepath.Join(outDir, "results.json"), total.Round(time.Second))
	return nil
}

// set splits a comma-separated list.
func set(list string) map[string]bool {
	m := map[string]bool{}
	for _, g := range strings.Split(list, ",") {
		if g = strings.TrimSpace(g); g != "" {
			m[g] = true
		}
	}
	return m
}

func (h *harness) logf(format string, a ...any) {
	fmt.Fprintf(h.log, "[%5.0fs] %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, a...))
}

// build compiles slogate, loadgen and sink and checks the real components.
// binDir is where the real components are (-bin).
func (h *harness) binDir() string {
	if filepath.IsAbs(h.cfg.binDir) {
		return h.cfg.binDir
	}
	return filepath.Join(h.root, h.cfg.binDir)
}

func (h *harness) build() error {
	binDir := filepath.Join(h.tmp, "bin")
	h.bin = binaries{
		slogate: filepath.Join(binDir, "slogate"),
		loadgen: filepath.Join(binDir, "loadgen"),
		sink:    filepath.Join(binDir, "sink"),
		history: filepath.Join(binDir, "history"),
		vm:      filepath.Join(h.binDir(), "victoria-metrics"),
		vmagent: filepath.Join(h.binDir(), "vmagent"),
	}
	goBuild := func(dir, out, pkg string) error {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cannot build %s in %s: %w\n%s", pkg, dir, err, msg)
		}
		return nil
	}
	for out, pkg := range map[string]string{h.bin.loadgen: "./bench/loadgen", h.bin.sink: "./bench/sink", h.bin.history: "./bench/history"} {
		if err := goBuild(h.root, out, pkg); err != nil {
			return err
		}
	}
	switch {
	case h.cfg.slogateBin != "":
		h.bin.slogate = h.cfg.slogateBin
	case h.cfg.slogateRev != "":
		// An exported tree of the revision, built with the module cache.
		src := filepath.Join(h.tmp, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		archive := exec.Command("sh", "-c", `git archive --format=tar "$1" | tar -x -C "$2"`, "sh", h.cfg.slogateRev, src)
		archive.Dir = h.root
		if msg, err := archive.CombinedOutput(); err != nil {
			return fmt.Errorf("cannot export revision %q: %w\n%s", h.cfg.slogateRev, err, msg)
		}
		if err := goBuild(src, h.bin.slogate, "./cmd/slogate"); err != nil {
			return err
		}
	default:
		if err := goBuild(h.root, h.bin.slogate, "./cmd/slogate"); err != nil {
			return fmt.Errorf("%w(to measure a committed slogate meanwhile: -slogate.rev=HEAD)", err)
		}
	}
	for _, b := range []string{h.bin.vm, h.bin.vmagent} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("cannot find %s (run make deps): %w", b, err)
		}
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return errors.New("cannot find taskset (util-linux) in PATH")
	}
	return nil
}

// runAll runs the phase groups: VictoriaMetrics first (then stopped, so that
// its background merges do not disturb the rest), then the sink, then the
// scaling run.
func (h *harness) runAll(ctx context.Context) error {
	if h.cfg.groups["vm"] {
		if err := h.startVM(); err != nil {
			return err
		}
		h.group(ctx, upVM)
		h.stop(h.vm, 30*time.Second)
	}
	g := h.cfg.groups
	if g["sink"] || g["scaling"] || g["memory"] || g["scale"] {
		if err := h.startSink(); err != nil {
			return err
		}
		defer h.stop(h.sink, 10*time.Second)
		if h.cfg.groups["sink"] {
			h.group(ctx, upSink)
		}
		if h.cfg.groups["scaling"] && !h.cfg.groups["sink"] && ctx.Err() == nil {
			h.phase(scenario{Target: slogate, Upstream: upSink, Enc: "snappy", SLI: 1, Label: "max"})
			h.twoCores()
		}
		if (g["memory"] || g["scale"]) && ctx.Err() == nil {
			h.memoryRows()
		}
	}
	return ctx.Err()
}

func (h *harness) startVM() error {
	addr, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	p, err := h.start("victoria-metrics", cpuUpstream, h.bin.vm,
		"-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(h.tmp, "vm-data"),
		"-retentionPeriod=100y", "-loggerLevel=WARN")
	if err != nil {
		return err
	}
	h.vm, h.vmURL = p, "http://"+addr
	if err := waitReady(p, h.vmURL+"/health", time.Minute); err != nil {
		return err
	}
	// Register the whole series universe of the 1% phases (320,000 series,
	// one round) before anything is measured: creating a series costs
	// VictoriaMetrics far more than appending to one.
	h.logf("priming VictoriaMetrics with the series universe")
	series := h.sliSeries(1)
	cmd := exec.Command("taskset", "-c", h.allCPUs, h.bin.loadgen, "-url="+h.vmURL+"/api/v1/write",
		"-sliSeries="+strconv.Itoa(series), "-requests="+strconv.Itoa(series/(samplesPerBlock/100)),
		"-conns=4", "-warmup=0s", "-duration=3m")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cannot prime VictoriaMetrics: %w\n%s", err, out)
	}
	return nil
}

// samplesPerBlock is the generator's default block size.
const samplesPerBlock = 10_000

// sliSeries is the generator's ingress series universe at sli percent: at
// least 2 x the closed loop's connections blocks per round, so that no
// series has two samples in flight together (loadgen's InOrderSLISeries;
// bench/README.md, "The load"). Every phase of a share uses the same one.
func (h *harness) sliSeries(sli int) int {
	return max(3000, 2*max(h.cfg.conns, 1)*samplesPerBlock*sli/100)
}

func (h *harness) startSink() error {
	addr, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	p, err := h.start("sink", cpuUpstream, h.bin.sink, "-httpListenAddr="+addr)
	if err != nil {
		return err
	}
	h.sink, h.sinkURL = p, "http://"+addr
	return waitReady(p, h.sinkURL+"/", 30*time.Second)
}

// start runs bin with args pinned to cpus; its output goes to
// <logs>/<name>.log.
func (h *harness) start(name, cpus, bin string, args ...string) (*proc.Proc, error) {
	return proc.Start(proc.Spec{Name: name, Path: bin, Args: args, CPUs: cpus, LogPath: filepath.Join(h.logDir, name+".log")})
}

// waitReady waits until url answers 2xx; the error ends with the tail of
// p's log, which usually says why it did not.
func waitReady(p *proc.Proc, url string, timeout time.Duration) error {
	if err := p.WaitHTTP(url, timeout); err != nil {
		return fmt.Errorf("%w:\n%s", err, p.LogTail(2000))
	}
	return nil
}

// stop stops p (SIGTERM, SIGKILL after grace) and says so when it had to be
// killed: a killed vmagent may not have sent all it acknowledged.
func (h *harness) stop(p *proc.Proc, grace time.Duration) {
	if err := p.Stop(grace); err != nil {
		h.logf("%s", err)
	}
}

// phase runs one scenario and keeps its result.
func (h *harness) phase(sc scenario) result { return h.phases([]scenario{sc})[0] }

// phases runs scenarios that are compared with each other and keeps their
// results in order. A scenario that repeats runs in turns with the others
// (a, b, a, b, ...) rather than all its runs in a row, so that what the
// machine does over minutes (another tenant of its host, its caches)
// weighs on each of them alike.
func (h *harness) phases(scs []scenario) []result {
	rounds, need := 1, time.Duration(0)
	for i := range scs {
		sc := &scs[i]
		if sc.PutCPUs == "" {
			sc.PutCPUs = cpuPut
		}
		if sc.LoadCPUs == "" {
			sc.LoadCPUs = cpuLoad
			if sc.Upstream == upVM {
				sc.LoadCPUs = cpuLoadVM
			}
		}
		n := max(1, sc.Repeat)
		rounds = max(rounds, n)
		// A run takes its warm-up and window plus about 10s (start,
		// pregen, drain).
		need += time.Duration(n) * (h.cfg.warmup + h.window(sc.Open) + 10*time.Second)
	}
	out := make([]result, len(scs))
	// Skip them rather than overrun the budget.
	if time.Since(h.started)+need > h.cfg.budget {
		for i, sc := range scs {
			out[i] = result{scenario: sc, Name: sc.name(), Err: fmt.Sprintf("skipped: the run would exceed -budget=%s", h.cfg.budget)}
			h.logf("%-58s SKIPPED (time budget)", out[i].Name)
		}
		h.results = append(h.results, out...)
		return out
	}
	runs := make([][]result, len(scs))
	for k := range rounds {
		for i, sc := range scs {
			if k >= max(1, sc.Repeat) {
				continue
			}
			t := time.Now()
			r := h.runPhase(sc)
			if r.Err != "" {
				h.logf("%-58s ERROR %s", r.Name, r.Err)
			} else {
				h.logf("%-58s %6.0fk samples/s  put %.2f cores  %6.1f CPU-s/1M  p50 %6.1f ms  p99 %7.1f ms  other %.2f cores  (%s)",
					r.Name, r.LG.SamplesPerSec/1e3, r.cores(), r.cpuPerMillion(), r.LG.Latency.P50, r.LG.Latency.P99, r.Other, time.Since(t).Round(time.Second))
			}
			runs[i] = append(runs[i], r)
		}
	}
	for i := range scs {
		out[i] = medianRun(runs[i])
	}
	h.results = append(h.results, out...)
	return out
}

// medianRun returns, of the runs of one phase, the one of median CPU per
// sample (the lower one of an even number) with every run's figure in
// Runs, in order; failed runs do not count, unless every run failed.
func medianRun(runs []result) result {
	var ok []result
	var cpu []float64
	for _, r := range runs {
		if r.Err == "" {
			ok = append(ok, r)
			cpu = append(cpu, r.cpuPerMillion())
		}
	}
	if len(ok) == 0 {
		return runs[len(runs)-1]
	}
	slices.SortStableFunc(ok, func(a, b result) int { return cmp.Compare(a.cpuPerMillion(), b.cpuPerMillion()) })
	m := ok[(len(ok)-1)/2]
	if len(runs) > 1 {
		m.Runs = cpu
	}
	return m
}

// window is the measured window of a closed (false) or open (true) loop.
func (h *harness) window(open bool) time.Duration {
	if open {
		return h.cfg.latencyWindow
	}
	return h.cfg.duration
}

// pregen is how many zstd bodies to prepare for rate requests per second.
func (h *harness) pregen(enc string, rate float64, open bool) int {
	if enc != "zstd" || rate <= 0 {
		return 0
	}
	return min(h.cfg.maxPregen, int(math.Ceil(rate*(h.cfg.warmup+h.window(open)).Seconds()))+16)
}

// group runs the phases of one upstream, for each encoding:
//
//   - closed loops (maximum throughput) at 1%: direct (the upstream's own
//     ceiling; skipped for zstd into the sink, where it would only measure
//     the generator) and slogate; into the sink also slogate at 10% and
//     30% and vmagent at its maximum at 1% and 30%;
//   - open loops at half of slogate's maximum, direct and through slogate
//     (added latency); into VictoriaMetrics also vmagent at that rate (at
//     its maximum vmagent would only fill its disk queue faster than
//     VictoriaMetrics empties it).
func (h *harness) group(ctx context.Context, up string) {
	rate := map[string]float64{} // snappy requests/s by process and SLI share
	rows := h.cfg.rows
	for _, enc := range []string{"snappy", "zstd"} {
		if !h.cfg.encs[enc] {
			continue
		}
		// A zstd body costs the generator more than slogate spends on it:
		// prepare as many as the snappy run suggests, 25% more.
		guess := func(key string) int {
			if r := rate[key]; r > 0 {
				return h.pregen(enc, 1.25*r, false)
			}
			return h.pregen(enc, 400, false)
		}
		keep := func(key string, r result) {
			if enc == "snappy" {
				rate[key] = r.LG.RequestsPerSec
			}
		}
		var run = func(sc scenario) result {
			if ctx.Err() != nil {
				return result{Err: "interrupted"}
			}
			sc.Upstream, sc.Enc = up, enc
			return h.phase(sc)
		}
		if rows["max"] && (up == upVM || enc == "snappy") {
			keep("direct", run(scenario{Target: direct, SLI: 1, Pregen: guess("direct"), Label: "max"}))
		}
		var sl result
		if rows["max"] || rows["latency"] || (rows["sli"] && up == upSink) {
			sc := scenario{Target: slogate, SLI: 1, Pregen: guess("slogate"), Label: "max"}
			if up == upSink {
				sc.Repeat = h.cfg.repeat // read by the CPU checks
			}
			sl = run(sc)
			keep("slogate", sl)
		}
		if up == upSink && enc == "snappy" && h.cfg.groups["scaling"] {
			// Right after the one-core run, so that both see the same machine.
			h.twoCores()
		}
		if up == upSink && rows["sli"] {
			keep("slogate10", run(scenario{Target: slogate, SLI: 10, Pregen: guess("slogate10"), Label: "max"}))
			keep("slogate30", run(scenario{Target: slogate, SLI: 30, Pregen: guess("slogate30"), Label: "max", Repeat: h.cfg.repeat}))
		}
		if up == upSink && rows["vmagent"] {
			keep("vmagent", run(scenario{Target: vmagent, SLI: 1, Pregen: guess("vmagent"), Label: "max", Repeat: h.cfg.repeat}))
			if rows["sli"] {
				// The 30% row's ratio compares the same stream: SLI series
				// carry more labels, so a sample costs vmagent more too.
				keep("vmagent30", run(scenario{Target: vmagent, SLI: 30, Pregen: guess("vmagent30"), Label: "max", Repeat: h.cfg.repeat}))
			}
		}
		half := sl.LG.RequestsPerSec / 2
		if !rows["latency"] || sl.Err != "" || half <= 0 {
			continue
		}
		targets := []string{direct, slogate}
		if up == upVM {
			targets = append(targets, vmagent)
		}
		if !rows["vmagent"] {
			targets = targets[:2]
		}
		// Direct once, then slogate and vmagent in turns (phases): the CPU
		// check at the same rate compares the two.
		run(scenario{Target: direct, SLI: 1, Open: true, Rate: half, Pregen: h.pregen(enc, half, true), Label: labelHalf})
		var scs []scenario
		for _, t := range targets[1:] {
			sc := scenario{Target: t, Upstream: up, Enc: enc, SLI: 1, Open: true, Rate: half, Pregen: h.pregen(enc, half, true), Label: labelHalf}
			if up == upVM {
				sc.Repeat = h.cfg.repeat // read by the CPU check at the same rate
			}
			scs = append(scs, sc)
		}
		if ctx.Err() == nil {
			h.phases(scs)
		}
	}
}

// twoCores runs slogate → sink (snappy, 1%) with slogate, the generator and
// the sink all on both CPUs, for comparison with the one-core run.
func (h *harness) twoCores() {
	pin := func(cpus string) {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, fmt.Sprint(h.sink.Pid())).CombinedOutput(); err != nil {
			h.logf("cannot re-pin the sink to %s: %s: %s", cpus, err, out)
		}
	}
	pin(h.allCPUs)
	defer pin(cpuUpstream)
	h.phase(scenario{Target: slogate, Upstream: upSink, Enc: "snappy", SLI: 1, PutCPUs: h.allCPUs, LoadCPUs: h.allCPUs, Label: label2Cores})
}
