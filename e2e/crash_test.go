package e2e

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// TestKill9KeepsAcknowledgedCounts kills slogate with SIGKILL, with
// default flags (a snapshot every 5 minutes: none is due while the test
// runs), at the moments a crash loses the most: in the first seconds,
// before any snapshot; just after the block that created a new route was
// acknowledged, before and after a snapshot; and at random moments of a
// shutdown, while slogate writes its last snapshot and compacts the route
// journal. After every restart each route is back with exactly the counts
// slogate showed just before the kill, and at the end every synthetic
// value equals the reference.
func TestKill9KeepsAcknowledgedCounts(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	vm := testenv.StartVM(t)
	state := t.TempDir()
	addr := testenv.FreeAddr(t)
	args := []string{"-upstream.url=" + vm.URL(), "-eval.interval=" + evalStep.String(),
		"-stateDir=" + state, "-httpListenAddr=" + addr}
	sg := testenv.StartSlogate(t, args...)
	snapshot := filepath.Join(state, "engine.snapshot")

	// Two hours of traffic; two routes appear on the way (a new ingress).
	// The second appears with a new controller pod, on block 212, which
	// sendOrder swaps with 213: the route is created by the later block,
	// and the earlier one moves its first event back; the new pod's
	// series are baselines.
	routes := append(slices.Clone(ingressRoutes),
		ingressRoute{"shop", "search", "shop.example.com", "/search"},
		ingressRoute{"api", "admin", "api.example.com", "/admin"})
	scrapes := int(2 * time.Hour / scrapeStep)
	plan := defaultPlan(scrapes)
	plan.routes = routes
	plan.routeStarts = map[int]int{4: 130, 5: 212}
	plan.pods[1].to, plan.pods[2].from = 212, 212
	plan.keepSamples = true // checkSentCounts takes the blocks sent so far
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	st := generate(plan, start, 5)
	order := sendOrder(len(st.blocks))
	sent := 0
	sendUntil := func(n int) {
		for ; sent < n; sent++ {
			postBlock(t, sg.URL+"/api/v1/write", st.blocks[order[sent]], nil)
		}
	}
	after := func(block int) int { return slices.Index(order, block) + 1 }
	crash := func(what string, kill func()) {
		t.Helper()
		before := routeCounts(t, sg)
		kill()
		sg = testenv.StartSlogate(t, args...)
		if tmp, _ := filepath.Glob(filepath.Join(state, ".*.tmp-*")); len(tmp) > 0 {
			t.Errorf("%s: temporary files of writes the crash cut short are still there after the restart: %q", what, tmp)
		}
		got := routeCounts(t, sg)
		for r, n := range before {
			if got[r] != n {
				t.Errorf("%s: route %s: good/bad %v before the crash, %v after", what, r, n, got[r])
			}
		}
		if len(got) != len(before) {
			t.Errorf("%s: %d routes before the crash, %d after", what, len(before), len(got))
		}
		// The API counts the minutes before the watermark's: equal to
		// the reference of the blocks sent so far; and after a minute of
		// blocks more, so is the minute of the crash.
		checkSentCounts(t, what+", right after the restart", sg, st, order[:sent])
		sendUntil(sent + 5)
		checkSentCounts(t, what+", a minute of blocks later", sg, st, order[:sent])
		t.Logf("%s: %d routes, %d blocks acknowledged", what, len(before), sent)
		for _, line := range strings.Split(sg.Log(), "\n") {
			if strings.Contains(line, "journal") || strings.Contains(line, "replayed") {
				t.Log(line)
			}
		}
	}

	sendUntil(20 + rng.IntN(60))
	if _, err := os.Stat(snapshot); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a snapshot exists before the first kill (%v): the case is not tested", err)
	}
	crash("SIGKILL before the first snapshot", sg.Kill)

	sendUntil(after(130))
	if _, err := os.Stat(snapshot); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a snapshot exists before the second kill (%v): the case is not tested", err)
	}
	crash("SIGKILL just after a new route, no snapshot", sg.Kill)

	// A snapshot (graceful stop), then a route it does not hold.
	sendUntil(after(200))
	crash("graceful stop", sg.Stop)
	if _, err := os.Stat(snapshot); err != nil {
		t.Fatalf("no snapshot after a graceful stop: %v", err)
	}
	if after(212) != after(213)+1 {
		t.Fatal("sendOrder no longer swaps blocks 212 and 213: the case is not tested")
	}
	sendUntil(after(212))
	crash("SIGKILL just after a route the snapshot does not hold", sg.Kill)

	// SIGKILL during the shutdown: the moment the snapshot's temporary
	// file appears (the snapshot is being written), the moment the
	// journal's appears (the journal still holds the route of scrape 212,
	// which the new snapshot holds: it is being compacted), the moment the
	// new snapshot is in place, and at a random moment. Whether the moment
	// was caught is logged; one missed (it came and went between two
	// looks) still tests a crash somewhere in the shutdown.
	snapshotTmp := filepath.Join(state, ".engine.snapshot.tmp-*")
	journalTmp := filepath.Join(state, ".routes.journal.tmp-*")
	for _, moment := range []string{"snapshot being written", "journal being compacted", "snapshot in place", "random"} {
		sendUntil(sent + 20 + rng.IntN(40))
		crash("SIGKILL in the shutdown, "+moment, func() {
			old, err := os.Stat(snapshot)
			if err != nil {
				t.Fatal(err)
			}
			// Temporary files a kill left behind are no news.
			stale := map[string]bool{}
			for _, pattern := range []string{snapshotTmp, journalTmp} {
				m, _ := filepath.Glob(pattern)
				for _, name := range m {
					stale[name] = true
				}
			}
			appeared := func(pattern string) bool {
				m, _ := filepath.Glob(pattern)
				return slices.ContainsFunc(m, func(name string) bool { return !stale[name] })
			}
			seen := map[string]func() bool{
				"snapshot being written": func() bool { return appeared(snapshotTmp) },
				"snapshot in place": func() bool {
					fi, err := os.Stat(snapshot)
					return err == nil && !fi.ModTime().Equal(old.ModTime())
				},
				"journal being compacted": func() bool { return appeared(journalTmp) },
			}[moment]
			deadline := time.Now().Add(time.Duration(rng.IntN(100)) * time.Millisecond)
			if seen == nil {
				seen = func() bool { return time.Now().After(deadline) }
			}
			if err := sg.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			hit := false
			for !sg.Exited() {
				if hit = seen(); hit {
					break
				}
				time.Sleep(100 * time.Microsecond) // between two looks at the files, not a wait
			}
			sg.Kill()
			t.Logf("SIGKILL %v after SIGTERM: moment %q caught: %v; a snapshot write cut short: %v, a journal compaction cut short: %v",
				time.Since(began).Round(time.Millisecond), moment, hit, appeared(snapshotTmp), appeared(journalTmp))
		})
	}
	sendUntil(len(order))
	last := start.Add(time.Duration(scrapes-1) * scrapeStep).UnixMilli()
	at := last - last%evalStep.Milliseconds()
	checkBudgets(t, vm, st, at, reference(st, at, nil), 0.999)
}

// routeCounts reads good and bad requests per route from the API.
func routeCounts(t *testing.T, sg *testenv.Proc) map[string][2]uint64 {
	t.Helper()
	out := map[string][2]uint64{}
	for _, s := range fetchStatuses(t, sg) {
		out[s.Route] = [2]uint64{s.Requests.Good, s.Requests.Bad}
	}
	return out
}

// checkSentCounts compares the good and bad requests of every route in the
// API, evaluated at the watermark, with the reference of the blocks sent
// (scrape indexes of st): every route that has requests before the
// evaluation minute must be there with exactly those.
func checkSentCounts(t *testing.T, what string, sg *testenv.Proc, st *stream, sent []int) {
	t.Helper()
	times := map[int64]bool{}
	for _, b := range sent {
		times[st.start.Add(time.Duration(b)*scrapeStep).UnixMilli()] = true
	}
	part := &stream{start: st.start, routes: st.routes}
	for _, s := range st.series {
		c := *s
		c.points = slices.DeleteFunc(slices.Clone(s.points), func(p point) bool { return !times[p.ts] })
		if len(c.points) > 0 {
			part.series = append(part.series, &c)
		}
	}
	part.retally()
	statuses := fetchStatuses(t, sg)
	if len(statuses) == 0 {
		t.Fatalf("%s: no route", what)
	}
	at, err := time.Parse(time.RFC3339, statuses[0].EvaluatedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(part, at.UnixMilli(), nil)
	got := map[string]apiStatus{}
	for _, s := range statuses {
		got[s.Route] = s
	}
	for ri, r := range st.routes {
		w := want[ri]
		s, ok := got[r.key()]
		switch {
		case !ok && w.good+w.bad > 0:
			t.Errorf("%s: route %s is missing; reference good %.0f bad %.0f", what, r.key(), w.good, w.bad)
		case ok && (float64(s.Requests.Good) != w.good || float64(s.Requests.Bad) != w.bad):
			t.Errorf("%s: route %s at %s: good %d bad %d, reference good %.0f bad %.0f", what, r.key(), s.EvaluatedAt, s.Requests.Good, s.Requests.Bad, w.good, w.bad)
		}
	}
}
