package e2e

import (
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// TestBackfill writes two days of ingress-nginx history straight into
// VictoriaMetrics (in vmagent's block order: adjacent blocks swapped, some
// sent twice, so the export holds duplicate samples), then starts slogate
// with -backfill and no state. The contract: on a start with no state,
// slogate reads the SLI sources' history of the longest window from
// VictoriaMetrics (/api/v1/export) and replays it through the engine before
// it counts new writes, so budgets are right from the first minute.
// Required:
//   - the first synthetic point, at the end of the history, equals the
//     brute-force reference of live ingestion of the same data (the first
//     point of a series is a baseline unless its target had an earlier
//     point, as live);
//   - ten more minutes of traffic written live through slogate continue
//     the same counters: the last point equals the reference of the whole
//     stream.
func TestBackfill(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	const live = 40 // scrapes written through slogate after the backfill
	history := int(48 * time.Hour / scrapeStep)
	scrapes := history + live
	start := time.Now().Add(-time.Duration(scrapes) * scrapeStep).Truncate(time.Minute)
	st := generate(defaultPlan(scrapes), start, 31)
	for _, body := range mergeBlocks(st.blocks, sendOrder(history), 120) {
		postBlock(t, vm.URL()+"/api/v1/write", body, nil)
	}
	vm.ForceFlush(t)

	began := time.Now()
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval="+evalStep.String(), "-backfill")
	step := evalStep.Milliseconds()
	end := start.Add(time.Duration(history-1) * scrapeStep).UnixMilli()
	checkBudgets(t, vm, st, end-end%step, reference(st, end-end%step, nil), 0.999)
	t.Logf("backfilled two days (%d blocks) and wrote the first point in %s", history, time.Since(began).Round(time.Millisecond))

	for _, b := range st.blocks[history:] {
		postBlock(t, sg.URL+"/api/v1/write", b, nil)
	}
	last := start.Add(time.Duration(scrapes-1) * scrapeStep).UnixMilli()
	at := last - last%step
	want := reference(st, at, nil)
	checkBudgets(t, vm, st, at, want, 0.999)
	for _, s := range fetchStatuses(t, sg) {
		ri := routeIndex(s.Route)
		if ri < 0 {
			t.Errorf("/slogate/api/v1/slos lists unknown route %q", s.Route)
			continue
		}
		if float64(s.Requests.Good) != want[ri].good || float64(s.Requests.Bad) != want[ri].bad {
			t.Errorf("route %s: API says good %d bad %d, reference %.0f %.0f", s.Route, s.Requests.Good, s.Requests.Bad, want[ri].good, want[ri].bad)
		}
	}
}

// routeIndex returns the index in ingressRoutes of a route as slogate
// names it, or -1.
func routeIndex(route string) int {
	for ri := range ingressRoutes {
		if routeKey(ri) == route {
			return ri
		}
	}
	return -1
}
