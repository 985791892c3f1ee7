package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/remotewrite"
)

// The page end to end: ingress-nginx traffic with an outage goes through
// the real slogate into the real VictoriaMetrics; headless Chromium renders
// /slogate/ (once with JavaScript, once without), and WebDriver (Debian's
// chromedriver, spoken as plain JSON over HTTP) declares a maintenance
// window through the page's form. scripts/install-chromium.sh installs both.

const (
	chromiumPath     = "/usr/bin/chromium"
	chromedriverPath = "/usr/bin/chromedriver"
	pageToken        = "e2e-page-token"
)

// pageConfig gives acme's two routes an SLA; blog has the default SLO.
// The service storefront sums acme's routes in 5m slices.
const pageConfig = `
contracts:
  - labels: {customer: acme, contract: acme-gold}
    match: {host: "shop\\.acme\\.com|api\\.acme\\.com"}
objectives:
  - match: {customer: acme}
    slo: 0.9995
    sla: 0.999
    window: 30d
services:
  - name: storefront
    match: {customer: acme}
    by: [customer]
    slo: 0.999
    sla: 0.99
    window: 30d
    budgeting: timeslices
    slice: 5m
    credits: [{below: 0.99, percent: 10}]
`

// pageRoute is one ingress route and the 503s it serves per minute from
// block from on.
type pageRoute struct {
	namespace, ingress, host, path string
	ok, errs                       float64
	errsFrom                       int
}

// shop has an outage in the last ten minutes (SLA budget gone), api a
// trickle of errors in the last minutes (SLA budget would run out within
// the 30d window), blog none.
var pageRoutes = []pageRoute{
	{"shop", "web", "shop.acme.com", "/", 100, 40, 31},
	{"api", "api", "api.acme.com", "/v1", 100, 1, 38},
	{"blog", "blog", "blog.globex.com", "/", 20, 0, 0},
}

func browserBinary(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("cannot find %s (run scripts/install-chromium.sh, or make deps): %s", path, err)
	}
	return path
}

func TestPageInBrowser(t *testing.T) {
	t.Parallel()
	chromium := browserBinary(t, chromiumPath)
	driver := browserBinary(t, chromedriverPath)
	vm := testenv.StartVM(t)
	dir := t.TempDir()
	tokenFile, configFile := filepath.Join(dir, "token"), filepath.Join(dir, "slogate.yml")
	if err := os.WriteFile(tokenFile, []byte(pageToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configFile, []byte(pageConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-api.tokenFile="+tokenFile, "-config="+configFile, "-eval.interval=1s")

	// 41 blocks, one a minute, the last at the current minute. The first
	// is a baseline (slogate's cold start); the last minute is not
	// complete, so blocks 1..39 count.
	start := time.Now().Truncate(time.Minute).Add(-40 * time.Minute)
	for i := 0; i <= 40; i++ {
		postPageBlock(t, sg.URL, i, start.Add(time.Duration(i)*time.Minute).UnixMilli())
	}
	last := start.Add(40 * time.Minute).UTC().Format(time.RFC3339)
	var slos []apiStatus
	testenv.Eventually(t, 30*time.Second, func() error {
		slos = getSLOs(t, sg.URL)
		if len(slos) != len(pageRoutes) || slos[0].EvaluatedAt != last {
			return fmt.Errorf("%d routes evaluated at %v, want %d at %s", len(slos), slos, len(pageRoutes), last)
		}
		return nil
	})
	// The synthetic counters in VictoriaMetrics hold what the API shows.
	testenv.Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		got := map[string]float64{}
		for _, v := range vm.Query(t, `sum by (route) (slo_requests_total)`, time.Now()) {
			got[v.Metric["route"]] = v.Value
		}
		for _, st := range slos {
			if want := float64(st.Requests.Good + st.Requests.Bad); got[st.Route] != want {
				return fmt.Errorf("slo_requests_total of %s is %v, want %v", st.Route, got[st.Route], want)
			}
		}
		return nil
	})

	// A window through the API: refused without the token.
	win := fmt.Sprintf(`{"start":%q,"end":%q,"match":{"host":"shop\\.acme\\.com"},"reason":"db upgrade","author":"e2e"}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339), time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339))
	if code, body := postJSON(t, sg.URL+"/slogate/api/v1/maintenance", "", win); code != http.StatusUnauthorized {
		t.Fatalf("window without token: %d %s", code, body)
	}
	if code, body := postJSON(t, sg.URL+"/slogate/api/v1/maintenance", pageToken, win); code != http.StatusCreated {
		t.Fatalf("window: %d %s", code, body)
	}
	// blog is in maintenance now: from ten minutes before the newest
	// data (after the fact) to an hour from now.
	active := fmt.Sprintf(`{"start":%q,"end":%q,"match":{"host":"blog\\.globex\\.com"},"reason":"blog migration","author":"e2e"}`,
		start.Add(30*time.Minute).UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if code, body := postJSON(t, sg.URL+"/slogate/api/v1/maintenance", pageToken, active); code != http.StatusCreated {
		t.Fatalf("active window: %d %s", code, body)
	}

	// The page as Chromium renders it after its script refreshed it.
	dom := testenv.DumpDOM(t, chromium, sg.URL+"/slogate/")
	for _, st := range slos {
		if !strings.Contains(dom, `<span class="name">`+st.Route+`</span>`) {
			t.Errorf("page does not name route %s", st.Route)
		}
		for kind, b := range st.Budgets {
			if want := budgetText(b); !strings.Contains(dom, want) {
				t.Errorf("page does not show the %s budget of %s: %q", kind, st.Route, want)
			}
		}
	}
	for _, want := range []string{
		`<strong class="warn">SLA budget exhausted: overspent by`,
		`<strong class="warn">SLA budget gone in `,
		`<td>db upgrade</td><td>e2e</td>`,
		`<span class="maint">maintenance `,
		`<span class="name">blog/blog/blog.globex.com//</span> <span class="badge inmaint">in maintenance</span>`,
		`<span class="name">storefront</span>`,
		`<span class="badge active">active</span>`,
		`<span class="meta" id="mw-js" hidden="">`, // the script ran
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// The server renders the same routes and windows as the script: the
	// server's HTML, opened from a file, where the script's absolute URL
	// does not resolve, goes through the same DOM serializer.
	page := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(page, testenv.MustGet(t, sg.URL+"/slogate/"), 0o644); err != nil {
		t.Fatal(err)
	}
	static := testenv.DumpDOM(t, chromium, "file://"+page)
	if n := strings.Count(dom, `class="badge inmaint"`); n != 1 {
		t.Errorf("%d in-maintenance badges, want 1 (blog)", n)
	}
	if strings.Contains(static, `id="mw-js" hidden`) {
		t.Fatalf("the script ran on the server's page")
	}
	for _, id := range []string{`<table id="services"`, `<table id="routes"`, `<ul id="risk-list">`, `<tbody id="windows-body">`} {
		if a, b := testenv.Element(dom, id), testenv.Element(static, id); a != b {
			t.Errorf("%s differs between the script's render and the server's:\n%s", id, firstDiff(a, b))
		}
	}

	checkReport(t, sg.URL, slos, start)
	declareThroughForm(t, driver, sg.URL)
}

func postPageBlock(t *testing.T, url string, i int, ts int64) {
	t.Helper()
	var series []remotewrite.TimeSeries
	for _, r := range pageRoutes {
		errs := 0.0
		if r.errsFrom > 0 && i >= r.errsFrom {
			errs = float64(i-r.errsFrom+1) * r.errs
		}
		for _, s := range []struct {
			status string
			value  float64
		}{{"200", float64(i) * r.ok}, {"503", errs}} {
			series = append(series, remotewrite.TimeSeries{Labels: []remotewrite.Label{
				{Name: "__name__", Value: "nginx_ingress_controller_requests"}, {Name: "host", Value: r.host},
				{Name: "ingress", Value: r.ingress}, {Name: "instance", Value: "10.0.0.1:10254"}, {Name: "job", Value: "ingress-nginx"},
				{Name: "method", Value: "GET"}, {Name: "namespace", Value: r.namespace}, {Name: "path", Value: r.path}, {Name: "status", Value: s.status},
			}, Samples: []remotewrite.Sample{{Value: s.value, Timestamp: ts}}})
		}
	}
	body := snappy.Encode(nil, remotewrite.AppendWriteRequest(nil, series))
	if code, _, msg := postWrite(t, http.MethodPost, url+"/api/v1/write", "snappy", body); code != http.StatusNoContent {
		t.Fatalf("block %d: %d %s", i, code, msg)
	}
}

// budgetText is how the page must show a remaining budget: its two
// largest units of days, hours and minutes (seconds below a minute), from
// remainingSeconds, with the whole percent left.
func budgetText(b apiBudget) string {
	dhm := func(s float64) string {
		n := math.Round(math.Abs(s))
		if n < 60 {
			return fmt.Sprintf("%.0fs", n)
		}
		var big, small int64
		var ub, us string
		if mins := int64(math.Round(n / 60)); mins < 24*60 {
			big, small, ub, us = mins/60, mins%60, "h", "m"
		} else {
			hours := int64(math.Round(n / 3600))
			big, small, ub, us = hours/24, hours%24, "d", "h"
		}
		switch {
		case big == 0:
			return fmt.Sprintf("%d%s", small, us)
		case small == 0:
			return fmt.Sprintf("%d%s", big, ub)
		}
		return fmt.Sprintf("%d%s %d%s", big, ub, small, us)
	}
	if b.RemainingSeconds < 0 {
		return "overspent by " + dhm(b.RemainingSeconds)
	}
	return fmt.Sprintf("%s left (%d%%)", dhm(b.RemainingSeconds), int(math.Floor(b.RemainingRatio*100)))
}

func postJSON(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatalf("cannot post %s: %s", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-200)
	return fmt.Sprintf("script: ...%s\nserver: ...%s", a[from:min(len(a), i+200)], b[from:min(len(b), i+200)])
}

// checkReport reads this month's report as JSON and, through the
// `slogate report` command, as CSV.
func checkReport(t *testing.T, base string, slos []apiStatus, start time.Time) {
	t.Helper()
	var rep struct {
		Period    string
		Contracts []struct {
			Customer string
			Routes   []struct {
				Route    string
				Requests uint64
				Status   string
			}
		}
	}
	if err := json.Unmarshal(testenv.MustGet(t, base+"/slogate/api/v1/report?format=json"), &rep); err != nil {
		t.Fatalf("cannot parse report: %s", err)
	}
	requests := map[string]uint64{}
	for _, c := range rep.Contracts {
		for _, r := range c.Routes {
			requests[r.Route] = r.Requests
		}
	}
	y, m, _ := time.Now().UTC().Date()
	whole := !start.Before(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)) // all traffic in this month
	for _, st := range slos {
		got, ok := requests[st.Route]
		if !ok {
			t.Errorf("report %s lacks route %s", rep.Period, st.Route)
		} else if want := st.Requests.Good + st.Requests.Bad; whole && got != want {
			t.Errorf("report %s: %s has %d requests, slogate counted %d", rep.Period, st.Route, got, want)
		}
	}
	out, err := exec.Command(testenv.BuildSlogate(t), "report", "-format=csv", "-period="+rep.Period, "-url="+base).Output()
	if err != nil {
		t.Fatalf("slogate report: %v", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	// A header, a line per route, and one for the storefront service.
	if err != nil || len(rows) != 1+len(slos)+1 || rows[0][0] != "period" {
		t.Fatalf("slogate report -format=csv: %v, %d rows:\n%s", err, len(rows), out)
	}
}

// webDriver is a W3C WebDriver session on chromedriver: JSON over HTTP.
type webDriver struct {
	t       *testing.T
	session string // http://127.0.0.1:<port>/session/<id>
}

// elementKey names an element reference in WebDriver answers.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

var webDriverClient = &http.Client{Timeout: 60 * time.Second}

// webDriverCall sends one command and returns its "value".
func webDriverCall(t *testing.T, method, url string, body any) json.RawMessage {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := webDriverClient.Do(req)
	if err != nil {
		t.Fatalf("cannot call WebDriver %s %s: %s", method, url, err)
	}
	defer resp.Body.Close()
	var out struct{ Value json.RawMessage }
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("WebDriver %s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return out.Value
}

func (wd *webDriver) call(method, path string, body any) json.RawMessage {
	wd.t.Helper()
	return webDriverCall(wd.t, method, wd.session+path, body)
}

// fill replaces the value of the input selected by css with text.
func (wd *webDriver) fill(css, text string) {
	wd.t.Helper()
	var el map[string]string
	if err := json.Unmarshal(wd.call("POST", "/element", map[string]string{"using": "css selector", "value": css}), &el); err != nil {
		wd.t.Fatalf("cannot find %s: %s", css, err)
	}
	wd.call("POST", "/element/"+el[elementKey]+"/clear", map[string]any{})
	wd.call("POST", "/element/"+el[elementKey]+"/value", map[string]string{"text": text})
}

// eval runs a script in the page and decodes its result into v.
func (wd *webDriver) eval(script string, v any) {
	wd.t.Helper()
	if err := json.Unmarshal(wd.call("POST", "/execute/sync", map[string]any{"script": script, "args": []any{}}), v); err != nil {
		wd.t.Fatalf("cannot decode the result of %s: %s", script, err)
	}
}

// waitFor polls a script until it returns the string want.
func (wd *webDriver) waitFor(script, want string) {
	wd.t.Helper()
	testenv.Eventually(wd.t, 20*time.Second, func() error {
		var got string
		wd.eval(script, &got)
		if got != want {
			return fmt.Errorf("%s returned %q, want %q", script, got, want)
		}
		return nil
	})
}

// declareThroughForm drives the page's form in Chromium: a wrong end is
// refused with the API's field and message, a valid window appears in the
// list and on its route, and the token stays in sessionStorage only.
func declareThroughForm(t *testing.T, driver, base string) {
	port := testenv.FreePort(t)
	p := testenv.StartProc(t, testenv.Spec{Name: "chromedriver", Path: driver, Args: []string{fmt.Sprintf("--port=%d", port)}})
	p.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/status", port))
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromiumPath, "args": []string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--window-size=1400,1000", "--user-data-dir=" + t.TempDir()}},
	}}}
	var s struct{ SessionID string }
	if err := json.Unmarshal(webDriverCall(t, "POST", fmt.Sprintf("http://127.0.0.1:%d/session", port), caps), &s); err != nil || s.SessionID == "" {
		t.Fatalf("cannot create a WebDriver session: %v", err)
	}
	wd := &webDriver{t: t, session: fmt.Sprintf("http://127.0.0.1:%d/session/%s", port, s.SessionID)}
	t.Cleanup(func() { wd.call("DELETE", "", nil) }) // closes Chromium before chromedriver stops

	wd.call("POST", "/url", map[string]string{"url": base + "/slogate/"})
	wd.waitFor(`return String(document.getElementById('mw-submit').disabled)`, "false")
	from := time.Now().Add(3 * time.Hour).Truncate(time.Minute).UTC()
	wd.fill("#mw-start", from.Format(time.RFC3339))
	wd.fill("#mw-end", from.Add(-time.Hour).Format(time.RFC3339))
	wd.fill("#mw-match", `host=api\.acme\.com`)
	wd.fill("#mw-reason", "e2e form window")
	wd.fill("#mw-author", "webdriver")
	wd.fill("#mw-token", pageToken)
	wd.eval(`document.getElementById('mw-submit').click(); return ''`, new(string))
	wd.waitFor(`return document.getElementById('declare-error').textContent`, "end: must be after start")
	wd.waitFor(`return document.getElementById('mw-end').getAttribute('aria-invalid')`, "true")

	wd.fill("#mw-end", from.Add(time.Hour).Format(time.RFC3339))
	wd.eval(`document.getElementById('mw-submit').click(); return ''`, new(string))
	wd.waitFor(`return document.getElementById('declare-ok').textContent`, "Declared mw-2 (e2e form window).")
	wd.waitFor(`return String(document.getElementById('windows-body').textContent.includes('e2e form window'))`, "true")
	wd.waitFor(`return String([...document.querySelectorAll('#routes .maint')].some(e => e.textContent.endsWith(': e2e form window')))`, "true")
	var stored []any
	wd.eval(`return [sessionStorage.getItem('slogate.apiToken'), localStorage.length, document.cookie]`, &stored)
	if fmt.Sprint(stored) != fmt.Sprintf("[%s 0 ]", pageToken) {
		t.Errorf("token storage [sessionStorage, localStorage entries, cookies] = %v", stored)
	}
	var windows struct {
		Windows []struct{ ID, Reason, Author string }
	}
	if err := json.Unmarshal(testenv.MustGet(t, base+"/slogate/api/v1/maintenance"), &windows); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(windows.Windows); !strings.Contains(got, "{mw-2 e2e form window webdriver}") {
		t.Errorf("the API does not hold the window declared through the form: %s", got)
	}

	checkAboveFold(t, wd)
	wd.eval(`window.scrollTo(0, 0); return ''`, new(string))
	var shot string
	if err := json.Unmarshal(wd.call("GET", "/screenshot", nil), &shot); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(shot)
	if err != nil {
		t.Fatalf("cannot decode screenshot: %s", err)
	}
	// Kept with go test -artifacts (under -outputdir), and for a person
	// to look at in the repository's git-ignored .tmp/.
	for _, path := range []string{filepath.Join(t.ArtifactDir(), "page.png"), filepath.Join(testenv.RepoRoot(t), ".tmp", "page.png")} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot (1400x1000): %s", path)
	}
}

// checkAboveFold checks, at the top of the page in a 1400x1000 window
// (Chromium leaves about 860 pixels of it to the page), that the summary comes first and is on screen without scrolling: the
// first at-risk item, the first active or upcoming maintenance window,
// and the first service; the routes table starts below them.
func checkAboveFold(t *testing.T, wd *webDriver) {
	t.Helper()
	var got struct {
		Outer                            []float64
		Width, Height                    float64
		Risk, Window, Service, Routes    []float64 // top, bottom; empty when absent
		WindowState, ServiceName, Errors string
	}
	var raw string
	wd.eval(`window.scrollTo(0, 0);
const box = (el) => { if (!el) return []; const r = el.getBoundingClientRect(); return r.height > 0 ? [r.top, r.bottom] : []; };
const win = document.querySelector('#windows-body tr');
const svc = document.querySelector('#services-body tr.service');
return JSON.stringify({
  outer: [window.outerWidth, window.outerHeight], width: window.innerWidth, height: window.innerHeight,
  risk: box(document.querySelector('#risk-list li')), window: box(win), service: box(svc),
  routes: box(document.querySelector('#routes tbody tr.route')),
  windowState: win ? win.querySelector('.badge').textContent : '',
  serviceName: svc ? svc.querySelector('.name').textContent : '',
});`, &raw)
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("cannot decode the page's layout %s: %s", raw, err)
	}
	t.Logf("layout at 1400x1000: %s", raw)
	if fmt.Sprint(got.Outer) != "[1400 1000]" || got.Width != 1400 || got.Height < 800 {
		t.Fatalf("window %v, page %vx%v: want a 1400x1000 window", got.Outer, got.Width, got.Height)
	}
	for _, c := range []struct {
		name string
		box  []float64
	}{{"the first at-risk item", got.Risk}, {"the first maintenance window (" + got.WindowState + ")", got.Window}, {"the first service (" + got.ServiceName + ")", got.Service}} {
		if len(c.box) != 2 {
			t.Errorf("%s is not shown", c.name)
		} else if c.box[0] < 0 || c.box[1] > got.Height {
			t.Errorf("%s is at %v..%v px, not within the %v px on screen", c.name, c.box[0], c.box[1], got.Height)
		}
	}
	if got.WindowState != "active" {
		t.Errorf("the first maintenance window is %q, want the active one", got.WindowState)
	}
	if len(got.Routes) != 2 || len(got.Service) != 2 || got.Routes[0] < got.Service[1] {
		t.Errorf("the routes (%v) do not come after the services (%v)", got.Routes, got.Service)
	}
}
