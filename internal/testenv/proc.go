package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts shared by every process helper.
const (
	// readyTimeout bounds how long a started process may take to answer its
	// health check; VictoriaMetrics opening an existing data dir is the slowest.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds a graceful SIGTERM shutdown before SIGKILL follows.
	stopTimeout = 30 * time.Second
	// logTailBytes is how much of a log a failing test prints.
	logTailBytes = 64 << 10
)

// httpClient is used by every helper; the timeout keeps a hung process from
// hanging the test until the global go test deadline.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// Spec says how to start a process.
type Spec struct {
	// Name labels the process in logs and failure messages, e.g. "victoria-metrics".
	Name string
	// Path is the executable.
	Path string
	// Args are the command-line arguments, without the program name.
	Args []string
	// Env is appended to the test process's environment; later entries win.
	Env []string
	// Dir is the working directory; empty means the test's working directory.
	Dir string
	// URL is the base URL of the process's HTTP listener, e.g.
	// "http://127.0.0.1:8428"; it is only recorded on the Proc.
	URL string
	// ProcessGroup starts the process in a new process group whose id is
	// its pid, so a test can check that none of its children outlive it
	// (see GroupMembers).
	ProcessGroup bool
}

// Proc is a started child process whose stdout and stderr go to LogPath.
// A t.Cleanup stops it (SIGTERM, then SIGKILL after 30s) and, when the test
// failed, prints the tail of its log.
type Proc struct {
	Name    string
	URL     string
	LogPath string

	t       testing.TB
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // valid after done is closed
}

// StartProc starts spec and returns at once; use WaitHTTP to wait until it
// serves. The process is killed when the test binary dies (Pdeathsig), so a
// go test timeout does not leave it behind.
func StartProc(t testing.TB, spec Spec) *Proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), spec.Name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("cannot create log file for %s: %s", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if len(spec.Env) > 0 {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: spec.ProcessGroup}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("cannot start %s %q: %s", spec.Name, spec.Args, err)
	}
	p := &Proc{Name: spec.Name, URL: spec.URL, LogPath: logPath, t: t, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	// Cleanups run last-in first-out: stop first, then print the log, so
	// the printed log includes what the process said while shutting down.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s (pid %d, %s) log tail:\n%s", p.Name, p.Pid(), p.LogPath, p.LogTail())
		}
	})
	if spec.ProcessGroup {
		// Runs after Stop below: whatever of the group survived the
		// leader's shutdown is killed rather than leaked.
		t.Cleanup(func() { _ = syscall.Kill(-p.Pid(), syscall.SIGKILL) })
	}
	t.Cleanup(p.Stop)
	return p
}

// Pid returns the operating-system process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitErr returns the result of waiting for the process; nil while it runs
// and after a clean exit.
func (p *Proc) ExitErr() error {
	if !p.Exited() {
		return nil
	}
	return p.waitErr
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM and waits for the exit; after stopTimeout it sends
// SIGKILL and says so in the test log (a killed component may lose data it
// acknowledged, which would explain a later failure). Stopping an exited
// process does nothing.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.t.Logf("%s (pid %d) did not stop within %s of SIGTERM; killing it", p.Name, p.Pid(), stopTimeout)
		p.Kill()
	}
}

// Kill sends SIGKILL and waits for the exit: a crash, as far as the process
// can tell.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("cannot signal %s: %w", p.Name, err)
	}
	return nil
}

// GroupMembers returns the pids of the live processes in process group
// pgid, read from /proc/<pid>/stat (zombies not counted).
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
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Log returns the whole log written so far.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("cannot read log %s: %s", p.LogPath, err)
	}
	return string(b)
}

// LogTail returns the last logTailBytes of the log.
func (p *Proc) LogTail() string {
	s := p.Log()
	if len(s) > logTailBytes {
		s = "[...]" + s[len(s)-logTailBytes:]
	}
	return s
}

// MemoryStatus returns the resident set size now (VmRSS) and its peak since
// start (VmHWM) in bytes, read from /proc/<pid>/status.
func (p *Proc) MemoryStatus(t testing.TB) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatalf("cannot read memory status of %s: %s", p.Name, err)
	}
	rss, peak = -1, -1
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		// The line reads "VmRSS:	   12345 kB".
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("cannot parse %q of %s: %s", line, p.Name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss < 0 || peak < 0 {
		t.Fatalf("cannot find VmRSS and VmHWM in /proc/%d/status", p.Pid())
	}
	return rss, peak
}

// WaitHTTP polls url until it answers 200, failing the test with the
// process's log when the process exits first or readyTimeout passes.
func (p *Proc) WaitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		if p.Exited() {
			t.Fatalf("%s exited before %s answered 200: %v\nlog:\n%s", p.Name, url, p.ExitErr(), p.LogTail())
		}
		status, body, err := Get(url)
		if err == nil && status == http.StatusOK {
			return
		}
		if err == nil {
			err = fmt.Errorf("status %d: %s", status, firstLine(body))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 on %s within %s: %s\nlog:\n%s", p.Name, url, readyTimeout, err, p.LogTail())
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Get fetches url and returns the status and body. It is safe to call from
// any goroutine because it reports errors instead of failing a test.
func Get(url string) (int, []byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("cannot read response body of %s: %w", url, err)
	}
	return resp.StatusCode, body, nil
}

// MustGet fetches url and fails the test unless it answers 200.
func MustGet(t testing.TB, url string) []byte {
	t.Helper()
	status, body, err := Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200: %s", url, status, firstLine(body))
	}
	return body
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

var (
	portsMu sync.Mutex
	// portsGiven keeps this test binary from handing out one port twice
	// when the kernel reuses a port number another helper has not bound yet.
	portsGiven = map[int]bool{}
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it; that race is
// accepted because every component here only takes a port on its command line.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("cannot find free port: %s", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("cannot find free port: 100 attempts returned ports already handed out")
	return 0
}

// FreeAddr returns "127.0.0.1:<port>" for a free port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// WriteTemp writes content into a new file named name in a temporary
// directory of the test and returns its path (scrape configs, rule files).
func WriteTemp(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("cannot write %s: %s", path, err)
	}
	return path
}

// withDefaults returns args preceded by every default whose flag the caller
// did not set. Repeating a flag is not a way to override it: array flags of
// VictoriaMetrics components (-remoteWrite.url, -remoteWrite.retryMinInterval)
// append instead of replacing.
func withDefaults(defaults, args []string) []string {
	out := make([]string, 0, len(defaults)+len(args))
	for _, d := range defaults {
		if _, set := flagValue(args, flagName(d)); !set {
			out = append(out, d)
		}
	}
	return append(out, args...)
}

// flagValue returns the value of the last -name=value or --name=value in
// args. The "-name value" form is not recognized; helpers document that
// flags must be passed as -name=value.
func flagValue(args []string, name string) (string, bool) {
	value, set := "", false
	for _, a := range args {
		if flagName(a) != name {
			continue
		}
		_, v, _ := strings.Cut(a, "=")
		value, set = v, true
	}
	return value, set
}

func flagName(arg string) string {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

// startHTTPComponent starts a VictoriaMetrics-style component listening on
// -httpListenAddr (taken from args or given a free address), waits until
// readyPath answers 200 and returns it.
func startHTTPComponent(t testing.TB, name, bin string, defaults, args []string, readyPaths ...string) *Proc {
	t.Helper()
	addr, set := flagValue(args, "httpListenAddr")
	if !set {
		addr = FreeAddr(t)
		args = append([]string{"-httpListenAddr=" + addr}, args...)
	}
	p := StartProc(t, Spec{Name: name, Path: bin, Args: withDefaults(defaults, args), URL: "http://" + addr})
	for _, path := range readyPaths {
		p.WaitHTTP(t, p.URL+path)
	}
	return p
}
