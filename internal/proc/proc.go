// Package proc runs the child processes of the end-to-end tests and of the
// bench harness: VictoriaMetrics, vmagent, vmalert, slogate and the like.
//
// It owns starting a program with its output in a log file (optionally
// pinned to CPUs with taskset), waiting until it answers HTTP, stopping it
// (SIGTERM, then SIGKILL after a grace period), handing out free loopback
// ports, reading a process's figures from /proc, and finding the repository
// (FindRepoRoot) whose binaries it runs.
//
// It reports every failure as an error and must not import testing nor any
// slogate package: internal/testenv wraps it for testing.TB, and plain
// programs such as bench/harness use it as it is. Linux only (/proc,
// Pdeathsig, taskset).
package proc

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Spec says how to start a process.
type Spec struct {
	// Name labels the process in errors, e.g. "victoria-metrics".
	Name string
	// Path is the executable.
	Path string
	// Args are the command-line arguments, without the program name.
	Args []string
	// Env is appended to this process's environment; later entries win.
	// Empty means the environment is inherited as it is.
	Env []string
	// Dir is the working directory; empty means this process's.
	Dir string
	// LogPath is the file that receives stdout and stderr; Start creates it
	// (or truncates it). Required.
	LogPath string
	// CPUs, when set, runs the program under `taskset -c CPUs` (e.g. "1" or
	// "0,1"). taskset sets the affinity and execs the program, so Pid is the
	// program's own, and a Go program sizes GOMAXPROCS from the affinity.
	CPUs string
	// ProcessGroup starts the process in a new process group whose id is
	// its pid, so the caller can find or kill what it leaves behind (see
	// GroupMembers).
	ProcessGroup bool
}

// Proc is a started child process. It dies with the process that started
// it (Pdeathsig), so a crash or a go test timeout leaves nothing behind.
type Proc struct {
	// Name and LogPath are those of the Spec.
	Name    string
	LogPath string

	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // valid after done is closed
}

// Start starts spec and returns at once; use WaitHTTP to wait until it
// serves, and Stop or Kill to end it.
func Start(spec Spec) (*Proc, error) {
	if spec.LogPath == "" {
		return nil, fmt.Errorf("cannot start %s: no log path", spec.Name)
	}
	logFile, err := os.Create(spec.LogPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create log of %s: %w", spec.Name, err)
	}
	path, args := spec.Path, spec.Args
	if spec.CPUs != "" {
		path, args = "taskset", append([]string{"-c", spec.CPUs, spec.Path}, spec.Args...)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = spec.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if len(spec.Env) > 0 {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: spec.ProcessGroup}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("cannot start %s %q: %w", spec.Name, spec.Args, err)
	}
	p := &Proc{Name: spec.Name, LogPath: spec.LogPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
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

// Stop sends SIGTERM and waits for the exit. When grace passes first it
// sends SIGKILL, waits for that exit and returns an error saying so: a
// killed component may lose data it acknowledged. Stopping an exited
// process does nothing.
func (p *Proc) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("cannot stop %s (pid %d) within %s of SIGTERM: killed it", p.Name, p.Pid(), grace)
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

// Log returns the whole log written so far. The log only ever feeds
// diagnostics, so a log that cannot be read comes back as a line saying why.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("cannot read log %s: %s", p.LogPath, err)
	}
	return string(b)
}

// LogTail returns the last n bytes of the log, marked "[...]" when cut.
func (p *Proc) LogTail(n int) string {
	s := p.Log()
	if len(s) > n {
		s = "[...]" + s[len(s)-n:]
	}
	return s
}

// Readiness polling: how often, and how long one attempt may take (a hung
// listener must not eat the whole timeout in one request).
const (
	readyPollInterval = 50 * time.Millisecond
	readyGetTimeout   = 5 * time.Second
)

// WaitHTTP polls url with GET until it answers a 2xx status. It fails when
// the process exits first or timeout passes; the error names the log, and
// the caller decides how much of it to show (LogTail).
func (p *Proc) WaitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: readyGetTimeout}
	for {
		if p.Exited() {
			return fmt.Errorf("cannot wait for %s to answer %s: it exited (%s); log %s", p.Name, url, exitStatus(p.waitErr), p.LogPath)
		}
		err := getOK(c, url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot wait for %s to answer %s: no 2xx within %s: %w; log %s", p.Name, url, timeout, err, p.LogPath)
		}
		select {
		case <-p.done:
		case <-time.After(readyPollInterval):
		}
	}
}

// getOK returns nil when url answers a 2xx status.
func getOK(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Keep the first line of the body: it usually says why it is not ready.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, firstLine(body))
	}
	return nil
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}

// exitStatus describes the result of Wait: "exit status 1", "signal: killed".
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
