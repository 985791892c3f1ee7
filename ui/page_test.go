package ui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/slo"
	"github.com/slogate/slogate/store"
	"github.com/slogate/slogate/vmclient"
)

// fakeEngine is an Evaluator with fixed statuses, all in the default tenant.
type fakeEngine struct {
	statuses []budget.RouteStatus
	services []budget.ServiceStatus
	wm       int64
}

func (f *fakeEngine) Tenants() []budget.Tenant {
	if len(f.statuses) == 0 {
		return nil
	}
	return []budget.Tenant{{}}
}
func (f *fakeEngine) Watermark(budget.Tenant) int64                      { return f.wm }
func (f *fakeEngine) Evaluate(budget.Tenant, int64) []budget.RouteStatus { return f.statuses }
func (f *fakeEngine) EvaluateServices(budget.Tenant, int64) []budget.ServiceStatus {
	return f.services
}

// pageNow is the clock of the page tests: 2026-11-20 12:00 UTC, ten and a
// half days before the end of November.
var pageNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// routeSpec describes one fake route status.
type routeSpec struct {
	host, path       string
	contract         []budget.Label
	slo, sla         float64
	window           slo.Window
	good, total      uint64 // compliance window
	remSLO, remSLA   float64
	secsSLO, secsSLA float64
	exhSLA           float64 // < 0: absent
	burn1h           float64
	release          slo.ReleaseState
}

func (r routeSpec) status() budget.RouteStatus {
	labels := []budget.Label{{Name: "namespace", Value: "ns"}, {Name: "ingress", Value: "web"}, {Name: "host", Value: r.host}, {Name: "path", Value: r.path}}
	st := budget.RouteStatus{
		Source: "ingress-nginx", Labels: labels, Route: "ns/web/" + r.host + r.path,
		Objective: budget.Objective{Name: "availability", SLO: r.slo, SLA: r.sla, Window: r.window, Contract: r.contract},
		SLO:       slo.BudgetStatus{Kind: "slo", Objective: r.slo, RemainingRatio: r.remSLO, RemainingSeconds: r.secsSLO},
		Release:   r.release,
	}
	for i, w := range slo.ShortWindows {
		st.Windows[i] = slo.WindowStatus{Name: w.Name}
		if w.Name == "1h" {
			st.Windows[i].BurnRate = r.burn1h
		}
	}
	cw := slo.WindowStatus{Name: r.window.Label(), Good: r.good, Total: r.total}
	if r.total > 0 {
		cw.SLI, cw.HasSLI = float64(r.good)/float64(r.total), true
	}
	st.Windows[slo.WindowCompliance] = cw
	if r.sla > 0 {
		st.HasSLA = true
		st.SLA = slo.BudgetStatus{Kind: "sla", Objective: r.sla, RemainingRatio: r.remSLA, RemainingSeconds: r.secsSLA}
		if r.exhSLA >= 0 {
			st.SLA.ExhaustionSeconds, st.SLA.HasExhaustion = r.exhSLA, true
		}
	}
	return st
}

var (
	acme   = []budget.Label{{Name: "contract", Value: "gold"}, {Name: "customer", Value: "acme"}}
	globex = []budget.Label{{Name: "customer", Value: "globex"}}
	month  = slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: time.UTC}
	days30 = slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}
)

// pageRoutes: shop is overspent, api burns its SLA budget within 14m 20s,
// blog is fine, static has no requests and no contract (and a budget of
// days: 80% over 30 days).
var pageRoutes = []routeSpec{
	{host: "api.acme.com", path: "/v1", contract: acme, slo: 0.9995, sla: 0.999, window: month, good: 999_500, total: 1_000_000,
		remSLO: 0, secsSLO: 0, remSLA: 0.5, secsSLA: 1296, exhSLA: 860, burn1h: 20, release: slo.ReleaseFreeze},
	{host: "shop.acme.com", path: "/", contract: acme, slo: 0.9995, sla: 0.999, window: month, good: 998_000, total: 1_000_000,
		remSLO: -3, secsSLO: -3888, remSLA: -1, secsSLA: -2592, exhSLA: 0, burn1h: 2.5, release: slo.ReleaseFreeze},
	{host: "blog.globex.com", path: "/", contract: globex, slo: 0.999, window: days30, good: 123_456, total: 123_456,
		remSLO: 1, secsSLO: 2592, exhSLA: -1, release: slo.ReleaseShip},
	{host: "static.example.com", path: "/", slo: 0.8, window: days30, remSLO: 1, secsSLO: 525_600, exhSLA: -1, release: slo.ReleaseCaution},
}

// testPage is the ui over fixed routes, served as package proxy serves it:
// the exact path, else the longest prefix of Routes.
type testPage struct {
	Handle      fasthttp.RequestHandler
	Maintenance *MaintenanceAPI
	engine      *fakeEngine
}

// newTestPage returns the page over the given routes, with a maintenance
// store holding windows; the token enables the form.
func newTestPage(t *testing.T, routes []routeSpec, windows ...maintenance.Spec) *testPage {
	t.Helper()
	eng := &fakeEngine{wm: pageNow.UnixMilli()}
	for _, r := range routes {
		eng.statuses = append(eng.statuses, r.status())
	}
	now := func() time.Time { return pageNow }
	store, err := store.OpenMaintenance(store.MaintenanceConfig{Dir: t.TempDir(), RetroactiveLimit: 72 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range windows {
		if _, err := store.Create(w, "ops"); err != nil {
			t.Fatalf("cannot create window %+v: %s", w, err)
		}
	}
	client, err := vmclient.New(vmclient.Config{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Config{Engine: eng, Step: 15 * time.Second, Maintenance: store, Tokens: []Token{{Name: "ops", Secret: "secret"}}, Client: client, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	table := u.Routes()
	serve := func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		best := ""
		for p := range table {
			if p == path || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) && len(p) > len(best) && best != path {
				best = p
			}
		}
		if h := table[best]; h != nil {
			h(ctx)
			return
		}
		ctx.Error("not found\n", fasthttp.StatusNotFound)
	}
	return &testPage{Handle: serve, Maintenance: u.maint, engine: eng}
}

// do serves one request through h and returns the response.
func do(h fasthttp.RequestHandler, method, uri string, headers ...string) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.SetHost("slogate.test:8490")
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	h(&ctx)
	ctx.Response.Body() // reads a streamed body to the end
	var resp fasthttp.Response
	ctx.Response.CopyTo(&resp)
	return &resp
}

func getPage(t *testing.T, api *testPage, uri string) string {
	t.Helper()
	resp := do(api.Handle, "GET", uri)
	if resp.StatusCode() != 200 {
		t.Fatalf("GET %s: %d %s", uri, resp.StatusCode(), resp.Body())
	}
	if ct := string(resp.Header.ContentType()); ct != "text/html; charset=utf-8" {
		t.Fatalf("GET %s: Content-Type %q", uri, ct)
	}
	return string(resp.Body())
}

func TestPageNoRoutes(t *testing.T) {
	api := newTestPage(t, nil)
	for _, uri := range []string{"/slogate/", "/slogate"} {
		body := getPage(t, api, uri)
		want := `<p id="empty" class="empty">No routes seen yet: point vmagent's remote write at slogate (<code>-remoteWrite.url=http://slogate.test:8490/api/v1/write</code>).</p>`
		if !strings.Contains(body, want) {
			t.Fatalf("GET %s: no honest empty state %q in\n%s", uri, want, body)
		}
		if !strings.Contains(body, `<table id="routes" hidden>`) {
			t.Errorf("GET %s: the empty routes table is shown", uri)
		}
	}
}

func TestPageRoutes(t *testing.T) {
	api := newTestPage(t, pageRoutes,
		maintenance.Spec{Start: "2026-11-20T11:00:00Z", End: "2026-11-20T13:00:00Z", Match: map[string]string{"host": `shop\.acme\.com`}, Reason: "db upgrade", Author: "ops"},
		maintenance.Spec{Start: "2026-11-24T02:00:00Z", End: "2026-11-24T03:00:00Z", Match: map[string]string{"customer": "globex"}, Reason: "kernel patch"},
		maintenance.Spec{Start: "2026-11-18T02:00:00Z", End: "2026-11-18T03:00:00Z", Reason: "past"})
	api.engine.statuses[1].MaintenanceActive = true // shop, in the db upgrade
	body := getPage(t, api, "/slogate/")

	for _, want := range []string{
		// Groups per customer and contract, targets, availability with
		// the target's digits, truncated.
		`<th scope="rowgroup" colspan="10">acme · contract gold</th>`,
		`<th scope="rowgroup" colspan="10">globex</th>`,
		`<th scope="rowgroup" colspan="10">no contract</th>`,
		`SLO 99.95%<br>SLA 99.9%`,
		`<td class="num avail">99.95%</td>`,
		`<td class="num avail">99.80%</td>`,
		`<td class="num avail">100%</td>`,
		`<td class="num avail">no requests</td>`,
		`<span class="left">6d 2h left (100%)</span>`,
		// Budgets as bars and time; warnings.
		`<span class="kind">SLA</span> <meter min="0" max="1" low="0.25" high="0.5" optimum="1" value="0.5" aria-label="SLA budget left"></meter> <span class="left">22m left (50%)</span>`,
		`<div class="b low"><span class="kind">SLA</span> <meter min="0" max="1" low="0.25" high="0.5" optimum="1" value="0" aria-label="SLA budget left"></meter> <span class="left">overspent by 43m</span></div>`,
		`<strong class="warn">SLA budget gone in 14m at the current error rate</strong>`,
		`<strong class="warn">SLA budget exhausted: overspent by 43m</strong>`,
		`<strong class="warn">SLO budget exhausted: overspent by 1h 5m</strong>`,
		`<li><a href="#` + rowID("0:0|ingress-nginx|ns/web/api.acme.com/v1|availability") + `">acme · contract gold · ns/web/api.acme.com/v1: SLA budget gone in 14m at the current error rate</a></li>`,
		// Burn rates and release state.
		`<td class="num burn hot">20.0</td>`,
		`<td class="num burn warm">2.50</td>`,
		`<span class="badge freeze">freeze</span>`,
		`<span class="badge ship">ship</span>`,
		`<span class="badge caution">caution</span>`,
		// Maintenance per route and in the list, with reasons.
		`<span class="name">ns/web/shop.acme.com/</span> <span class="badge inmaint">in maintenance</span> <span class="meta">`,
		`<span class="maint">in maintenance until 2026-11-20 13:00 UTC: db upgrade</span>`,
		`<span class="maint">maintenance 2026-11-24 02:00 UTC – 2026-11-24 03:00 UTC: kernel patch</span>`,
		`<td><span class="badge active">active</span></td><td>until 2026-11-20 13:00 UTC</td><td><code>host=~shop\.acme\.com</code></td><td>db upgrade</td><td>ops</td>`,
		`<td><span class="badge upcoming">upcoming</span></td><td>2026-11-24 02:00 UTC – 2026-11-24 03:00 UTC</td><td><code>customer=~globex</code></td><td>kernel patch</td>`,
		`<td><span class="badge ended">ended</span></td><td>2026-11-18 02:00 UTC – 2026-11-18 03:00 UTC</td><td><code>every route</code></td><td>past</td>`,
		// The filter's data, the form.
		`data-search="0:0 ingress-nginx ns/web/blog.globex.com/ availability host=blog.globex.com ingress=web namespace=ns path=/ customer=globex"`,
		`<output id="count" for="q">4 of 4 routes</output>`,
		`<label for="mw-token">API token (kept in this browser tab only)</label><input id="mw-token" name="token" type="password" autocomplete="off">`,
		`Data up to 2026-11-20 12:00 UTC`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "blog.globex.com/: ") {
		t.Errorf("a route with budget to spare is listed as at risk")
	}
	// Least remaining SLA budget first: shop (overspent) before api; the
	// acme group (most urgent) before globex and the contractless routes.
	order := regexp.MustCompile(`<span class="name">([^<]+)</span>`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, m := range order {
		got = append(got, m[1])
	}
	want := "ns/web/shop.acme.com/ ns/web/api.acme.com/v1 ns/web/blog.globex.com/ ns/web/static.example.com/"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
	// The page is versioned, locked down and never cached.
	resp := do(api.Handle, "GET", "/slogate/")
	if cc := string(resp.Header.Peek("Cache-Control")); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if csp := string(resp.Header.Peek("Content-Security-Policy")); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if strings.Contains(body, "http://") && strings.Contains(body, "<link") && regexp.MustCompile(`(src|href)="https?://`).MatchString(body) {
		t.Errorf("the page loads something from elsewhere")
	}
}

func TestPageFilterAndSort(t *testing.T) {
	api := newTestPage(t, pageRoutes)
	f := func(uri string, shown []string, count string) {
		t.Helper()
		body := getPage(t, api, uri)
		rows := regexp.MustCompile(`<tr id="r-[0-9a-f]+" class="route[^"]*" data-search="[^"]*"( hidden)?>\s*<th scope="row"><span class="name">([^<]+)</span>`).FindAllStringSubmatch(body, -1)
		var got []string
		for _, r := range rows {
			if r[1] == "" {
				got = append(got, r[2])
			}
		}
		if strings.Join(got, " ") != strings.Join(shown, " ") {
			t.Errorf("%s: shown %v, want %v", uri, got, shown)
		}
		if !strings.Contains(body, `<output id="count" for="q">`+count+`</output>`) {
			t.Errorf("%s: count is not %q", uri, count)
		}
	}
	f("/slogate/?q=globex", []string{"ns/web/blog.globex.com/"}, "1 of 4 routes")
	f("/slogate/?q=ACME+v1", []string{"ns/web/api.acme.com/v1"}, "1 of 4 routes")
	f("/slogate/?q=host%3Dshop", []string{"ns/web/shop.acme.com/"}, "1 of 4 routes")
	f("/slogate/?q=nothing-matches", nil, "0 of 4 routes")
	f("/slogate/?sort=name", []string{"ns/web/api.acme.com/v1", "ns/web/shop.acme.com/", "ns/web/blog.globex.com/", "ns/web/static.example.com/"}, "4 of 4 routes")
	f("/slogate/?sort=burn", []string{"ns/web/api.acme.com/v1", "ns/web/shop.acme.com/", "ns/web/blog.globex.com/", "ns/web/static.example.com/"}, "4 of 4 routes")
	f("/slogate/?sort=bogus", []string{"ns/web/shop.acme.com/", "ns/web/api.acme.com/v1", "ns/web/blog.globex.com/", "ns/web/static.example.com/"}, "4 of 4 routes")

	body := getPage(t, api, "/slogate/?q=nothing-matches")
	if !strings.Contains(body, `<p id="nomatch" class="empty">No route matches the filter.</p>`) {
		t.Errorf("no message when the filter matches nothing")
	}
}

func TestPageFormDisabledWithoutToken(t *testing.T) {
	api := newTestPage(t, pageRoutes)
	api.Maintenance.Tokens = nil
	body := getPage(t, api, "/slogate/")
	if !strings.Contains(body, "<fieldset disabled>") || !strings.Contains(body, "Changes are disabled: start slogate with -api.tokenFile.") {
		t.Errorf("the form does not say that changes are disabled")
	}
}

func TestPageStatic(t *testing.T) {
	api := newTestPage(t, nil)
	page := getPage(t, api, "/slogate/")
	for _, name := range []string{"page.js", "page.css"} {
		m := regexp.MustCompile(`/slogate/static/` + regexp.QuoteMeta(name) + `\?v=([0-9a-f]+)`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("page does not link %s", name)
		}
		resp := do(api.Handle, "GET", m[0])
		if resp.StatusCode() != 200 || len(resp.Body()) == 0 {
			t.Fatalf("GET %s: %d", m[0], resp.StatusCode())
		}
		if cc := string(resp.Header.Peek("Cache-Control")); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", m[0], cc)
		}
		ct := string(resp.Header.ContentType())
		if name == "page.js" && !strings.HasPrefix(ct, "text/javascript") || name == "page.css" && !strings.HasPrefix(ct, "text/css") {
			t.Errorf("GET %s: Content-Type %q", m[0], ct)
		}
		// Unversioned: revalidated by ETag.
		resp = do(api.Handle, "GET", "/slogate/static/"+name)
		if cc := string(resp.Header.Peek("Cache-Control")); cc != "no-cache" {
			t.Errorf("GET %s unversioned: Cache-Control %q", name, cc)
		}
		resp = do(api.Handle, "GET", "/slogate/static/"+name, "If-None-Match", `"`+m[1]+`"`)
		if resp.StatusCode() != 304 {
			t.Errorf("GET %s with a matching ETag: %d, want 304", name, resp.StatusCode())
		}
	}
	for uri, code := range map[string]int{"/slogate/static/page.html": 404, "/slogate/static/../page.go": 404, "/slogate/nope": 404} {
		if got := do(api.Handle, "GET", uri).StatusCode(); got != code {
			t.Errorf("GET %s: %d, want %d", uri, got, code)
		}
	}
	if resp := do(api.Handle, "GET", "/slogate/", "Accept-Encoding", "gzip"); string(resp.Header.ContentEncoding()) != "gzip" {
		t.Errorf("the page is not compressed for a client that accepts gzip")
	} else if body, err := resp.BodyGunzip(); err != nil || !strings.HasPrefix(string(body), "<!doctype html>") || !strings.HasSuffix(strings.TrimSpace(string(body)), "</html>") {
		t.Errorf("the compressed page does not decompress to the whole page: %v %q", err, body)
	}
	if resp := do(api.Handle, "HEAD", "/slogate/"); resp.StatusCode() != 200 || len(resp.Body()) != 0 {
		t.Errorf("HEAD /slogate/: %d with %d bytes of body, want 200 and none", resp.StatusCode(), len(resp.Body()))
	}
	if got := do(api.Handle, "POST", "/slogate/").StatusCode(); got != 405 {
		t.Errorf("POST /slogate/: %d, want 405", got)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		secs float64
		want string
	}{{0, "0s"}, {0.4, "0s"}, {59.6, "1m 0s"}, {860, "14m 20s"}, {3600, "1h 0m 0s"}, {2592, "43m 12s"}, {93784, "26h 3m 4s"}, {-61, "-1m 1s"}} {
		if got := fmtSeconds(c.secs); got != c.want {
			t.Errorf("fmtSeconds(%v) = %q, want %q", c.secs, got, c.want)
		}
	}
	for _, c := range []struct {
		secs float64
		want string
	}{
		{0, "0s"}, {0.4, "0s"}, {45, "45s"}, {59.4, "59s"}, {59.6, "1m"}, {89, "1m"}, {90, "2m"}, {860, "14m"},
		{3570, "1h"}, {3600, "1h"}, {3900, "1h 5m"}, {86_370, "1d"}, {93_784, "1d 2h"}, {525_600, "6d 2h"},
		{31_536_000, "365d"}, {-61, "-1m"}, {-0.2, "0s"},
	} {
		if got := fmtDuration(c.secs); got != c.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", c.secs, got, c.want)
		}
	}
	for _, c := range []struct {
		v        float64
		decimals int
		want     string
	}{{0.9995, 2, "99.95%"}, {0.99949, 2, "99.94%"}, {0.999999, 2, "99.99%"}, {1, 2, "100%"}, {0.5, 2, "50.00%"}, {0.99995, 3, "99.995%"}} {
		if got := fmtAvailability(c.v, c.decimals); got != c.want {
			t.Errorf("fmtAvailability(%v, %d) = %q, want %q", c.v, c.decimals, got, c.want)
		}
	}
	for _, c := range []struct {
		v        float64
		want     string
		decimals int
	}{{0.9995, "99.95%", 2}, {0.999, "99.9%", 2}, {0.99995, "99.995%", 3}, {0.9, "90%", 2}} {
		if got := fmtTarget(c.v); got != c.want {
			t.Errorf("fmtTarget(%v) = %q, want %q", c.v, got, c.want)
		}
		if got := targetDecimals(c.v); got != c.decimals {
			t.Errorf("targetDecimals(%v) = %d, want %d", c.v, got, c.decimals)
		}
	}
}
