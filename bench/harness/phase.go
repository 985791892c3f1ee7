package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slogate/slogate/internal/proc"
)

// Process-under-test kinds.
const (
	direct  = "direct"
	slogate = "slogate"
	vmagent = "vmagent"
)

// Upstreams.
const (
	upVM   = "vm"
	upSink = "sink"
)

// scenario is one measured phase.
type scenario struct {
	Target   string  `json:"target"`   // direct, slogate or vmagent
	Upstream string  `json:"upstream"` // vm or sink
	Enc      string  `json:"encoding"`
	SLI      int     `json:"sli_percent"`
	Open     bool    `json:"open_loop"`
	Rate     float64 `json:"rate_rps,omitempty"` // open loop
	PutCPUs  string  `json:"put_cpus"`           // CPUs of the process under test
	LoadCPUs string  `json:"load_cpus"`          // CPUs of the load generator
	Pregen   int     `json:"pregen"`
	// IntervalMs is how far event time advances per round; 0 means the
	// generator's default, 15s (a scrape interval).
	IntervalMs int64  `json:"interval_ms,omitempty"`
	Label      string `json:"label"` // "max", "50% load", "2 cores"
	// Repeat is how many times the phase runs (0 or 1: once); the run of
	// median CPU per sample is its result.
	Repeat int `json:"repeat,omitempty"`
}

func (s scenario) name() string {
	t := s.Target
	if t == direct {
		t = "direct"
	}
	mode := "closed"
	if s.Open {
		mode = fmt.Sprintf("open %.0f rps", s.Rate)
	}
	return fmt.Sprintf("%s→%s %s sli=%d%% %s cpus=%s", t, s.Upstream, s.Enc, s.SLI, mode, s.PutCPUs)
}

// procStats are one process's figures over the measured window.
type procStats struct {
	CPU float64 `json:"cpu_s"` // utime+stime in the window (vmagent: plus its drain)
	// Wait is the time its threads were runnable but not running, summed:
	// what other processes on its CPUs cost it.
	Wait float64 `json:"runqueue_wait_s"`
	RSS  int64   `json:"rss_bytes"`
	HWM  int64   `json:"hwm_bytes"`
}

// lgSummary is the part of loadgen's JSON the harness uses.
type lgSummary struct {
	WindowSeconds   float64          `json:"window_s"`
	Requests        int64            `json:"requests_ok"`
	Errors          map[string]int64 `json:"errors"`
	Samples         int64            `json:"samples_ok"`
	SamplesPerSec   float64          `json:"samples_per_s"`
	RequestsPerSec  float64          `json:"requests_per_s"`
	BytesPerRequest float64          `json:"bytes_per_request"`
	Latency         latencyMs        `json:"latency_ms"`
	// Added is the latency less the upstream's time, per request whose
	// answer said it (slogate's Server-Timing: upstream;dur=).
	Added        latencyMs `json:"added_ms"`
	Sent         int64     `json:"requests_sent_total"`
	Pregenerated int       `json:"bodies_pregenerated"`
	Inline       int64     `json:"bodies_encoded_inline"`
	Late         int64     `json:"late_dispatches"`
	Series       int       `json:"series"`
	Blocks       int       `json:"blocks_per_round"`
}

// result is a measured phase.
type result struct {
	scenario
	Name   string    `json:"name"`
	LG     lgSummary `json:"loadgen"`
	Put    procStats `json:"put"`
	Up     procStats `json:"upstream"`
	Load   procStats `json:"loadgen_proc"`
	Window float64   `json:"window_s"` // as the harness measured it
	Other  float64   `json:"other_cores"`
	Steal  float64   `json:"steal_cores"`
	Idle   float64   `json:"idle_cores"`
	Drain  float64   `json:"drain_s,omitempty"`
	// Settle is how long the phase waited for the upstream to go idle.
	Settle   float64 `json:"settle_s,omitempty"`
	Drained  bool    `json:"drained"`
	Backlog0 float64 `json:"vmagent_pending_bytes_at_start,omitempty"`
	// SLISamples is slogate_sli_samples_total after the run: how many SLI
	// samples slogate handed to its engine (0 while it is a pure proxy).
	SLISamples float64 `json:"slogate_sli_samples,omitempty"`
	// Runs is the CPU-s per million samples of every run of a repeated
	// phase, in order; the result is the run of their median.
	Runs []float64 `json:"cpu_per_million_runs,omitempty"`
	Err  string    `json:"error,omitempty"`
}

// errRate is the share of requests in the window that failed.
func (r *result) errRate() float64 {
	var n int64
	for _, v := range r.LG.Errors {
		n += v
	}
	if n+r.LG.Requests == 0 {
		return 0
	}
	return float64(n) / float64(n+r.LG.Requests)
}

// cores is the process under test's CPU use in cores: CPU-seconds per
// second of the window, plus the drain for vmagent.
func (r *result) cores() float64 {
	if r.Window+r.Drain == 0 {
		return 0
	}
	return r.Put.CPU / (r.Window + r.Drain)
}

// cpuPerMillion is the process under test's CPU-seconds per million samples.
func (r *result) cpuPerMillion() float64 {
	if r.LG.Samples == 0 {
		return 0
	}
	return r.Put.CPU / float64(r.LG.Samples) * 1e6
}

// snapshot is what /proc says at one instant.
type snapshot struct {
	at      time.Time
	machine machineCPU
	cpu     map[int]float64
	wait    map[int]float64
}

func takeSnapshot(pids ...int) snapshot {
	s := snapshot{at: time.Now(), cpu: map[int]float64{}, wait: map[int]float64{}}
	s.machine, _ = readMachineCPU()
	for _, pid := range append(pids, os.Getpid()) {
		if pid > 0 {
			s.cpu[pid], _ = proc.CPUSeconds(pid)
			s.wait[pid] = runqueueWait(pid)
		}
	}
	return s
}

// runPhase starts the process under test (unless direct), runs the load
// generator against it and measures the window.
func (h *harness) runPhase(sc scenario) result {
	res := result{scenario: sc, Name: sc.name()}
	up := h.vm
	upURL := h.vmURL
	if sc.Upstream == upSink {
		up, upURL = h.sink, h.sinkURL
	}
	if sc.Open && sc.Upstream == upVM {
		res.Settle = h.settle(h.vm).Seconds()
	}
	h.seq++
	tag := fmt.Sprintf("%02d-%s-%s-%s-%d", h.seq, sc.Target, sc.Upstream, sc.Enc, sc.SLI)
	if sc.Open {
		tag += "-open"
	}
	if sc.Label == label2Cores {
		tag += "-2cores"
	}
	target := upURL + "/api/v1/write"
	var put *proc.Proc
	var err error
	switch sc.Target {
	case slogate:
		put, err = h.startSlogate(tag, sc.PutCPUs, upURL)
	case vmagent:
		put, err = h.startVMAgent(tag, sc.PutCPUs, upURL, sc.Enc)
	}
	if err != nil {
		res.Err = err.Error()
		return res
	}
	if put != nil {
		defer h.stop(put, 20*time.Second)
		target = h.putURL + "/api/v1/write"
	}

	args := []string{
		"-url=" + target, "-encoding=" + sc.Enc, "-sli=" + strconv.Itoa(sc.SLI), "-sliSeries=" + strconv.Itoa(h.sliSeries(sc.SLI)),
		"-warmup=" + h.cfg.warmup.String(), "-duration=" + h.window(sc.Open).String(),
		"-events", "-gate", "-pregen=" + strconv.Itoa(sc.Pregen), "-timeout=10s",
		"-start=" + strconv.FormatInt(h.startMs, 10), "-pregenCache=" + filepath.Join(h.tmp, "bodies"),
	}
	if h.cfg.scattered {
		args = append(args, "-scattered")
	}
	if sc.Open {
		// Every request of the window, to see when the slow ones happen.
		args = append(args, "-mode=open", "-conns=64", "-rate="+strconv.FormatFloat(sc.Rate, 'f', 2, 64),
			"-trace="+filepath.Join(h.logDir, tag+"-trace.csv"))
	} else {
		args = append(args, "-mode=closed", "-conns="+strconv.Itoa(h.cfg.conns))
	}
	// Bodies are pregenerated on every CPU; once ready, the generator is
	// re-pinned to its CPUs and let go.
	lg := exec.Command("taskset", append([]string{"-c", h.allCPUs, h.bin.loadgen}, args...)...)
	lg.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout bytes.Buffer
	lg.Stdout = &stdout
	stderr, _ := lg.StderrPipe()
	stdin, _ := lg.StdinPipe()
	logf, _ := os.Create(filepath.Join(h.logDir, tag+"-loadgen.log"))
	defer logf.Close()
	fmt.Fprintf(logf, "taskset -c %s loadgen %s\n", h.allCPUs, strings.Join(args, " "))
	if err := lg.Start(); err != nil {
		res.Err = fmt.Sprintf("cannot start loadgen: %s", err)
		return res
	}
	pids := []int{lg.Process.Pid, up.Pid()}
	if put != nil {
		pids = append(pids, put.Pid())
	}
	var (
		mu     sync.Mutex
		s0, s1 snapshot
		got0   bool
		got1   bool
		rss    [3]int64
	)
	sc2 := bufio.NewScanner(stderr)
	for sc2.Scan() {
		line := sc2.Text()
		fmt.Fprintln(logf, line)
		var ev struct {
			Event string `json:"event"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		switch ev.Event {
		case "ready":
			if out, err := exec.Command("taskset", "-a", "-p", "-c", sc.LoadCPUs, strconv.Itoa(lg.Process.Pid)).CombinedOutput(); err != nil {
				res.Err = fmt.Sprintf("cannot pin loadgen: %s: %s", err, out)
			}
			_, _ = stdin.Write([]byte("go\n"))
		case "measure_start":
			mu.Lock()
			s0, got0 = takeSnapshot(pids...), true
			mu.Unlock()
			if sc.Target == vmagent {
				if page, err := httpGet(h.putURL + "/metrics"); err == nil {
					res.Backlog0, _ = scrapeValue(page, "vmagent_remotewrite_pending_data_bytes")
				}
			}
		case "measure_end":
			mu.Lock()
			s1, got1 = takeSnapshot(pids...), true
			if put != nil {
				rss[0], rss[1], _ = proc.MemoryStatus(put.Pid())
			}
			mu.Unlock()
		}
	}
	if err := lg.Wait(); err != nil {
		res.Err = fmt.Sprintf("loadgen failed: %s (log %s)", err, logf.Name())
		return res
	}
	fmt.Fprintln(logf, stdout.String())
	if err := json.Unmarshal(stdout.Bytes(), &res.LG); err != nil {
		res.Err = fmt.Sprintf("cannot parse loadgen summary: %s", err)
		return res
	}
	if !got0 || !got1 {
		res.Err = "loadgen reported no measurement window"
		return res
	}
	w := s1.at.Sub(s0.at).Seconds()
	res.Window = w
	delta := func(pid int) float64 { return s1.cpu[pid] - s0.cpu[pid] }
	wait := func(pid int) float64 { return s1.wait[pid] - s0.wait[pid] }
	res.Load.CPU, res.Load.Wait = delta(lg.Process.Pid), wait(lg.Process.Pid)
	res.Up.CPU, res.Up.Wait = delta(up.Pid()), wait(up.Pid())
	if r, hw, err := proc.MemoryStatus(up.Pid()); err == nil {
		res.Up.RSS, res.Up.HWM = r, hw
	}
	ours := res.Load.CPU + res.Up.CPU + delta(os.Getpid())
	if put != nil {
		res.Put.CPU, res.Put.Wait = delta(put.Pid()), wait(put.Pid())
		res.Put.RSS, res.Put.HWM = rss[0], rss[1]
		ours += res.Put.CPU
	}
	res.Other = max(0, (s1.machine.userSys-s0.machine.userSys)-ours) / w
	res.Steal = (s1.machine.steal - s0.machine.steal) / w
	res.Idle = (s1.machine.idle - s0.machine.idle) / w
	res.Drained = true
	if sc.Target == slogate {
		if page, err := httpGet(h.putURL + "/metrics"); err == nil {
			res.SLISamples, _ = scrapeValue(page, "slogate_sli_samples_total")
		}
	}
	if sc.Target == vmagent {
		// vmagent acknowledges a write once queued and sends it later: its
		// CPU for the window's samples is only complete once the queue has
		// drained back to where it was when the window began.
		t, drained := h.drainVMAgent(res.Backlog0)
		res.Drain, res.Drained = t.Seconds(), drained
		if c, err := proc.CPUSeconds(put.Pid()); err == nil {
			res.Put.CPU = c - s0.cpu[put.Pid()]
		}
	}
	return res
}

// settle waits until the upstream is idle (under 0.05 cores over half a
// second), at most settleMax. A latency phase into VictoriaMetrics must
// not start while it still merges the parts a maximum-throughput phase
// left behind: its stalls would land in one phase's p99 and not the
// other's.
func (h *harness) settle(p *proc.Proc) time.Duration {
	const settleMax = 30 * time.Second
	start := time.Now()
	for time.Since(start) < settleMax {
		c0, err := proc.CPUSeconds(p.Pid())
		if err != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
		c1, _ := proc.CPUSeconds(p.Pid())
		if (c1-c0)/0.5 < 0.05 {
			break
		}
	}
	return time.Since(start)
}

// drainVMAgent waits until vmagent has packed every accepted row into a
// block and its pending queue is back to at most backlog0 bytes (0 in the
// steady state), at most h.cfg.drainMax.
func (h *harness) drainVMAgent(backlog0 float64) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < h.cfg.drainMax {
		page, err := httpGet(h.putURL + "/metrics")
		if err == nil {
			pending, _ := scrapeValue(page, "vmagent_remotewrite_pending_data_bytes")
			inserted, _ := scrapeValue(page, `vmagent_rows_inserted_total`)
			packed, _ := scrapeValue(page, "vmagent_remotewrite_block_size_rows_sum")
			if pending <= backlog0 && packed >= inserted {
				return time.Since(start), true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), false
}

func (h *harness) startSlogate(tag, cpus, upURL string) (*proc.Proc, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	state := filepath.Join(h.tmp, tag+"-state")
	return h.startPut(tag+"-slogate", cpus, h.bin.slogate, addr,
		"-httpListenAddr="+addr, "-upstream.url="+upURL, "-stateDir="+state)
}

// startVMAgent starts vmagent as a pure relay. For snappy input it is told
// to send Prometheus remote write (snappy) upstream, as slogate forwards
// the bytes it got; for zstd input it keeps its default, the
// VictoriaMetrics protocol (zstd). Either way it decodes and re-encodes
// every block: that is its design, and what the comparison measures.
func (h *harness) startVMAgent(tag, cpus, upURL, enc string) (*proc.Proc, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{
		"-httpListenAddr=" + addr,
		"-remoteWrite.url=" + upURL + "/api/v1/write",
		"-remoteWrite.tmpDataPath=" + filepath.Join(h.tmp, tag+"-vmagent-queue"),
		"-loggerLevel=WARN",
	}
	if enc == "snappy" {
		args = append(args, "-remoteWrite.forcePromProto")
	}
	return h.startPut(tag+"-vmagent", cpus, h.bin.vmagent, addr, args...)
}

// latencyMs are a loadgen's latency percentiles, in ms.
type latencyMs struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// startPut starts the process under test, listening on addr, and waits until
// its /health answers; h.putURL is its base URL.
func (h *harness) startPut(name, cpus, bin, addr string, args ...string) (*proc.Proc, error) {
	return h.startPutWithin(30*time.Second, name, cpus, bin, addr, args...)
}

// startPutWithin is startPut that waits up to wait for /health: a slogate
// that restores a large snapshot answers only once it has loaded it.
func (h *harness) startPutWithin(wait time.Duration, name, cpus, bin, addr string, args ...string) (*proc.Proc, error) {
	p, err := h.start(name, cpus, bin, args...)
	if err != nil {
		return nil, err
	}
	h.putURL = "http://" + addr
	if err := waitReady(p, h.putURL+"/health", wait); err != nil {
		h.stop(p, 5*time.Second)
		return nil, err
	}
	return p, nil
}
