package testenv

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/proc"
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

// HTTPClient is the client of every helper and of every test request that
// is not a load: a process that stops answering fails the test within the
// timeout instead of hanging it until the go test deadline.
var HTTPClient = &http.Client{Timeout: 2 * time.Minute}

// Spec says how to start a process. Name, Path, Args, Env, Dir and
// ProcessGroup mean what they mean in proc.Spec (Env is appended to the test
// process's environment; ProcessGroup lets a test check with GroupMembers
// that no child outlives the process). The log goes to a file in the test's
// temporary directory.
type Spec struct {
	Name, Path string
	Args, Env  []string
	Dir        string
	// URL is the base URL of the process's HTTP listener, e.g.
	// "http://127.0.0.1:8428"; it is only recorded on the Proc.
	URL          string
	ProcessGroup bool
}

// Proc is a started child process whose stdout and stderr go to LogPath.
// A t.Cleanup stops it (SIGTERM, then SIGKILL after 30s) and, when the test
// failed, prints the tail of its log. It is a proc.Proc that fails the test
// instead of returning errors.
type Proc struct {
	Name    string
	URL     string
	LogPath string

	t    testing.TB
	proc *proc.Proc
}

// StartProc starts spec and returns at once; use WaitHTTP to wait until it
// serves. The process is killed when the test binary dies (Pdeathsig), so a
// go test timeout does not leave it behind.
func StartProc(t testing.TB, spec Spec) *Proc {
	t.Helper()
	pp, err := proc.Start(proc.Spec{
		Name: spec.Name, Path: spec.Path, Args: spec.Args, Env: spec.Env, Dir: spec.Dir,
		LogPath:      filepath.Join(t.TempDir(), spec.Name+".log"),
		ProcessGroup: spec.ProcessGroup,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Name: spec.Name, URL: spec.URL, LogPath: pp.LogPath, t: t, proc: pp}
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
func (p *Proc) Pid() int { return p.proc.Pid() }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool { return p.proc.Exited() }

// ExitErr returns the result of waiting for the process; nil while it runs
// and after a clean exit.
func (p *Proc) ExitErr() error { return p.proc.ExitErr() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.proc.Done() }

// Stop sends SIGTERM and waits for the exit; after stopTimeout it sends
// SIGKILL and says so in the test log (a killed component may lose data it
// acknowledged, which would explain a later failure). Stopping an exited
// process does nothing.
func (p *Proc) Stop() {
	if err := p.proc.Stop(stopTimeout); err != nil {
		p.t.Log(err)
	}
}

// Kill sends SIGKILL and waits for the exit: a crash, as far as the process
// can tell.
func (p *Proc) Kill() { p.proc.Kill() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.proc.Signal(sig) }

// GroupMembers returns the pids of the live processes in process group
// pgid (zombies not counted).
func GroupMembers(pgid int) ([]int, error) { return proc.GroupMembers(pgid) }

// Log returns the whole log written so far.
func (p *Proc) Log() string { return p.proc.Log() }

// LogTail returns the last logTailBytes of the log.
func (p *Proc) LogTail() string { return p.proc.LogTail(logTailBytes) }

// MemoryStatus returns the resident set size now (VmRSS) and its peak since
// start (VmHWM) in bytes.
func (p *Proc) MemoryStatus(t testing.TB) (rss, peak int64) {
	t.Helper()
	rss, peak, err := proc.MemoryStatus(p.Pid())
	if err != nil {
		t.Fatalf("cannot read memory status of %s: %s", p.Name, err)
	}
	return rss, peak
}

// WaitHTTP polls url until it answers 2xx, failing the test with the
// process's log when the process exits first or readyTimeout passes.
func (p *Proc) WaitHTTP(t testing.TB, url string) {
	t.Helper()
	if err := p.proc.WaitHTTP(url, readyTimeout); err != nil {
		t.Fatalf("%s\nlog:\n%s", err, p.LogTail())
	}
}

// Get fetches url and returns the status and body. It is safe to call from
// any goroutine because it reports errors instead of failing a test.
func Get(url string) (int, []byte, error) {
	resp, err := HTTPClient.Get(url)
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

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other caller in this test binary got (see proc.FreePort).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// FreeAddr returns "127.0.0.1:<port>" for a free port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := proc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
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
