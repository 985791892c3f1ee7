package ui

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/store"
	"github.com/slogate/slogate/vmclient"
)

// The report against a real VictoriaMetrics, checked against a brute-force
// reference that shares no code with it: three routes of one customer,
// written minute by minute from late October 2025 (so with the October DST
// change in Europe/Berlin) into January 2026 (not later: VictoriaMetrics
// refuses samples from the future), one counter reset, a
// maintenance window on one route, one on all three and one that cuts
// slices in half. Two services sum the routes (time slices over a Berlin
// year; requests over a Kolkata month), the routes' own objective is in
// time slices on the Kathmandu grid (UTC+5:45); all carry credit tiers.

const vmReportConfig = `
contracts:
  - labels: {customer: acme, contract: gold}
    match: {host: ".*\\.acme\\.com"}
objectives:
  - match: {customer: acme}
    slo: 0.999
    sla: 0.995
    window: quarter
    timezone: Asia/Kathmandu
    budgeting: timeslices
    slice: 10m
    sliceTarget: 0.98
    credits: [{below: 0.9999, percent: 5}, {below: 0.999, percent: 10}]
services:
  - name: platform
    match: {customer: acme}
    by: [customer]
    slo: 0.9995
    sla: 0.999
    window: year
    timezone: Europe/Berlin
    budgeting: timeslices
    slice: 5m
    sliceTarget: 0.99
    credits: [{below: 0.9995, percent: 10}, {below: 0.999, percent: 25}]
  - name: requests
    match: {customer: acme}
    slo: 0.9995
    sla: 0.999
    window: month
    timezone: Asia/Kolkata
    credits: [{below: 0.9999, percent: 3}, {below: 0.999, percent: 30}]
`

// vmRoute is a generated route: its labels and its events per minute.
type vmRoute struct {
	host   string
	labels map[string]string
	good   func(m int64) float64
	bad    func(m int64) float64
	reset  int64 // the counter restarts at this minute (0: never)
}

var (
	vmFirst = minuteOf(time.Date(2025, 10, 24, 0, 0, 0, 0, time.UTC))
	vmLast  = minuteOf(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) // exclusive
	vmNow   = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
)

// mix is a deterministic hash of a minute and a salt.
func mix(m, salt int64) int64 {
	x := uint64(m)*0x9E3779B97F4A7C15 ^ uint64(salt)*0xC2B2AE3D27D4EB4F
	x ^= x >> 29
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 32
	return int64(x % 1_000_003)
}

func vmRoutes() []*vmRoute {
	mk := func(host string) map[string]string {
		return map[string]string{"slo": "availability", "source": "ingress-nginx", "namespace": "ns", "ingress": "web", "host": host, "path": "/",
			"route": "ns/web/" + host + "/", "customer": "acme", "contract": "gold"}
	}
	outage := [2]int64{minuteOf(time.Date(2025, 11, 10, 10, 0, 0, 0, time.UTC)), minuteOf(time.Date(2025, 11, 10, 10, 40, 0, 0, time.UTC))}
	reset := minuteOf(time.Date(2025, 12, 15, 12, 0, 0, 0, time.UTC))
	return []*vmRoute{
		{host: "shop.acme.com", labels: mk("shop.acme.com"),
			good: func(m int64) float64 { return float64(100 + mix(m, 1)%20) },
			bad: func(m int64) float64 {
				if m >= outage[0] && m < outage[1] {
					return 80
				}
				if mix(m, 2)%211 == 0 {
					return 5
				}
				return 0
			}},
		{host: "api.acme.com", labels: mk("api.acme.com"), reset: reset,
			good: func(m int64) float64 {
				if m == reset-1 {
					return 0
				}
				return float64(40 + mix(m, 3)%5)
			},
			bad: func(m int64) float64 {
				if m == reset-1 {
					return 0
				}
				if mix(m, 4)%307 == 0 {
					return 3
				}
				return 0
			}},
		// Quiet: no events at night (UTC), so empty slices occur.
		{host: "status.acme.com", labels: mk("status.acme.com"),
			good: func(m int64) float64 {
				if h := m / 60 % 24; h < 6 {
					return 0
				}
				return float64(mix(m, 5) % 3)
			},
			bad: func(m int64) float64 {
				if h := m / 60 % 24; h < 6 {
					return 0
				}
				if mix(m, 6)%401 == 0 {
					return 1
				}
				return 0
			}},
	}
}

// vmWindows are the maintenance windows: on shop only, on all three
// routes, and on api from :02 to :33 (slices partly covered).
var vmWindows = []maintenance.Spec{
	{Start: "2025-11-10T10:20:00Z", End: "2025-11-10T12:00:00Z", Match: map[string]string{"host": `shop\.acme\.com`}, Reason: "db upgrade"},
	{Start: "2025-11-20T02:00:00Z", End: "2025-11-20T03:30:00Z", Match: map[string]string{"customer": "acme"}, Reason: "network"},
	{Start: "2025-12-03T08:02:00Z", End: "2025-12-03T08:33:00Z", Match: map[string]string{"host": `api\.acme\.com`}, Reason: "api rollout"},
}

// importLines renders the routes' counters as /api/v1/import JSON lines:
// one sample per minute at :30 counting the minutes before its own.
func importLines(routes []*vmRoute) []byte {
	var buf bytes.Buffer
	type line struct {
		Metric     map[string]string `json:"metric"`
		Values     []float64         `json:"values"`
		Timestamps []int64           `json:"timestamps"`
	}
	for _, r := range routes {
		for _, result := range []string{"good", "bad"} {
			ev := r.good
			if result == "bad" {
				ev = r.bad
			}
			l := line{Metric: map[string]string{"__name__": "slo_requests_total", "result": result}}
			for k, v := range r.labels {
				l.Metric[k] = v
			}
			c := 0.0
			for m := vmFirst; m < vmLast; m++ {
				if m == r.reset {
					c = 0
				}
				l.Values, l.Timestamps = append(l.Values, c), append(l.Timestamps, m*60_000+30_000)
				c += ev(m)
			}
			b, _ := json.Marshal(l)
			buf.Write(b)
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

func postImport(t *testing.T, url string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("import to %s: %s", url, resp.Status)
	}
}

// vmStore holds vmWindows as windows of the configuration.
func vmStore(t *testing.T) *store.Maintenance {
	t.Helper()
	var ws []*maintenance.Window
	for i, spec := range vmWindows {
		m, err := maintenance.New(spec, vmNow.Add(-400*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		m.ID, m.Source = fmt.Sprintf("config-%d", i), maintenance.FromConfig
		ws = append(ws, m)
	}
	s, err := store.OpenMaintenance(store.MaintenanceConfig{Dir: t.TempDir(), RetroactiveLimit: 72 * time.Hour, Now: func() time.Time { return vmNow }, Config: ws})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// refExcluded reports whether route r has minute m in maintenance: the
// minute's start lies in a window that applies to it.
func refExcluded(r *vmRoute, m int64) bool {
	for _, w := range vmWindows {
		if h, ok := w.Match["host"]; ok && strings.ReplaceAll(h, `\.`, ".") != r.host {
			continue
		}
		s, _ := time.Parse(time.RFC3339, w.Start)
		e, _ := time.Parse(time.RFC3339, w.End)
		if ms := m * 60_000; ms >= s.UnixMilli() && ms < e.UnixMilli() {
			return true
		}
	}
	return false
}

// refFigures is the reference's answer for one route or service.
type refFigures struct {
	requests, bad, excluded uint64
	availability            *float64
	good, badSlices, left   uint64
	total                   uint64
	goodRatio               *float64
	judged, allowed, used   float64
	met                     bool
	credit                  *float64
}

type refCredit struct{ below, percent float64 }

// reference computes the figures of the routes summed (one route, or a
// service's three) over the period [start, end) of loc, with slices of
// sliceMin minutes on the grid of phase (0: occurrences).
func reference(routes []*vmRoute, start, end time.Time, target float64, sliceMin, phase int64, sliceTarget float64, credits []refCredit) refFigures {
	var f refFigures
	lo, hi := minuteOf(start), minuteOf(end)
	ev := func(r *vmRoute, m int64) (float64, float64) {
		if m < vmFirst || m >= vmLast-1 { // the last minute has no sample after it
			return 0, 0
		}
		return r.good(m), r.bad(m)
	}
	maintained := int64(0) // minutes in maintenance on every route
	for m := lo; m < hi; m++ {
		all := true
		for _, r := range routes {
			g, b := ev(r, m)
			f.requests += uint64(g + b)
			if refExcluded(r, m) {
				f.excluded += uint64(g + b)
			} else {
				all = false
				f.bad += uint64(b)
			}
		}
		if all {
			maintained++
		}
	}
	if c := f.requests - f.excluded; c > 0 {
		a := 1 - float64(f.bad)/float64(c)
		f.availability = &a
	}
	ratio := f.availability
	if sliceMin == 0 {
		f.judged = end.Sub(start).Seconds() - 60*float64(maintained)
		f.allowed = (1 - target) * f.judged
		if f.availability != nil {
			f.used = (1 - *f.availability) * f.judged
		}
	} else {
		if (lo+phase)%sliceMin != 0 || (hi+phase)%sliceMin != 0 {
			panic("period not on the slice grid")
		}
		for s := lo; s < hi; s += sliceMin {
			f.total++
			var good, total float64
			all := true
			for m := s; m < s+sliceMin; m++ {
				for _, r := range routes {
					if refExcluded(r, m) {
						continue
					}
					all = false
					g, b := ev(r, m)
					good += g
					total += g + b
				}
			}
			switch {
			case all:
				f.left++
			case total == 0 || good/total >= sliceTarget:
				f.good++
			default:
				f.badSlices++
			}
		}
		if j := f.good + f.badSlices; j > 0 {
			g := float64(f.good) / float64(j)
			f.goodRatio = &g
		}
		f.judged = float64(f.total-f.left) * float64(sliceMin*60)
		f.allowed = (1 - target) * f.judged
		f.used = float64(f.badSlices * uint64(sliceMin) * 60)
		ratio = f.goodRatio
	}
	f.met = f.used <= f.allowed*(1+1e-9)
	if ratio != nil && len(credits) > 0 {
		p := 0.0
		for _, c := range credits {
			if *ratio < c.below && c.percent > p {
				p = c.percent
			}
		}
		f.credit = &p
	}
	return f
}

func checkFigures(t *testing.T, what string, got ReportFigures, want refFigures) {
	t.Helper()
	eqPtr := func(a, b *float64) bool {
		return a == nil && b == nil || a != nil && b != nil && math.Abs(*a-*b) <= 1e-9
	}
	if got.Requests != want.requests || got.Bad != want.bad || got.Excluded != want.excluded || !eqPtr(got.Availability, want.availability) {
		t.Errorf("%s: requests %d bad %d excluded %d availability %s, want %d %d %d %s", what, got.Requests, got.Bad, got.Excluded, fmtPtr(got.Availability),
			want.requests, want.bad, want.excluded, fmtPtr(want.availability))
	}
	if want.total > 0 {
		if got.Slices == nil || *got.Slices != (ReportSlices{Good: want.good, Bad: want.badSlices, Excluded: want.left, Total: want.total}) || !eqPtr(got.GoodSliceRatio, want.goodRatio) {
			t.Errorf("%s: slices %+v ratio %s, want good %d bad %d left out %d of %d, ratio %s", what, got.Slices, fmtPtr(got.GoodSliceRatio),
				want.good, want.badSlices, want.left, want.total, fmtPtr(want.goodRatio))
		}
	} else if got.Slices != nil {
		t.Errorf("%s: slices %+v for an occurrences objective", what, got.Slices)
	}
	if !approxSeconds(got.JudgedSeconds, want.judged) || !approxSeconds(got.AllowedSeconds, want.allowed) || !approxSeconds(got.UsedSeconds, want.used) || got.Met != want.met {
		t.Errorf("%s: judged %v allowed %v used %v met %v, want %v %v %v %v", what, got.JudgedSeconds, got.AllowedSeconds, got.UsedSeconds, got.Met,
			want.judged, want.allowed, want.used, want.met)
	}
	if !eqPtr(got.CreditPercent, want.credit) {
		t.Errorf("%s: credit %s, want %s", what, fmtPtr(got.CreditPercent), fmtPtr(want.credit))
	}
}

// newVMReport starts a report over a client of VictoriaMetrics and the
// configuration of vmReportConfig.
func newVMReport(t *testing.T, client *vmclient.Client) *Report {
	t.Helper()
	cfg, err := config.ParseConfig("slogate.yml", []byte(vmReportConfig))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewReport(ReportConfig{Client: client, Config: func() *config.Config { return cfg }, Maintenance: vmStore(t), Now: func() time.Time { return vmNow }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestReportAgainstVictoriaMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts VictoriaMetrics")
	}
	vm := testenv.StartVM(t)
	routes := vmRoutes()
	postImport(t, vm.URL()+"/api/v1/import", importLines(routes))
	vm.ForceFlush(t)
	client, err := vmclient.New(vmclient.Config{URL: vm.URL()})
	if err != nil {
		t.Fatal(err)
	}
	rep := newVMReport(t, client)
	checkReport(t, rep, routes, "")

	// customer=acme keeps only the service keyed by customer: the other
	// one could sum routes of other customers.
	got, err := rep.Build(ReportRequest{Period: "2025-11", Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Services) != 1 || got.Services[0].Service != "platform" || len(got.Contracts) != 1 {
		t.Errorf("customer=acme: %d services, %d contracts", len(got.Services), len(got.Contracts))
	}

	// CSV: a row per service SLI, then per route.
	resp := do(rep.Handle, "GET", "/slogate/api/v1/report?period=2025-Q4&format=csv")
	rows, err := csv.NewReader(bytes.NewReader(resp.Body())).ReadAll()
	if err != nil || resp.StatusCode() != 200 || len(rows) != 1+2+3 {
		t.Fatalf("csv: %d %v, %d rows:\n%s", resp.StatusCode(), err, len(rows), resp.Body())
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, want := range []map[string]string{
		{"service": "platform", "service_labels": "customer=acme", "route": "", "budgeting": "timeslices", "slice_seconds": "300.000", "slices_total": "26508", "credits": "0.9995:10;0.999:25", "timezone": "Europe/Berlin"},
		{"service": "requests", "service_labels": "", "budgeting": "occurrences", "slices_total": "", "timezone": "Asia/Kolkata"},
		{"service": "", "route": "ns/web/api.acme.com/", "contract": "contract=gold;customer=acme", "budgeting": "timeslices", "slice_seconds": "600.000", "timezone": "Asia/Kathmandu"},
	} {
		for k, v := range want {
			if got := rows[1+i][col[k]]; got != v {
				t.Errorf("csv row %d, %s: %q, want %q", i+1, k, got, v)
			}
		}
		if rows[1+i][col["credit_percent"]] == "" || rows[1+i][col["judged_seconds"]] == "" {
			t.Errorf("csv row %d lacks credit or judged time: %v", i+1, rows[1+i])
		}
	}

	resp = do(rep.Handle, "GET", "/slogate/api/v1/report?period=2025-Q4&format=html")
	for _, want := range []string{"SLA report · Q4 2025", "Service platform", "customer=acme", "(3 routes)", "left out of 26508", "Asia/Kathmandu", "api rollout", "credits below 99.95%: 10%"} {
		if !strings.Contains(string(resp.Body()), want) {
			t.Errorf("html report lacks %q", want)
		}
	}
}

// checkReport compares the month, quarter and year reports of tenant with
// the reference.
func checkReport(t *testing.T, rep *Report, routes []*vmRoute, tenant string) {
	t.Helper()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	kathmandu, _ := time.LoadLocation("Asia/Kathmandu")
	routeCredits := []refCredit{{0.9999, 5}, {0.999, 10}}
	platformCredits := []refCredit{{0.9995, 10}, {0.999, 25}}
	requestCredits := []refCredit{{0.9999, 3}, {0.999, 30}}
	credited := false
	for _, p := range []struct {
		period string
		bounds func(loc *time.Location) (time.Time, time.Time)
	}{
		{"2025-11", func(l *time.Location) (time.Time, time.Time) {
			return time.Date(2025, 11, 1, 0, 0, 0, 0, l), time.Date(2025, 12, 1, 0, 0, 0, 0, l)
		}},
		{"2025-Q4", func(l *time.Location) (time.Time, time.Time) {
			return time.Date(2025, 10, 1, 0, 0, 0, 0, l), time.Date(2026, 1, 1, 0, 0, 0, 0, l)
		}},
		{"2025", func(l *time.Location) (time.Time, time.Time) {
			return time.Date(2025, 1, 1, 0, 0, 0, 0, l), time.Date(2026, 1, 1, 0, 0, 0, 0, l)
		}},
	} {
		got, err := rep.Build(ReportRequest{Period: p.period, Tenant: tenant})
		if err != nil {
			t.Fatalf("%s: %v", p.period, err)
		}
		if len(got.Services) != 2 || got.Services[0].Service != "platform" || got.Services[1].Service != "requests" {
			t.Fatalf("%s: services %+v", p.period, got.Services)
		}
		plat, req := got.Services[0], got.Services[1]
		if plat.Labels["customer"] != "acme" || len(plat.Routes) != 3 || len(req.Labels) != 0 || len(req.Routes) != 3 {
			t.Errorf("%s: service labels %v %v, routes %d %d", p.period, plat.Labels, req.Labels, len(plat.Routes), len(req.Routes))
		}
		s, e := p.bounds(berlin)
		want := reference(routes, s, e, 0.999, 5, 0, 0.99, platformCredits)
		checkFigures(t, p.period+" platform", plat.ReportFigures, want)
		if plat.Timezone != "Europe/Berlin" || plat.Budgeting != "timeslices" || plat.SliceSeconds != 300 || len(plat.Maintenance) != map[string]int{"2025-11": 2}[p.period]+map[bool]int{true: 3}[p.period != "2025-11"] {
			t.Errorf("%s platform: %s %s %v, %d windows", p.period, plat.Timezone, plat.Budgeting, plat.SliceSeconds, len(plat.Maintenance))
		}
		credited = credited || want.credit != nil && *want.credit > 0
		s, e = p.bounds(kolkata)
		want = reference(routes, s, e, 0.999, 0, 0, 0, requestCredits)
		checkFigures(t, p.period+" requests", req.ReportFigures, want)
		credited = credited || want.credit != nil && *want.credit > 0
		for _, r := range routes {
			row := findRoute(t, got, r.labels["route"])
			s, e = p.bounds(kathmandu)
			want := reference([]*vmRoute{r}, s, e, 0.995, 10, 45, 0.98, routeCredits)
			checkFigures(t, p.period+" "+r.host, row.ReportFigures, want)
			credited = credited || want.credit != nil && *want.credit > 0
			if row.Timezone != "Asia/Kathmandu" || row.Objective != "availability" || row.TargetKind != "sla" || row.Target != 0.995 {
				t.Errorf("%s %s: %s %s %s %v", p.period, r.host, row.Timezone, row.Objective, row.TargetKind, row.Target)
			}
		}
	}
	if !credited {
		t.Errorf("the scenario owes no credit anywhere; it should test one")
	}
}
