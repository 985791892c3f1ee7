package ui

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"
)

var year = slo.Window{Kind: slo.Calendar, Period: slo.PeriodYear, Location: time.UTC}

// pageServices: platform (acme, gold) counts 5m slices over the year 2026
// (105,120 slices): 50 bad and 2 left out; its SLA (99.9%) allows 105.12
// slices (8h 45m 36s), 15,000 s are used, and at the current rate the rest
// is gone in 14 minutes; it is heading for a 10% credit. api sums one
// route, occurrences over 30 days, fully in maintenance.
func pageServices() []budget.ServiceStatus {
	platform := budget.ServiceStatus{
		Service: "platform",
		Labels:  []budget.Label{{Name: "customer", Value: "acme"}, {Name: "contract", Value: "gold"}},
		Objective: budget.Objective{
			Name: "platform", SLO: 0.9995, SLA: 0.999, Window: year,
			Slices:  slo.Slices{Length: 5 * time.Minute, Target: 0.99},
			Credits: []slo.Credit{{Below: 0.999, Percent: 10}, {Below: 0.99, Percent: 25}},
		},
		Routes: 3, Good: 2_000_000, Bad: 1234,
		SLO: slo.BudgetStatus{Kind: "slo", Objective: 0.9995, RemainingRatio: 1 - 50/52.56, RemainingSeconds: 768},
		SLA: slo.BudgetStatus{Kind: "sla", Objective: 0.999, RemainingRatio: 1 - 50/105.12, RemainingSeconds: 16536,
			ExhaustionSeconds: 840, HasExhaustion: true},
		HasSLA:        true,
		Release:       slo.ReleaseCaution,
		Slices:        slo.SliceCounts{Good: 90_000, Bad: 60, Excluded: 7},
		WindowSlices:  slo.SliceCounts{Good: 1000, Bad: 50, Excluded: 2},
		CreditPercent: 10, HasCredit: true,
	}
	for i, w := range slo.ShortWindows {
		platform.Windows[i] = slo.SliceWindow(w.Name, slo.SliceCounts{Good: 3, Bad: 1}, 0.9995)
	}
	platform.Windows[slo.WindowCompliance] = slo.SliceWindow("year", platform.WindowSlices, 0.9995)

	api := budget.ServiceStatus{
		Service:   "api",
		Objective: budget.Objective{Name: "availability", SLO: 0.999, Window: days30},
		Routes:    1, Good: 5000, Bad: 1,
		SLO:               slo.BudgetStatus{Kind: "slo", Objective: 0.999, RemainingRatio: 1, RemainingSeconds: 2592},
		MaintenanceActive: true,
		Release:           slo.ReleaseShip,
	}
	for i, w := range slo.ShortWindows {
		api.Windows[i] = slo.WindowStatus{Name: w.Name}
	}
	api.Windows[slo.WindowCompliance] = slo.NewWindow("30d", 4999, 5000, 0.999)
	return []budget.ServiceStatus{platform, api}
}

func newServicesPage(t *testing.T, routes []routeSpec, services []budget.ServiceStatus) *testPage {
	t.Helper()
	p := newTestPage(t, routes)
	p.engine.services = services
	return p
}

func TestAPIServices(t *testing.T) {
	routes := append([]routeSpec(nil), pageRoutes...)
	p := newServicesPage(t, routes, pageServices())
	// A route with time slices and credits.
	st := &p.engine.statuses[0]
	st.Objective.Slices = slo.Slices{Length: time.Hour, Target: 0.95, SkipEmpty: true}
	st.Objective.Credits = []slo.Credit{{Below: 0.999, Percent: 5}}
	st.Slices, st.WindowSlices = slo.SliceCounts{Good: 9, Bad: 1, Excluded: 2}, slo.SliceCounts{Good: 4, Bad: 1}
	st.CreditPercent, st.HasCredit = 5, true

	resp := do(p.Handle, "GET", "/slogate/api/v1/slos")
	if resp.StatusCode() != 200 {
		t.Fatalf("GET /slogate/api/v1/slos: %d %s", resp.StatusCode(), resp.Body())
	}
	var got struct {
		SLOs     []map[string]any `json:"slos"`
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal(resp.Body(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.SLOs) != 4 || len(got.Services) != 2 {
		t.Fatalf("%d slos and %d services, want 4 and 2", len(got.SLOs), len(got.Services))
	}
	f := func(v map[string]any, path string, want any) {
		t.Helper()
		var cur any = v
		for _, k := range strings.Split(path, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[k]
		}
		g, _ := json.Marshal(cur)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s = %s, want %s", path, g, w)
		}
	}
	platform, api := got.Services[0], got.Services[1]
	f(platform, "tenant", "0:0")
	f(platform, "service", "platform")
	f(platform, "by", []string{"customer", "contract"})
	f(platform, "labels", map[string]string{"customer": "acme", "contract": "gold"})
	f(platform, "routes", 3)
	f(platform, "evaluatedAt", "2026-11-20T12:00:00Z")
	f(platform, "requests", map[string]uint64{"good": 2_000_000, "bad": 1234})
	f(platform, "availability", 1000.0/1050)
	f(platform, "objective.name", "platform")
	f(platform, "objective.window", "year")
	f(platform, "objective.windowSeconds", 365*86400)
	f(platform, "objective.periodEnd", "2027-01-01T00:00:00Z")
	f(platform, "objective.budgeting", "timeslices")
	f(platform, "objective.sliceSeconds", 300)
	f(platform, "objective.sliceTarget", 0.99)
	f(platform, "objective.emptySlices", "good")
	f(platform, "objective.credits", []map[string]float64{{"below": 0.999, "percent": 10}, {"below": 0.99, "percent": 25}})
	f(platform, "slices", map[string]uint64{"good": 90_000, "bad": 60, "excluded": 7})
	f(platform, "windowSlices", map[string]uint64{"good": 1000, "bad": 50, "excluded": 2})
	f(platform, "creditPercent", 10)
	f(platform, "budgets.sla.remainingSeconds", 16536)
	f(platform, "budgets.sla.exhaustionSeconds", 840)
	f(platform, "budgets.sla.usedDowntimeSeconds", 15000)
	f(platform, "budgets.sla.allowedDowntimeSeconds", 31536)
	f(platform, "budgets.slo.allowedDowntimeSeconds", 15768)
	f(platform, "releaseState", "caution")
	f(platform, "maintenanceActive", false)

	f(api, "by", []string{})
	f(api, "labels", map[string]string{})
	f(api, "maintenanceActive", true)
	f(api, "objective.budgeting", "occurrences")
	f(api, "objective.sla", nil)
	for _, k := range []string{"slices", "windowSlices", "creditPercent", "objective.sliceSeconds", "objective.credits", "budgets.slo.allowedDowntimeSeconds", "budgets.sla"} {
		f(api, k, nil)
	}
	if len(api["windows"].([]any)) != slo.NumWindows {
		t.Errorf("api has %d windows", len(api["windows"].([]any)))
	}

	// Routes keep their fields and gain the time-slice ones.
	route := got.SLOs[0]
	f(route, "route", "ns/web/api.acme.com/v1")
	f(route, "requests.excludedGood", 0)
	f(route, "objective.budgeting", "timeslices")
	f(route, "objective.sliceSeconds", 3600)
	f(route, "objective.emptySlices", "skip")
	f(route, "objective.credits", []map[string]float64{{"below": 0.999, "percent": 5}})
	f(route, "slices", map[string]uint64{"good": 9, "bad": 1, "excluded": 2})
	f(route, "windowSlices", map[string]uint64{"good": 4, "bad": 1, "excluded": 0})
	f(route, "creditPercent", 5)
	f(route, "budgets.sla.usedDowntimeSeconds", 3600)
	f(route, "budgets.sla.allowedDowntimeSeconds", 1296+3600)
	for _, k := range []string{"slices", "creditPercent", "objective.sliceSeconds", "budgets.slo.allowedDowntimeSeconds"} {
		f(got.SLOs[1], k, nil)
	}
	f(got.SLOs[1], "objective.budgeting", "occurrences")

	// Without services, an empty list, not null.
	p.engine.services = nil
	if body := string(do(p.Handle, "GET", "/slogate/api/v1/slos").Body()); !strings.Contains(body, `"services": []`) {
		t.Errorf("no empty services list in %s", body)
	}
}

func TestPageServices(t *testing.T) {
	p := newServicesPage(t, pageRoutes, pageServices())
	body := getPage(t, p, "/slogate/")
	platformID := rowID("service|0:0|platform|customer=acme contract=gold")
	apiID := rowID("service|0:0|api|")
	for _, want := range []string{
		`<h2 id="services-h">Services</h2>`,
		`<table id="services">`,
		`<output id="count" for="q">2 of 2 services, 4 of 4 routes</output>`,
		`<tr id="` + platformID + `" class="service risk" data-search="0:0 service=platform platform customer=acme contract=gold">`,
		`<th scope="row"><span class="name">platform</span> <span class="meta">3 routes · platform · year · 5m slices</span> <span class="labels">customer=acme contract=gold</span> <strong class="warn">SLA budget gone in 14m at the current error rate</strong> <strong class="warn">service credit of 10% due at the current availability</strong></th>`,
		`<td class="num">SLO 99.95%<br>SLA 99.9%</td>`,
		`<td class="num avail">95.23%<br><span class="meta">1000 good, 50 bad slices, 2 left out</span></td>`,
		`<span class="kind">SLA</span> <meter min="0" max="1" low="0.25" high="0.5" optimum="1" value="0.5243531202435312" aria-label="SLA budget left"></meter> <span class="left">4h 36m of 8h 46m downtime left (52%)</span>`,
		`<span class="left">13m of 4h 23m downtime left (4%)</span>`,
		`<td class="num burn hot">500</td>`,
		`<span class="badge caution">caution</span>`,
		`<li><a href="#` + platformID + `">service platform customer=acme contract=gold: SLA budget gone in 14m at the current error rate</a></li>`,
		`<li><a href="#` + platformID + `">service platform customer=acme contract=gold: service credit of 10% due at the current availability</a></li>`,
		`<tr id="` + apiID + `" class="service" data-search="0:0 service=api availability ">`,
		`<span class="name">api</span> <span class="badge inmaint">in maintenance</span> <span class="meta">1 route · availability · 30d</span> <span class="labels"></span></th>`,
		`<td class="num avail">99.98%</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// The services come before the routes, and their risks before the
	// routes' risks.
	if s, r := strings.Index(body, `<table id="services"`), strings.Index(body, `<table id="routes"`); s < 0 || s > r {
		t.Errorf("services table at %d, routes table at %d", s, r)
	}
	if s, r := strings.Index(body, "service platform customer=acme"), strings.Index(body, "ns/web/api.acme.com/v1: SLA"); s < 0 || s > r {
		t.Errorf("the service's risk at %d, the route's at %d", s, r)
	}

	f := func(uri string, shown []string, count string) {
		t.Helper()
		body := getPage(t, p, uri)
		rows := regexp.MustCompile(`<tr id="r-[0-9a-f]+" class="service[^"]*" data-search="[^"]*"( hidden)?>\s*<th scope="row"><span class="name">([^<]+)</span>`).FindAllStringSubmatch(body, -1)
		var got []string
		for _, r := range rows {
			if r[1] == "" {
				got = append(got, r[2])
			}
		}
		if strings.Join(got, " ") != strings.Join(shown, " ") {
			t.Errorf("%s: services shown %v, want %v", uri, got, shown)
		}
		if !strings.Contains(body, `<output id="count" for="q">`+count+`</output>`) {
			t.Errorf("%s: count is not %q", uri, count)
		}
	}
	f("/slogate/", []string{"platform", "api"}, "2 of 2 services, 4 of 4 routes")
	f("/slogate/?sort=name", []string{"api", "platform"}, "2 of 2 services, 4 of 4 routes")
	f("/slogate/?sort=burn", []string{"platform", "api"}, "2 of 2 services, 4 of 4 routes")
	f("/slogate/?q=acme", []string{"platform"}, "1 of 2 services, 2 of 4 routes")
	f("/slogate/?q=service%3Dapi", []string{"api"}, "1 of 2 services, 0 of 4 routes")
	f("/slogate/?q=globex", nil, "0 of 2 services, 1 of 4 routes")
}

// TestPageNoServices: without services the page is as before: no
// services table, heading and count of routes only.
func TestPageNoServices(t *testing.T) {
	body := getPage(t, newTestPage(t, pageRoutes), "/slogate/")
	for _, want := range []string{
		`<section id="services-sec" aria-labelledby="services-h" hidden>`,
		`<output id="count" for="q">4 of 4 routes</output>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, `class="service`) {
		t.Errorf("a service row without services")
	}
}

func TestPageSliceFormatting(t *testing.T) {
	for _, c := range []struct {
		b    BudgetJ
		want string
	}{
		{BudgetJ{RemainingRatio: 0.5, RemainingSeconds: 600}, "10m left (50%)"},
		{BudgetJ{RemainingRatio: -1, RemainingSeconds: -600}, "overspent by 10m"},
		{BudgetJ{RemainingRatio: 0.5, RemainingSeconds: 600, AllowedDowntimeSeconds: ptr(1200.0)}, "10m of 20m downtime left (50%)"},
		{BudgetJ{RemainingRatio: math.Inf(-1), RemainingSeconds: -300, AllowedDowntimeSeconds: ptr(0.0)}, "downtime overspent by 5m"},
	} {
		if got := budgetText(c.b); got != c.want {
			t.Errorf("budgetText(%+v) = %q, want %q", c.b, got, c.want)
		}
	}
	for s, want := range map[float64]string{60: "1m", 300: "5m", 1800: "30m", 3600: "1h"} {
		if got := fmtSliceLength(s); got != want {
			t.Errorf("fmtSliceLength(%v) = %q, want %q", s, got, want)
		}
	}
	if got := slicesText(&SliceCountsJSON{Good: 5, Bad: 1}); got != "5 good, 1 bad slices" {
		t.Errorf("slicesText = %q", got)
	}
}

func ptr[T any](v T) *T { return &v }
