package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// TestAlertsFireAndResolve runs the shipped alert rules
// (deploy/vmalert/rules.yml) in the real vmalert against VictoriaMetrics fed
// through slogate: an outage on one ingress route must page
// (SLOErrorBudgetBurn1h fires, for that route only, at an Alertmanager-API
// receiver in the test and as ALERTS series in VictoriaMetrics), and the page
// must resolve once the outage has left the 5m window: not before.
//
// Timing. vmalert evaluates at wall-clock now, and VictoriaMetrics answers
// an instant query with the newest point at or before the query time within
// the step (vmalert's -datasource.queryStep, 5m): a point stamped in the
// future is invisible until the clock reaches it. slogate stamps its points
// with the event time of the data, and a window of an evaluation at minute m
// covers the complete minutes [m-5, m). So the data must sit at the wall
// clock, and resolving needs real minutes to pass. The outage is placed in
// the past such that its last minute leaves the 5m window at R, the next
// minute boundary at least 25s from now: history (65 minutes, the outage
// ending 4-5 minutes before R) is sent at once and fires the alert at once;
// then scrapes are sent live, each when the clock reaches its timestamp, and
// their points keep the alert firing (every 5m window until R still holds an
// outage minute, at about 70% errors) until the point at R drops the 5m burn
// rate to about 0. Every point stays visible until the next one replaces
// it, so the alert cannot resolve early by data going stale. The test takes
// R - now plus a few seconds: about one minute, at most 1.5.
//
// slogate runs with -compat.sloth; Sloth's current burn rate must equal
// slo_burn_rate{window="5m"} route by route.
//
// The rule file's group intervals (30s, 1m) are removed so vmalert's
// -evaluationInterval=1s applies; the expressions are the file's, unchanged.
func TestAlertsFireAndResolve(t *testing.T) {
	t.Parallel()
	rules := rulesWithoutIntervals(t)
	sink := &alertSink{}
	notifier := httptest.NewServer(sink)
	t.Cleanup(notifier.Close)

	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval=5s", "-compat.sloth")
	testenv.StartVMAlert(t,
		"-rule="+rules,
		"-datasource.url="+vm.URL(),
		"-datasource.queryStep=5m", // the lookback: a point is visible for 5m
		"-remoteWrite.url="+vm.URL(),
		"-remoteWrite.flushInterval=1s",
		"-notifier.url="+notifier.URL,
		"-evaluationInterval=1s",
		"-rule.evalDelay=0s", // VictoriaMetrics runs with -search.latencyOffset=0
	)

	// Minutes: the outage covers [outageFrom, outageEnd) on route 0; R =
	// outageEnd + 5m is the first evaluation minute whose 5m window holds
	// no outage minute.
	now := time.Now()
	resolveAt := now.Add(25 * time.Second).Truncate(time.Minute).Add(time.Minute)
	outageEnd := resolveAt.Add(-5 * time.Minute)
	outageFrom := outageEnd.Add(-10 * time.Minute)
	start := resolveAt.Add(-70 * time.Minute)
	end := resolveAt.Add(time.Minute) // live scrapes continue past R
	scrapes := int(end.Sub(start)/scrapeStep) + 1
	index := func(at time.Time) int { return int(at.Sub(start) / scrapeStep) }
	plan := trafficPlan{
		scrapes: scrapes,
		pods:    []pod{{"ingress-nginx-controller-a", "10.0.0.1:10254", 0, scrapes}},
		resetAt: -1,
		outages: []outage{{route: 0, from: index(outageFrom), to: index(outageEnd), status: "500"}},
	}
	st := generate(plan, start, 11)
	outageRoute := routeKey(0)

	ctx, cancel := context.WithCancel(context.Background())
	sendErr := make(chan error, 1)
	var sender sync.WaitGroup
	sender.Add(1)
	go func() {
		defer sender.Done()
		sendErr <- sendOnTime(ctx, sg.URL+"/api/v1/write", st, scrapeStep)
	}()
	t.Cleanup(func() { cancel(); sender.Wait() })
	checkSender := func() {
		select {
		case err := <-sendErr:
			if err != nil {
				t.Fatal(err)
			}
			sendErr <- nil // finished; keep the answer for the next check
		default:
		}
	}

	// The page fires, for the outage route.
	var fired receivedAlert
	testenv.Eventually(t, time.Until(resolveAt), func() error {
		checkSender()
		for _, a := range sink.named("SLOErrorBudgetBurn1h") {
			if a.Labels["route"] == outageRoute && !a.resolved() {
				fired = a
				return nil
			}
		}
		return fmt.Errorf("vmalert has not sent a firing SLOErrorBudgetBurn1h for %s yet (%d notifications so far)", outageRoute, sink.count())
	})
	t.Logf("SLOErrorBudgetBurn1h fired for %s %.1fs after the history was sent; summary: %s",
		outageRoute, fired.received.Sub(now).Seconds(), fired.Annotations["summary"])
	for k, want := range map[string]string{"severity": "critical", "slo": "availability", "source": "ingress-nginx", "host": "shop.example.com", "long_window": "1h"} {
		if fired.Labels[k] != want {
			t.Errorf("firing alert label %s = %q, want %q (labels %v)", k, fired.Labels[k], want, fired.Labels)
		}
	}
	if !strings.Contains(fired.Annotations["runbook_url"], "RUNBOOK.md#sloerrorbudgetburn1h") {
		t.Errorf("firing alert runbook_url = %q", fired.Annotations["runbook_url"])
	}

	// Not a vacuous "healthy routes did not fire": all routes have burn
	// rates, and only the outage route's exceed the threshold.
	at := time.Now()
	for _, w := range []string{"1h", "5m"} {
		got := map[string]float64{}
		for _, v := range vm.Query(t, `slo_burn_rate{window="`+w+`"}`, at) {
			got[v.Metric["route"]] = v.Value
		}
		for ri := range ingressRoutes {
			b, ok := got[routeKey(ri)]
			switch {
			case !ok:
				t.Errorf("no slo_burn_rate{window=%q} for %s at %s", w, routeKey(ri), at.Format(time.RFC3339))
			case ri == 0 && b <= 14.4:
				t.Errorf("slo_burn_rate{window=%q} of the outage route = %.2f at %s, want > 14.4", w, b, at.Format(time.RFC3339))
			case ri != 0 && b >= 5:
				t.Errorf("slo_burn_rate{window=%q} of healthy route %s = %.2f, want < 5", w, routeKey(ri), b)
			}
		}
		t.Logf("burn rates over %s when the page fired: %v", w, got)
	}

	// -compat.sloth: Sloth's current burn rate is the same number, under
	// Sloth's names and labels.
	sloth := map[string]float64{}
	for _, v := range vm.Query(t, `slo:current_burn_rate:ratio{sloth_slo="availability"}`, at) {
		if v.Metric["sloth_id"] != v.Metric["sloth_service"]+"-availability" || v.Metric["sloth_service"] != v.Metric["route"] {
			t.Errorf("Sloth labels of %v: want sloth_service = route, sloth_id = <route>-availability", v.Metric)
		}
		sloth[v.Metric["sloth_service"]] = v.Value
	}
	for _, v := range vm.Query(t, `slo_burn_rate{window="5m"}`, at) {
		if got, ok := sloth[v.Metric["route"]]; !ok || !approxEqual(got, v.Value) {
			t.Errorf("slo:current_burn_rate:ratio of %s = %v (present %v), slo_burn_rate{window=\"5m\"} = %v", v.Metric["route"], got, ok, v.Value)
		}
	}

	// vmalert writes the firing alert as an ALERTS series.
	testenv.Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		rs := vm.Query(t, `ALERTS{alertname="SLOErrorBudgetBurn1h",alertstate="firing"}`, time.Now())
		if len(rs) != 1 || rs[0].Metric["route"] != outageRoute {
			return fmt.Errorf("ALERTS{alertname=SLOErrorBudgetBurn1h,alertstate=firing} = %v, want one series for %s", rs, outageRoute)
		}
		return nil
	})

	// The page resolves once the outage has left the 5m window, and not
	// before: until R every point's 5m window still holds an outage minute.
	var resolved receivedAlert
	testenv.Eventually(t, time.Until(resolveAt)+45*time.Second, func() error {
		checkSender()
		for _, a := range sink.named("SLOErrorBudgetBurn1h") {
			if a.Labels["route"] == outageRoute && a.resolved() {
				resolved = a
				return nil
			}
		}
		return fmt.Errorf("SLOErrorBudgetBurn1h for %s not resolved yet (R = %s)", outageRoute, resolveAt.Format(time.RFC3339))
	})
	t.Logf("SLOErrorBudgetBurn1h resolved %.1fs after R (the minute the outage left the 5m window)", resolved.received.Sub(resolveAt).Seconds())
	if resolved.received.Before(resolveAt) {
		t.Errorf("the page resolved at %s, before R = %s: the 5m window still held the outage", resolved.received.Format(time.RFC3339Nano), resolveAt.Format(time.RFC3339))
	}
	// Firing without a gap from the first firing notification to R.
	var lastFiring time.Time
	for _, a := range sink.named("SLOErrorBudgetBurn1h") {
		if a.Labels["route"] == outageRoute && !a.resolved() && a.received.After(lastFiring) {
			lastFiring = a.received
		}
	}
	if lastFiring.Before(resolveAt.Add(-5 * time.Second)) {
		t.Errorf("last firing notification at %s, want one up to R = %s (evaluated every second)", lastFiring.Format(time.RFC3339Nano), resolveAt.Format(time.RFC3339))
	}

	// Only the outage route ever paged, in notifications and in ALERTS.
	for _, a := range sink.named("SLOErrorBudgetBurn1h") {
		if a.Labels["route"] != outageRoute {
			t.Errorf("SLOErrorBudgetBurn1h sent for healthy route %s: %v", a.Labels["route"], a.Labels)
		}
	}
	vm.ForceFlush(t)
	var paged []string
	for _, v := range vm.Query(t, `count_over_time(ALERTS{alertname="SLOErrorBudgetBurn1h",alertstate="firing"}[10m])`, time.Now()) {
		paged = append(paged, v.Metric["route"])
	}
	if len(paged) != 1 || paged[0] != outageRoute {
		t.Errorf("ALERTS over the test: SLOErrorBudgetBurn1h fired for %v, want only %s", paged, outageRoute)
	}
	cancel()
	sender.Wait()
	if err := <-sendErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// rulesWithoutIntervals copies deploy/vmalert/rules.yml without the groups'
// `interval:` lines, so -evaluationInterval applies, and returns its path.
func rulesWithoutIntervals(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "vmalert", "rules.yml"))
	if err != nil {
		t.Fatalf("cannot read the alert rules: %s", err)
	}
	interval := regexp.MustCompile(`(?m)^    interval: \S+\n`)
	groups := len(regexp.MustCompile(`(?m)^  - name: `).FindAll(src, -1))
	out := interval.ReplaceAll(src, nil)
	if removed := len(interval.FindAll(src, -1)); removed == 0 || removed != groups {
		t.Fatalf("rules.yml: removed %d group intervals for %d groups; the file's layout changed, update this test", removed, groups)
	}
	if !bytes.Contains(out, []byte("alert: SLOErrorBudgetBurn1h")) {
		t.Fatal("rules.yml has no alert SLOErrorBudgetBurn1h")
	}
	return testenv.WriteTemp(t, "rules.yml", string(out))
}

// sendOnTime posts every block of st to url when the wall clock reaches its
// timestamp (blocks in the past at once, as a backlog), as a scraping vmagent
// would, until all are sent or ctx ends. Block i is stamped st.start + i*step.
func sendOnTime(ctx context.Context, url string, st *stream, step time.Duration) error {
	for i, body := range st.blocks {
		if wait := time.Until(st.start.Add(time.Duration(i) * step)); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("cannot make write request: %w", err)
		}
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := testenv.HTTPClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("cannot post block %d: %w", i, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("block %d refused: %d %s", i, resp.StatusCode, msg)
		}
	}
	return nil
}

// alertSink is an Alertmanager stand-in: it records every alert vmalert
// POSTs to /api/v2/alerts, with the time it arrived.
type alertSink struct {
	mu     sync.Mutex
	alerts []receivedAlert
}

// receivedAlert is one alert of Alertmanager API v2's postable alerts.
type receivedAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	received    time.Time
}

// resolved: vmalert sends a firing alert with endsAt in the future (its
// resolve timeout) and a resolved one with endsAt = the evaluation that
// resolved it, as Alertmanager reads them.
func (a receivedAlert) resolved() bool { return !a.EndsAt.IsZero() && !a.EndsAt.After(a.received) }

func (s *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
		http.Error(w, "want POST /api/v2/alerts", http.StatusNotFound)
		return
	}
	var alerts []receivedAlert
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&alerts); err != nil {
		http.Error(w, "cannot decode alerts: "+err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	s.mu.Lock()
	for i := range alerts {
		alerts[i].received = now
	}
	s.alerts = append(s.alerts, alerts...)
	s.mu.Unlock()
}

// named returns the alerts received with alertname name, oldest first.
func (s *alertSink) named(name string) []receivedAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []receivedAlert
	for _, a := range s.alerts {
		if a.Labels["alertname"] == name {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].received.Before(out[j].received) })
	return out
}

func (s *alertSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.alerts)
}
