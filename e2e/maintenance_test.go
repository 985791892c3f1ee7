package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the reference masks in Europe/Berlin wherever the tests run

	"github.com/slogate/slogate/internal/testenv"
)

const apiToken = "e2e-secret-token"

// TestMaintenanceReplay is the maintenance acceptance: the two-day replay
// runs with a planned window, declared before the data arrives, over one
// route's outage, and an emergency window, declared after the replay, over
// another route's outage. The next synthetic points must equal the
// reference with both windows cut out, to 1e-9.
func TestMaintenanceReplay(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval="+evalStep.String(),
		"-api.tokenFile="+testenv.WriteTemp(t, "token", apiToken+"\n"))

	scrapes := int(48 * time.Hour / scrapeStep)
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Minute)
	plan := defaultPlan(scrapes + 1) // the last scrape comes after the emergency window
	st := generate(plan, start, 4)
	at := func(scrape int) time.Time { return start.Add(time.Duration(scrape) * scrapeStep) }

	planned, emergency := plan.outages[0], plan.outages[1]
	// Whole minutes around each outage; the window ends one minute after
	// the outage's last scrape.
	pStart, pEnd := at(planned.from).Truncate(time.Minute), at(planned.to).Truncate(time.Minute).Add(time.Minute)
	eStart, eEnd := at(emergency.from).Truncate(time.Minute), at(emergency.to).Truncate(time.Minute).Add(time.Minute)
	postWindow(t, sg.URL, pStart, pEnd, ingressRoutes[planned.route].ingress, "planned db upgrade", 201)

	order := sendOrder(len(st.blocks) - 1)
	for _, b := range order {
		postBlock(t, sg.URL+"/api/v1/write", st.blocks[b], nil)
	}
	postWindow(t, sg.URL, eStart, eEnd, ingressRoutes[emergency.route].ingress, "emergency failover", 201)
	postBlock(t, sg.URL+"/api/v1/write", st.blocks[len(st.blocks)-1], nil)

	last := at(len(st.blocks) - 1).UnixMilli()
	evalAt := last - last%evalStep.Milliseconds()
	masked := func(route int, minute int64) bool {
		ms := time.UnixMilli(minute * 60_000)
		switch route {
		case planned.route:
			return !ms.Before(pStart) && ms.Before(pEnd)
		case emergency.route:
			return !ms.Before(eStart) && ms.Before(eEnd)
		}
		return false
	}
	want := reference(st, evalAt, masked)
	for _, ri := range []int{planned.route, emergency.route} {
		if want[ri].excludedBad == 0 {
			t.Fatalf("route %s: the window excludes no bad events; the test proves nothing", routeKey(ri))
		}
	}
	checkBudgets(t, vm, st, evalAt, want, 0.999)
}

// postWindow declares a maintenance window over the routes of one ingress.
func postWindow(t *testing.T, base string, start, end time.Time, ingress, reason string, wantCode int) {
	t.Helper()
	body := fmt.Sprintf(`{"start":%q,"end":%q,"match":{"ingress":%q},"reason":%q,"author":"e2e"}`,
		start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), ingress, reason)
	code, msg := apiCall(t, http.MethodPost, base+"/slogate/api/v1/maintenance", apiToken, body)
	if code != wantCode {
		t.Fatalf("POST maintenance window: %d %s, want %d", code, msg, wantCode)
	}
}

func apiCall(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatalf("cannot call %s %s: %s", method, url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(bytes.TrimSpace(msg))
}

// TestMaintenanceAPIErrors checks authentication, the retroactive limit and
// validation as documented, and that windows survive a restart.
func TestMaintenanceAPIErrors(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	noToken := testenv.StartSlogate(t, "-upstream.url="+vm.URL())
	code, msg := apiCall(t, http.MethodPost, noToken.URL+"/slogate/api/v1/maintenance", "anything", `{}`)
	if code != http.StatusForbidden || !strings.Contains(msg, "-api.tokenFile") {
		t.Errorf("without a token file: %d %s, want 403 naming -api.tokenFile", code, msg)
	}

	state := t.TempDir()
	addr := testenv.FreeAddr(t)
	args := []string{"-upstream.url=" + vm.URL(), "-stateDir=" + state, "-httpListenAddr=" + addr,
		"-api.tokenFile=" + testenv.WriteTemp(t, "token", apiToken)}
	sg := testenv.StartSlogate(t, args...)
	url := sg.URL + "/slogate/api/v1/maintenance"
	now := time.Now().UTC().Truncate(time.Minute)
	window := func(start, end time.Time) string {
		return fmt.Sprintf(`{"start":%q,"end":%q,"reason":"r","author":"a"}`, start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	f := func(name, token, body string, wantCode int, wantText string) {
		t.Helper()
		code, msg := apiCall(t, http.MethodPost, url, token, body)
		if code != wantCode || !strings.Contains(msg, wantText) {
			t.Errorf("%s: %d %s, want %d containing %q", name, code, msg, wantCode, wantText)
		}
	}
	f("no token", "", window(now, now.Add(time.Hour)), 401, "bearer token")
	f("wrong token", "wrong", window(now, now.Add(time.Hour)), 401, "bearer token")
	f("80h in the past", apiToken, window(now.Add(-80*time.Hour), now.Add(-79*time.Hour)), 422, "retroactiveLimit=72h")
	f("malformed JSON", apiToken, `{"start":`, 400, "cannot parse")
	f("unknown field", apiToken, `{"start":"2026-01-01T00:00:00Z","bogus":1}`, 400, "bogus")
	f("end before start", apiToken, window(now, now.Add(-time.Hour)), 422, `"field": "end"`)
	f("bad regexp", apiToken, `{"start":"`+now.Format(time.RFC3339)+`","duration":"1h","match":{"host":"("}}`, 422, "match.host")
	f("bad time zone", apiToken, `{"rrule":"FREQ=WEEKLY","start":"2026-12-01T02:00:00","duration":"1h","timezone":"Mars/Olympus"}`, 422, "timezone")
	f("good", apiToken, window(now.Add(-time.Hour), now.Add(time.Hour)), 201, `"id"`)

	sg.Stop()
	sg = testenv.StartSlogate(t, args...)
	var list struct {
		Windows []struct {
			ID     string `json:"id"`
			Reason string `json:"reason"`
			Active bool   `json:"active"`
		} `json:"windows"`
	}
	if err := json.Unmarshal(testenv.MustGet(t, sg.URL+"/slogate/api/v1/maintenance"), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Windows) != 1 || !list.Windows[0].Active {
		t.Fatalf("after a restart: windows %+v, want the one active window", list.Windows)
	}
	var audit struct {
		Entries []struct{ Action, ID, Author string } `json:"entries"`
	}
	if err := json.Unmarshal(testenv.MustGet(t, url+"/audit"), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 1 || audit.Entries[0].Action != "create" || audit.Entries[0].Author != "a" {
		t.Fatalf("audit log after a restart: %+v", audit.Entries)
	}
}

// TestMaintenanceWeeklyAcrossDST runs nine days of traffic across the
// spring DST change in Berlin (2026-03-29) with a weekly window "Tuesdays
// 02:00-04:00 Europe/Berlin" from the config file. The reference masks by
// Berlin wall time, computed independently of the RRULE code: 01:00-03:00Z
// before the change, 00:00-02:00Z after.
func TestMaintenanceWeeklyAcrossDST(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	cfg := testenv.WriteTemp(t, "slogate.yml", `maintenance:
  - rrule: "FREQ=WEEKLY;BYDAY=TU"
    start: 2026-03-03T02:00:00
    duration: 2h
    timezone: Europe/Berlin
    reason: weekly patching
`)
	step := time.Minute
	start := time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)
	// The history is older than slogate counts by default (samples older
	// than the longest compliance window, 30d, plus the retroactive limit,
	// 72h, are ignored): the retroactive limit is raised to reach back to
	// it, as a deployment counting that old a history would.
	limit := (time.Since(start) + 24*time.Hour).Truncate(time.Hour)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval="+evalStep.String(), "-config="+cfg,
		"-maintenance.retroactiveLimit="+limit.String())

	plan := trafficPlan{
		scrapes: int(9 * 24 * time.Hour / step),
		step:    step,
		pods:    []pod{{"ingress-nginx-controller-a", "10.0.0.1:10254", 0, int(9 * 24 * time.Hour / step)}},
		resetAt: -1,
		// Errors all through both Tuesdays, so that the mask's edges show.
		outages: []outage{
			{route: 0, from: int(24 * time.Hour / step), to: int(2 * 24 * time.Hour / step), status: "500"},
			{route: 0, from: int(8 * 24 * time.Hour / step), to: int(9 * 24 * time.Hour / step), status: "500"},
		},
	}
	st := generate(plan, start, 5)
	for _, b := range st.blocks {
		postBlock(t, sg.URL+"/api/v1/write", b, nil)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	masked := func(_ int, minute int64) bool {
		local := time.UnixMilli(minute * 60_000).In(berlin)
		return local.Weekday() == time.Tuesday && local.Hour() >= 2 && local.Hour() < 4
	}
	// The independent mask really is 01:00Z one week and 00:00Z the next.
	for _, c := range []struct {
		utc  string
		want bool
	}{{"2026-03-24T01:00:00Z", true}, {"2026-03-24T00:59:00Z", false}, {"2026-03-24T03:00:00Z", false},
		{"2026-03-31T00:00:00Z", true}, {"2026-03-31T01:59:00Z", true}, {"2026-03-31T02:00:00Z", false}} {
		ts, _ := time.Parse(time.RFC3339, c.utc)
		if masked(0, ts.UnixMilli()/60_000) != c.want {
			t.Fatalf("reference mask at %s is %v, want %v", c.utc, !c.want, c.want)
		}
	}
	last := start.Add(time.Duration(plan.scrapes-1) * step).UnixMilli()
	evalAt := last - last%evalStep.Milliseconds()
	want := reference(st, evalAt, masked)
	if want[0].excludedBad == 0 || want[0].excludedGood == 0 {
		t.Fatal("the weekly window excludes nothing; the test proves nothing")
	}
	checkBudgets(t, vm, st, evalAt, want, 0.999)
}
