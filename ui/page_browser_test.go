package ui

import (
	"encoding/json"
	"fmt"
	"html"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/slo"
)

// TestPageScriptRendersAsServer: page.js re-renders services, routes, the
// at-risk list and the count exactly as the server renders them (the
// e2e page test checks the same through a real slogate, without
// services). It needs headless Chromium (scripts/install-chromium.sh) and
// is skipped without it or with -short.
func TestPageScriptRendersAsServer(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("cannot find %s (run scripts/install-chromium.sh, or make deps): %s", chromium, err)
	}
	p := newServicesPage(t, pageRoutes, pageServices())
	p.engine.statuses[1].MaintenanceActive = true // a route's badge, as the api service's
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: p.Handle}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { srv.Shutdown() })
	url := "http://" + ln.Addr().String() + "/slogate/?q=acme"

	script := testenv.DumpDOM(t, chromium, url)
	if !strings.Contains(script, `id="mw-js" hidden`) {
		t.Fatalf("the script did not run:\n%s", script)
	}
	file := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(file, do(p.Handle, "GET", "/slogate/?q=acme").Body(), 0o644); err != nil {
		t.Fatal(err)
	}
	server := testenv.DumpDOM(t, chromium, "file://"+file)
	for _, id := range []string{`<output id="count"`, `<section id="services-sec"`, `<table id="routes"`, `<ul id="risk-list">`} {
		a, b := testenv.Element(script, id), testenv.Element(server, id)
		if a == "" || a != b {
			t.Errorf("%s differs between the script's render and the server's:\nscript: %s\nserver: %s", id, a, b)
		}
	}
	if !strings.Contains(testenv.Element(script, `<table id="services"`), "downtime left") {
		t.Errorf("the script's services table shows no downtime budget")
	}
	if n := strings.Count(script, `<span class="badge inmaint">in maintenance</span>`); n != 2 {
		t.Errorf("the script shows %d in-maintenance badges, want 2 (a route, a service)", n)
	}
}

// layoutScript records, once the page is laid out, where the first at-risk
// item, the first maintenance window, the first service and the first route
// are, as JSON in <pre id="layout">.
const layoutScript = `<script>
addEventListener('load', () => {
  const box = (sel) => { const e = document.querySelector(sel); if (!e) return []; const r = e.getBoundingClientRect(); return r.height > 0 ? [r.top, r.bottom] : []; };
  const out = {height: innerHeight, width: innerWidth, risk: box('#risk-list li'), window: box('#windows-body tr'),
    service: box('#services-body tr.service'), route: box('#routes tr.route'), declare: box('#declare')};
  const pre = document.createElement('pre');
  pre.id = 'layout';
  pre.textContent = JSON.stringify(out);
  document.body.append(pre);
});
</script>`

// TestPageSummaryOnScreen: on a busy page (40 routes at risk, 4 services,
// 30 maintenance windows) in a 1400x1000 Chromium window, the first at-risk
// item, the first (active) maintenance window and the first service are
// on screen without scrolling, and the routes and the form come after
// them. The server's page is opened from a file, its style sheet inline,
// with a script that measures it (page.js does not load there).
func TestPageSummaryOnScreen(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("cannot find %s (run scripts/install-chromium.sh, or make deps): %s", chromium, err)
	}
	var routes []routeSpec
	for i := range 40 {
		routes = append(routes, routeSpec{host: fmt.Sprintf("r%02d.acme.com", i), path: "/", contract: acme, slo: 0.9995, sla: 0.999, window: month,
			good: 999_000, total: 1_000_000, remSLO: -1, secsSLO: -1296, remSLA: 0.2, secsSLA: 518, exhSLA: 600, burn1h: 20, release: slo.ReleaseFreeze})
	}
	var windows []maintenance.Spec
	for i := range 30 {
		from := pageNow.Add(time.Duration(i-10) * 2 * time.Hour) // 10 ended, 1 active, 19 upcoming
		windows = append(windows, maintenance.Spec{Start: from.Format(time.RFC3339), End: from.Add(90 * time.Minute).Format(time.RFC3339),
			Match: map[string]string{"host": fmt.Sprintf(`r%02d\.acme\.com`, i)}, Reason: "rolling kernel upgrade of the fleet", Author: "ops"})
	}
	p := newTestPage(t, routes, windows...)
	services := pageServices()
	p.engine.services = append(services, services...)

	css, err := assetFiles.ReadFile("assets/page.css")
	if err != nil {
		t.Fatal(err)
	}
	page := getPage(t, p, "/slogate/")
	link := regexp.MustCompile(`<link rel="stylesheet" href="[^"]+">`)
	if !link.MatchString(page) {
		t.Fatalf("the page links no style sheet")
	}
	page = link.ReplaceAllLiteralString(page, "<style>"+string(css)+"</style>")
	page = strings.Replace(page, "</body>", layoutScript+"</body>", 1)
	file := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := testenv.DumpDOM(t, chromium, "file://"+file, "--window-size=1400,1000")
	m := regexp.MustCompile(`<pre id="layout">([^<]*)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the layout script did not run:\n%s", dom)
	}
	var got struct {
		Height, Width                         float64
		Risk, Window, Service, Route, Declare []float64
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
		t.Fatalf("cannot decode %s: %s", m[1], err)
	}
	t.Logf("layout: %s", html.UnescapeString(m[1]))
	if got.Width != 1400 || got.Height < 800 || got.Height > 1000 {
		t.Fatalf("page area %vx%v, want the page of a 1400x1000 window", got.Width, got.Height)
	}
	for _, c := range []struct {
		name string
		box  []float64
	}{{"the first at-risk item", got.Risk}, {"the first maintenance window", got.Window}, {"the first service", got.Service}} {
		if len(c.box) != 2 || c.box[0] < 0 || c.box[1] > got.Height {
			t.Errorf("%s is at %v, not within the %v px on screen", c.name, c.box, got.Height)
		}
	}
	if len(got.Route) != 2 || len(got.Service) != 2 || len(got.Declare) != 2 || got.Route[0] < got.Service[1] || got.Declare[0] < got.Route[1] {
		t.Errorf("services at %v, routes at %v, the form at %v: want them in this order", got.Service, got.Route, got.Declare)
	}
	if !strings.Contains(dom, `<span class="badge active">active</span>`) {
		t.Errorf("no active window on the busy page")
	}
}
