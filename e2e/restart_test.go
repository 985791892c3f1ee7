package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// TestBudgetKill9 kills slogate with SIGKILL in the middle of the two-day
// replay, after a snapshot and after more blocks were acknowledged, and
// restarts it on the same state: the requests acknowledged between the
// snapshot and the crash come back from VictoriaMetrics, so every value
// still equals the reference.
func TestBudgetKill9(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	state := t.TempDir()
	addr := testenv.FreeAddr(t)
	args := []string{"-upstream.url=" + vm.URL(), "-eval.interval=" + evalStep.String(),
		"-stateDir=" + state, "-httpListenAddr=" + addr, "-snapshot.interval=1s"}
	sg := testenv.StartSlogate(t, args...)

	scrapes := int(48 * time.Hour / scrapeStep)
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Minute)
	st := generate(defaultPlan(scrapes), start, 2)
	order := sendOrder(len(st.blocks))
	snapshot := filepath.Join(state, "engine.snapshot")
	half := len(order) / 2
	for _, b := range order[:half] {
		postBlock(t, sg.URL+"/api/v1/write", st.blocks[b], nil)
	}
	// A snapshot taken after the first half, then a gap the snapshot does
	// not hold.
	marker := time.Now()
	testenv.Eventually(t, 30*time.Second, func() error {
		fi, err := os.Stat(snapshot)
		if err != nil {
			return err
		}
		if !fi.ModTime().After(marker) {
			return errNotYet("no snapshot since the first half")
		}
		return nil
	})
	gap := half + len(order)/10
	for _, b := range order[half:gap] {
		postBlock(t, sg.URL+"/api/v1/write", st.blocks[b], nil)
	}
	sg.Kill()
	sg = testenv.StartSlogate(t, args...)
	for _, b := range order[gap:] {
		postBlock(t, sg.URL+"/api/v1/write", st.blocks[b], nil)
	}
	last := start.Add(time.Duration(scrapes-1) * scrapeStep).UnixMilli()
	at := last - last%evalStep.Milliseconds()
	checkBudgets(t, vm, st, at, reference(st, at, nil), 0.999)
}

// TestGracefulRestartKeepsRoutes restarts slogate with SIGTERM: every route
// is back, with its counts, before any new write arrives.
func TestGracefulRestartKeepsRoutes(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	state := t.TempDir()
	addr := testenv.FreeAddr(t)
	args := []string{"-upstream.url=" + vm.URL(), "-eval.interval=" + evalStep.String(),
		"-stateDir=" + state, "-httpListenAddr=" + addr}
	sg := testenv.StartSlogate(t, args...)

	scrapes := int(6 * time.Hour / scrapeStep)
	start := time.Now().Add(-6 * time.Hour).Truncate(time.Minute)
	st := generate(defaultPlan(scrapes), start, 3)
	for _, b := range sendOrder(len(st.blocks)) {
		postBlock(t, sg.URL+"/api/v1/write", st.blocks[b], nil)
	}
	before := routeTotals(t, sg)
	if len(before) != len(ingressRoutes) {
		t.Fatalf("before the restart slogate tracks %d routes, want %d", len(before), len(ingressRoutes))
	}
	sg.Stop()
	sg = testenv.StartSlogate(t, args...)
	after := routeTotals(t, sg)
	for r, n := range before {
		if after[r] != n {
			t.Errorf("route %s: %v requests before the restart, %v after", r, n, after[r])
		}
	}
	if len(after) != len(before) {
		t.Errorf("after the restart slogate tracks %d routes, want %d", len(after), len(before))
	}
}

// routeTotals reads good+bad per route from the API.
func routeTotals(t *testing.T, sg *testenv.Proc) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, s := range fetchStatuses(t, sg) {
		out[s.Route] = s.Requests.Good + s.Requests.Bad
	}
	return out
}

type errNotYet string

func (e errNotYet) Error() string { return string(e) }
