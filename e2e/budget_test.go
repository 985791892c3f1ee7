package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// evalStep is the -eval.interval of the budget tests: short, so that the
// final synthetic point comes quickly.
const evalStep = 5 * time.Second

// TestBudgetTwoDayReplay is the budget engine's acceptance: with zero
// configuration, two days of ingress-nginx traffic for several routes go
// through slogate in vmagent's block order (one block per scrape, adjacent
// blocks reordered, retried blocks), with outages, a counter reset, a
// controller pod replaced by a new one, and VictoriaMetrics down for a
// while mid-stream (slogate answers 503 and the blocks are retried). Every
// synthetic value read back from VictoriaMetrics must equal the brute-force
// reference to 1e-9.
func TestBudgetTwoDayReplay(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval="+evalStep.String())

	scrapes := int(48 * time.Hour / scrapeStep)
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Minute)
	st := generate(defaultPlan(scrapes), start, 1)
	order := sendOrder(len(st.blocks))
	outageAt := len(order) * 3 / 5
	for i, b := range order {
		if i == outageAt {
			// VictoriaMetrics goes away; slogate must answer 503 until it
			// is back, and the retried block must count once.
			vm.Stop()
			restarted := false
			postBlock(t, sg.URL+"/api/v1/write", st.blocks[b], func() {
				if !restarted {
					restarted = true
					vm.Restart()
				}
			})
			if !restarted {
				t.Fatal("slogate accepted a write while VictoriaMetrics was down")
			}
			continue
		}
		postBlock(t, sg.URL+"/api/v1/write", st.blocks[b], nil)
	}
	last := start.Add(time.Duration(scrapes-1) * scrapeStep).UnixMilli()
	at := last - last%evalStep.Milliseconds()
	checkBudgets(t, vm, st, at, reference(st, at, nil), 0.999)
}

// checkBudgets waits for the synthetic series at eval time at and compares
// them with the reference.
func checkBudgets(t *testing.T, vm *testenv.VM, st *stream, at int64, want map[int]*routeTruth, objective float64) {
	t.Helper()
	var got map[string]map[string]float64 // route -> series -> value
	testenv.Eventually(t, 90*time.Second, func() error {
		vm.ForceFlush(t)
		got = routeValuesAt(vm.Export(t, `{__name__=~"slo_.*",source="ingress-nginx"}`), at)
		for _, r := range st.routes {
			if _, ok := got[r.key()]["slo_requests_total{result=good}"]; !ok {
				return fmt.Errorf("no synthetic point at %s for route %s yet", time.UnixMilli(at).UTC(), r.key())
			}
		}
		return nil
	})
	checkReference(t, "slogate", st.routes, got, want, objective)
	if len(st.routes) <= 10 {
		for ri, r := range st.routes {
			w := want[ri]
			t.Logf("route %s: good %.0f bad %.0f, 30d SLI %.6f", r.key(), w.good, w.bad, w.winGood/w.winTotal)
		}
	}
}

// routeValuesAt returns route -> short series name -> value of the
// synthetic points at at, the short name being the metric name with the
// one distinguishing label, e.g. "slo_requests_total{result=good}".
func routeValuesAt(series []testenv.ExportedSeries, at int64) map[string]map[string]float64 {
	got := map[string]map[string]float64{}
	for _, s := range series {
		for i, ts := range s.Timestamps {
			if ts != at {
				continue
			}
			r := s.Metric["route"]
			if got[r] == nil {
				got[r] = map[string]float64{}
			}
			name := s.Metric["__name__"]
			for _, l := range []string{"result", "window", "kind", "state"} {
				if v, ok := s.Metric[l]; ok {
					name += "{" + l + "=" + v + "}"
				}
			}
			got[r][name] = s.Values[i]
		}
	}
	return got
}

// checkReference compares the synthetic values of every route with the
// brute-force reference (the numbers of README "Synthetic series"), to
// 1e-9, for an objective over a rolling 30d window without an SLA.
func checkReference(t *testing.T, who string, routes []ingressRoute, got map[string]map[string]float64, want map[int]*routeTruth, objective float64) {
	t.Helper()
	window := 30 * 24 * time.Hour.Seconds()
	for ri, r := range routes {
		w, g := want[ri], got[r.key()]
		remaining := 1.0
		if w.winTotal > 0 {
			remaining = 1 - (w.winTotal-w.winGood)/((1-objective)*w.winTotal)
		}
		for name, wantV := range map[string]float64{
			"slo_requests_total{result=good}":              w.good,
			"slo_requests_total{result=bad}":               w.bad,
			"slo_requests_excluded_total{result=good}":     w.excludedGood,
			"slo_requests_excluded_total{result=bad}":      w.excludedBad,
			"slo_sli_ratio{window=30d}":                    w.winGood / w.winTotal,
			"slo_objective_ratio{kind=slo}":                objective,
			"slo_error_budget_remaining_ratio{kind=slo}":   remaining,
			"slo_error_budget_remaining_seconds{kind=slo}": remaining * (1 - objective) * window,
		} {
			gotV, ok := g[name]
			switch {
			case !ok:
				t.Errorf("%s: route %s: %s missing", who, r.key(), name)
			case !approxEqual(gotV, wantV):
				t.Errorf("%s: route %s: %s = %.12g, reference %.12g", who, r.key(), name, gotV, wantV)
			}
		}
	}
}

// TestBudgetThirtyDays replays the whole 30-day compliance window (from
// the hour the window's far edge stands on: beyond the minute horizon it
// moves by whole hours) for 100 routes, one scrape a minute, five scrapes
// a block as a vmagent backlog comes, through slogate and VictoriaMetrics:
// the hour buckets behind the 72h of minutes must add up exactly as the
// reference's minutes do.
func TestBudgetThirtyDays(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval="+evalStep.String())

	routes := make([]ingressRoute, 100)
	for i := range routes {
		routes[i] = ingressRoute{fmt.Sprintf("ns%d", i%7), fmt.Sprintf("app%d", i), fmt.Sprintf("app%d.example.com", i), "/"}
	}
	step := time.Minute
	span := 30*24*time.Hour - time.Hour
	scrapes := int(span / step)
	start := time.Now().Add(-span).Truncate(time.Hour)
	plan := defaultPlan(scrapes)
	plan.routes, plan.step, plan.perBlock = routes, step, 5
	// The blocks are made as they are sent and dropped once sent: all at
	// once they are 8,628 blocks, 580 MB of snappy.
	g := newGenerator(plan, start, 6)
	postLazily(t, sg.URL+"/api/v1/write", g, sendOrder(g.blocks()))
	last := start.Add(time.Duration(scrapes-1) * step).UnixMilli()
	at := last - last%evalStep.Milliseconds()
	checkBudgets(t, vm, g.st, at, reference(g.st, at, nil), 0.999)
}
