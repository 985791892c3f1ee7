package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ClockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat and
// /proc/stat. It is 100 on every Linux architecture Go supports.
const ClockTicks = 100

// CPUSeconds returns the CPU time a process has used so far, user plus
// system over all its threads, in seconds.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot read CPU time of pid %d: %w", pid, err)
	}
	return parseStatCPU(b)
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a /proc/<pid>/stat
// line in seconds.
func parseStatCPU(b []byte) (float64, error) {
	f, err := statFields(b)
	if err != nil {
		return 0, err
	}
	// f[0] is field 3, so utime is f[11] and stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/<pid>/stat: %d fields after the name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot parse utime %q and stime %q", f[11], f[12])
	}
	return float64(ut+st) / ClockTicks, nil
}

// statFields splits a /proc/<pid>/stat line, "pid (comm) state ppid pgrp
// ...", after the command name: f[0] is field 3 (state). The name may hold
// spaces and parentheses, so the fields start after the last ')'.
func statFields(b []byte) ([]string, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("cannot parse /proc/<pid>/stat: no ')' after the command name")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// GroupMembers returns the pids of the live processes in process group
// pgid (zombies not counted), read from /proc/<pid>/stat.
func GroupMembers(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("cannot list /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// f[0] is the state, f[2] the process group (field 5).
		f, err := statFields(b)
		if err != nil || len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// MemoryStatus returns the resident set size of a process now (VmRSS) and
// its peak since start (VmHWM), in bytes, from /proc/<pid>/status.
func MemoryStatus(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cannot read memory status of pid %d: %w", pid, err)
	}
	return parseMemoryStatus(b)
}

func parseMemoryStatus(b []byte) (rss, peak int64, err error) {
	rss, peak = -1, -1
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		// The line reads "VmRSS:	   12345 kB".
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cannot parse %q: %w", sc.Text(), err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss < 0 || peak < 0 {
		return 0, 0, errors.New("cannot find VmRSS and VmHWM in /proc/<pid>/status")
	}
	return rss, peak, nil
}
