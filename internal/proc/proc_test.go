package proc

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests start this test binary again as the child process; the
// environment variable helperRole says what the child does instead of
// running tests:
//
//	serve:    answer GET /health on $PROC_TEST_ADDR with 204 (503 before
//	          $PROC_TEST_READY_AFTER), print "stopping" on SIGTERM, exit 0
//	stubborn: serve, but ignore SIGTERM
//	fail:     print "bad flag" and exit 3
const helperRole = "PROC_TEST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(helperRole); role != "" {
		os.Exit(helper(role))
	}
	os.Exit(m.Run())
}

func helper(role string) int {
	fmt.Println("echo:", os.Getenv("PROC_TEST_ECHO"))
	if role == "fail" {
		fmt.Fprintln(os.Stderr, "bad flag")
		return 3
	}
	readyAfter, _ := time.ParseDuration(os.Getenv("PROC_TEST_READY_AFTER"))
	started := time.Now()
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		if time.Since(started) < readyAfter {
			http.Error(w, "starting\nmore", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() { _ = http.ListenAndServe(os.Getenv("PROC_TEST_ADDR"), nil) }()
	for range sig {
		if role != "stubborn" {
			fmt.Println("stopping")
			return 0
		}
		fmt.Println("ignoring SIGTERM")
	}
	return 0
}

// startHelper starts this test binary in role on a free address and
// returns it with the address's /health URL. The process is killed when
// the test ends.
func startHelper(t *testing.T, role string, spec Spec, env ...string) (*Proc, string) {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec.Name, spec.Path = role, exe
	spec.LogPath = filepath.Join(t.TempDir(), role+".log")
	spec.Env = append([]string{helperRole + "=" + role, "PROC_TEST_ADDR=" + addr}, env...)
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, "http://" + addr + "/health"
}

func TestStartWaitStop(t *testing.T) {
	p, url := startHelper(t, "serve", Spec{}, "PROC_TEST_ECHO=from env", "PROC_TEST_READY_AFTER=300ms")
	start := time.Now()
	if err := p.WaitHTTP(url, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("WaitHTTP returned after %s, before the helper answered 2xx", waited)
	}
	if p.Exited() || p.ExitErr() != nil {
		t.Fatalf("running helper: Exited %v, ExitErr %v", p.Exited(), p.ExitErr())
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
	if !p.Exited() || p.ExitErr() != nil {
		t.Fatalf("after a graceful stop: Exited %v, ExitErr %v", p.Exited(), p.ExitErr())
	}
	if log := p.Log(); !strings.Contains(log, "echo: from env\n") || !strings.Contains(log, "stopping\n") {
		t.Fatalf("log lacks the environment variable or the shutdown:\n%s", log)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Fatalf("Stop of an exited process: %v", err)
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	p, url := startHelper(t, "stubborn", Spec{})
	if err := p.WaitHTTP(url, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	err := p.Stop(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed it") {
		t.Fatalf("Stop of a process ignoring SIGTERM = %v, want an error saying it was killed", err)
	}
	if !p.Exited() || p.ExitErr() == nil || !strings.Contains(p.ExitErr().Error(), "killed") {
		t.Fatalf("after the kill: Exited %v, ExitErr %v", p.Exited(), p.ExitErr())
	}
	if !strings.Contains(p.Log(), "ignoring SIGTERM") {
		t.Fatalf("SIGTERM was not sent first:\n%s", p.Log())
	}
}

func TestWaitHTTPFailures(t *testing.T) {
	p, url := startHelper(t, "fail", Spec{})
	err := p.WaitHTTP(url, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "it exited (exit status 3)") || !strings.Contains(err.Error(), p.LogPath) {
		t.Fatalf("WaitHTTP on an exiting process = %v", err)
	}
	if tail := p.LogTail(9); tail != "[...]bad flag\n" {
		t.Fatalf("LogTail(9) = %q", tail)
	}

	p, url = startHelper(t, "serve", Spec{}, "PROC_TEST_READY_AFTER=1h")
	err = p.WaitHTTP(url, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "no 2xx within 2s: status 503: starting") {
		t.Fatalf("WaitHTTP on a process never ready = %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(Spec{Name: "x", Path: "/bin/true"}); err == nil {
		t.Fatal("Start accepted a spec without a log path")
	}
	if _, err := Start(Spec{Name: "x", Path: filepath.Join(dir, "absent"), LogPath: filepath.Join(dir, "x.log")}); err == nil {
		t.Fatal("Start accepted a missing executable")
	}
	if _, err := Start(Spec{Name: "x", Path: "/bin/true", LogPath: filepath.Join(dir, "no-such-dir", "x.log")}); err == nil {
		t.Fatal("Start accepted a log in a missing directory")
	}
}

// TestCPUs checks the pinning: the pid is the program's own (taskset has
// exec'ed it) and its affinity is the CPUs asked for.
func TestCPUs(t *testing.T) {
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("taskset is not installed")
	}
	p, url := startHelper(t, "serve", Spec{CPUs: "0"})
	if err := p.WaitHTTP(url, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.Pid())); !strings.HasPrefix(filepath.Base(exe), strings.TrimSpace(string(comm))) {
		t.Fatalf("pid %d runs %q, want the program %s", p.Pid(), comm, filepath.Base(exe))
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "Cpus_allowed_list:\t0\n") {
		t.Fatalf("affinity is not CPU 0:\n%s", status)
	}
}

func TestProcessGroup(t *testing.T) {
	p, url := startHelper(t, "serve", Spec{ProcessGroup: true})
	if err := p.WaitHTTP(url, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	members, err := GroupMembers(p.Pid())
	if err != nil || len(members) != 1 || members[0] != p.Pid() {
		t.Fatalf("GroupMembers(%d) = %v, %v; want the leader alone", p.Pid(), members, err)
	}
	p.Kill()
	if members, err := GroupMembers(p.Pid()); err != nil || len(members) != 0 {
		t.Fatalf("GroupMembers after Kill = %v, %v; want none", members, err)
	}

	// Without ProcessGroup the child stays in this test's group.
	q, _ := startHelper(t, "serve", Spec{})
	if members, err := GroupMembers(q.Pid()); err != nil || len(members) != 0 {
		t.Fatalf("GroupMembers of a pid that leads no group = %v, %v", members, err)
	}
}

func TestSignal(t *testing.T) {
	p, url := startHelper(t, "serve", Spec{})
	if err := p.WaitHTTP(url, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the helper did not exit on SIGTERM")
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Fatal("Signal to an exited process succeeded")
	}
}

func TestFreePortDistinct(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] || p <= 0 {
			t.Fatalf("port %d handed out twice or invalid", p)
		}
		seen[p] = true
	}
	addr, err := FreeAddr()
	if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr = %q, %v", addr, err)
	}
}
