package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// TestDemoScript runs scripts/demo.sh as `make demo` does, on free ports and
// a temporary data directory: it must print its URLs, serve them, carry the
// sample ingress counters through slogate into VictoriaMetrics, and on
// SIGINT (Ctrl-C) exit leaving no process it started behind.
func TestDemoScript(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	tmp := t.TempDir()
	sampleTarget := filepath.Join(tmp, "sampletarget")
	build := exec.Command("go", "build", "-o", sampleTarget, "./scripts/sampletarget")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the sample target: %s\n%s", err, out)
	}
	ports := map[string]int{}
	for _, name := range []string{"VM", "SLOGATE", "VMAGENT", "TARGET"} {
		ports[name] = testenv.FreePort(t)
	}
	env := []string{
		"DEMO_SLOGATE=" + testenv.BuildSlogate(t),
		"DEMO_SAMPLETARGET=" + sampleTarget,
		"DEMO_DATA=" + filepath.Join(tmp, "demo"),
		"DEMO_SCRAPE_INTERVAL=1s",
		"SLOGATE_BIN_DIR=" + testenv.BinDir(t),
	}
	for name, port := range ports {
		env = append(env, fmt.Sprintf("DEMO_%s_PORT=%d", name, port))
	}
	url := func(name, path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", ports[name], path) }
	testenv.Binary(t, testenv.VictoriaMetricsBinary)
	testenv.Binary(t, testenv.VMAgentBinary)

	demo := testenv.StartProc(t, testenv.Spec{
		Name: "demo.sh", Path: "bash", Args: []string{filepath.Join(root, "scripts", "demo.sh")},
		Env: env, Dir: root, ProcessGroup: true,
	})
	testenv.Eventually(t, 2*time.Minute, func() error {
		if demo.Exited() {
			t.Fatalf("demo.sh exited early: %v", demo.ExitErr())
		}
		if !strings.Contains(demo.Log(), "Press Ctrl-C") {
			return fmt.Errorf("demo.sh has not printed its URLs yet")
		}
		return nil
	})
	for _, u := range []string{url("VM", "/vmui/"), url("SLOGATE", "/metrics"), url("SLOGATE", "/slogate/api/v1/slos"), url("VMAGENT", "/targets"), url("TARGET", "/metrics")} {
		if !strings.Contains(demo.Log(), u) {
			t.Errorf("demo.sh did not print %s", u)
		}
		testenv.MustGet(t, u)
	}
	testenv.Eventually(t, time.Minute, func() error {
		testenv.ForceFlush(t, url("VM", ""))
		got := testenv.Export(t, url("SLOGATE", ""), `nginx_ingress_controller_requests{job="ingress-nginx"}`)
		if len(got) == 0 {
			return fmt.Errorf("no sample ingress counters in VictoriaMetrics yet")
		}
		return nil
	})

	if err := demo.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-demo.Done():
	case <-time.After(time.Minute):
		t.Fatal("demo.sh did not exit within a minute of SIGINT")
	}
	if members, err := testenv.GroupMembers(demo.Pid()); err != nil || len(members) > 0 {
		t.Fatalf("processes of demo.sh left after it exited: %v (%v)", members, err)
	}
	for name, port := range ports {
		if _, _, err := testenv.Get(url(name, "/")); err == nil {
			t.Errorf("port %s %d still answers after demo.sh exited", name, port)
		}
	}
	if !strings.Contains(demo.Log(), "stopping victoria-metrics") {
		t.Errorf("demo.sh did not report stopping VictoriaMetrics:\n%s", demo.LogTail())
	}
}
