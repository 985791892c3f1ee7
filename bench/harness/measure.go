package main

// What the harness reads around a measured window besides the per-process
// figures of internal/proc: the machine's CPU time, the run-queue wait of a
// process's threads, and values from a /metrics page.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/internal/proc"
)

// machineCPU is the first line of /proc/stat, in seconds summed over CPUs.
// Interrupt time is kept apart: loopback networking runs in softirq and is
// not charged to any process, so it belongs to the benchmark, not to
// "other load".
type machineCPU struct {
	userSys, irq, idle, steal float64
}

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, fmt.Errorf("cannot read /proc/stat: %w", err)
	}
	return parseMachineCPU(b)
}

// parseMachineCPU reads "cpu user nice system idle iowait irq softirq steal
// guest guest_nice"; guest time is already inside user and nice.
func parseMachineCPU(b []byte) (machineCPU, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("cannot parse /proc/stat line %q", line)
	}
	v := make([]float64, 8)
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("cannot parse /proc/stat field %q: %w", f[i+1], err)
		}
		v[i] = float64(n) / proc.ClockTicks
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	return machineCPU{userSys: user + nice + system, irq: irq + softirq, idle: idle + iowait, steal: steal}, nil
}

// scrapeValue returns the sum of every sample of the named metric in a
// Prometheus text page (all label sets).
func scrapeValue(page []byte, name string) (float64, bool) {
	sum, found := 0.0, false
	sc := bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

func httpGet(url string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 32<<20))
}

// runqueueWait returns how long the threads of a process have waited for a
// CPU while runnable, in seconds: the sum over /proc/<pid>/task/*/schedstat
// of the second field (nanoseconds). It shows how much another process on
// the same CPU held the process under test back.
func runqueueWait(pid int) float64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	total := 0.0
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if ns, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			total += float64(ns) / 1e9
		}
	}
	return total
}
