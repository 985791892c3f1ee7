package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/slogate/slogate/internal/testenv"
)

// TestStraySampleKeepsCounts: a target (job, instance) counts normally,
// its counters long-running (500,000 good and 20,000 bad before slogate saw
// them: baselines). Then one sample of a new series of the same target
// arrives at timestamp 0, 50 years ago, 40 days ago and 50 years ahead
// (ignored: out of the event-time bounds), and of another new series 10
// days ago (in the bounds, but a single sample does not start a target).
// Before, the sample at 0 made the target's start the epoch and the
// first-value rule counted the old series' whole values as new requests:
// the budget went to -37 and the release state to freeze. The counts and
// the budget of the route stay exact, the strays out of the bounds are
// counted as ignored, and the target's start is unchanged (a new status
// code afterwards still counts in full).
func TestStraySampleKeepsCounts(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL())

	series := func(status string, v float64, ts int64) writeSeries {
		return writeSeries{labels: map[string]string{"__name__": "nginx_ingress_controller_requests", "host": "shop.example.com",
			"ingress": "shop", "instance": "10.0.0.7:10254", "job": "ingress-nginx", "method": "GET", "namespace": "shop",
			"path": "/", "status": status}, values: []float64{v}, timestamps: []int64{ts}}
	}
	post := func(what string, ss ...writeSeries) {
		t.Helper()
		body := snappy.Encode(nil, marshalWriteRequest(nil, ss))
		if code, _, msg := postWrite(t, http.MethodPost, sg.URL+"/api/v1/write", "snappy", body); code != http.StatusNoContent {
			t.Fatalf("%s: %d %s", what, code, msg)
		}
	}
	start := time.Now().Add(-15 * time.Minute).Truncate(time.Minute).UnixMilli()
	scrape := func(i int) {
		t.Helper()
		bad := 20_000.0
		if i >= 5 {
			bad++ // one bad request, in minute 5
		}
		ts := start + int64(i)*time.Minute.Milliseconds()
		ss := []writeSeries{series("200", 500_000+float64(i)*1000, ts), series("500", bad, ts)}
		if i >= 10 {
			// A status code seen for the first time after the strays: its
			// target is known since the first scrape, so its first value
			// counts in full.
			ss = append(ss, series("502", 3, ts))
		}
		post(fmt.Sprintf("scrape %d", i), ss...)
	}
	for i := range 10 {
		scrape(i)
	}
	const year = 365 * 24 * time.Hour
	now := time.Now()
	for _, ts := range []int64{0, now.Add(-50 * year).UnixMilli(), now.Add(-40 * 24 * time.Hour).UnixMilli(), now.Add(50 * year).UnixMilli()} {
		post(fmt.Sprintf("stray at %d", ts), series("503", 7, ts))
	}
	// Within the bounds (the default 30d window plus 72h), before the
	// target's start: one sample of a series of its own is a baseline and
	// does not move the target's start.
	post("stray 10 days ago", series("504", 20_000, now.Add(-10*24*time.Hour).UnixMilli()))
	scrape(10)
	scrape(11) // evaluations count the minutes before the newest sample's

	const good, bad = 10_000, 1 + 3
	wantRatio := 1 - bad/((1-0.999)*(good+bad))
	testenv.Eventually(t, 30*time.Second, func() error {
		sts := fetchStatuses(t, sg)
		if len(sts) != 1 {
			return fmt.Errorf("%d routes, want 1", len(sts))
		}
		st := sts[0]
		var rel struct {
			Release string `json:"releaseState"`
		}
		if err := json.Unmarshal(st.Raw, &rel); err != nil {
			return err
		}
		slo := st.Budgets["slo"]
		if st.Requests.Good != good || st.Requests.Bad != bad || math.Abs(slo.RemainingRatio-wantRatio) > 1e-9 || rel.Release != "ship" {
			return fmt.Errorf("route %s: good %d bad %d, slo budget %v, release %q; want %d %d %v ship",
				st.Route, st.Requests.Good, st.Requests.Bad, slo.RemainingRatio, rel.Release, good, bad, wantRatio)
		}
		return nil
	})
	m := testenv.ScrapeMetrics(t, sg.URL+"/metrics")
	for reason, want := range map[string]float64{"past": 3, "future": 1} {
		if got, _ := testenv.SumMetric(m, "slogate_engine_samples_ignored_total", map[string]string{"reason": reason}); got != want {
			t.Errorf(`slogate_engine_samples_ignored_total{reason=%q} = %v, want %v`, reason, got, want)
		}
	}
	if got, _ := testenv.SumMetric(m, "slogate_engine_series", nil); got != 4 {
		t.Errorf("slogate_engine_series = %v, want 4 (200, 500, 502 and the stray 504; not the refused 503)", got)
	}
}
