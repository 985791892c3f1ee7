package ui

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the tests' calendar windows are in Europe/Berlin wherever they run

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/store"
	"github.com/slogate/slogate/vmclient"
)

// fakeVM stands in for VictoriaMetrics: it holds samples of
// slo_requests_total and evaluates the instant queries the report makes
// with VictoriaMetrics' semantics: a window [d] at t holds the samples in
// (t-d, t]; increase_prometheus removes counter resets (a drop to under
// 7/8 of the previous value is a reset, a smaller one a partial reset) and
// needs two samples.
type fakeVM struct {
	series  []*fakeSeries
	queries atomic.Int64
	down    bool
}

type fakeSeries struct {
	labels map[string]string
	ts     []int64
	vs     []float64
}

var fakeQuery = regexp.MustCompile(`^(increase_prometheus|first_over_time|last_over_time)\(slo_requests_total\{route!=""(?:,customer="([^"]*)")?\}\[(\d+)(ms|h|d)\]\)$`)

func (vm *fakeVM) handle(ctx *fasthttp.RequestCtx) {
	if vm.down || string(ctx.Path()) != "/api/v1/query" {
		ctx.Error("unavailable", fasthttp.StatusServiceUnavailable)
		return
	}
	vm.queries.Add(1)
	q := string(ctx.FormValue("query"))
	m := fakeQuery.FindStringSubmatch(q)
	if m == nil {
		ctx.Error("unsupported query "+q, fasthttp.StatusBadRequest)
		return
	}
	sec, _ := strconv.ParseFloat(string(ctx.FormValue("time")), 64)
	t := int64(math.Round(sec * 1e3))
	n, _ := strconv.ParseInt(m[3], 10, 64)
	d := n * map[string]int64{"ms": 1, "h": 3600_000, "d": 86400_000}[m[4]]
	type item struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	result := []item{}
	for _, s := range vm.series {
		if m[2] != "" && s.labels["customer"] != m[2] {
			continue
		}
		var vs []float64
		for i, ts := range s.ts {
			if ts > t-d && ts <= t {
				vs = append(vs, s.vs[i])
			}
		}
		var v float64
		switch {
		case len(vs) == 0, m[1] == "increase_prometheus" && len(vs) < 2:
			continue
		case m[1] == "first_over_time":
			v = vs[0]
		case m[1] == "last_over_time":
			v = vs[len(vs)-1]
		default:
			corr, prev, first := 0.0, vs[0], vs[0]
			for _, x := range vs {
				if x < prev {
					if (prev-x)*8 < prev {
						corr += prev - x
					} else {
						corr += prev
					}
				}
				prev = x
				v = x + corr
			}
			v -= first
		}
		result = append(result, item{Metric: s.labels, Value: [2]any{sec, strconv.FormatFloat(v, 'f', -1, 64)}})
	}
	writeJSON(ctx, 200, map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
}

// reportNow is the clock of the report tests: two days into December.
var reportNow = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

const reportConfig = `
contracts:
  - labels: {customer: acme, contract: gold}
    match: {host: "shop\\.acme\\.com|api\\.acme\\.com"}
  - labels: {customer: globex}
    match: {host: "blog\\.globex\\.com"}
objectives:
  - match: {customer: acme}
    slo: 0.9995
    sla: 0.999
    window: month
    timezone: Europe/Berlin
`

// trafficRoute is a route of the generated month and the truth about it.
type trafficRoute struct {
	host     string
	customer string
	labels   map[string]string // of the synthetic series, without result
	// events of minute m (Unix minutes); the counter restarts at each
	// of starts and counts the minutes from there; samples are missing
	// in the gaps.
	good, bad func(m int64) float64
	starts    []int64
	gaps      [][2]int64
}

func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

func reportTraffic() []*trafficRoute {
	mk := func(host, customer, contract string) map[string]string {
		l := map[string]string{"slo": "availability", "source": "ingress-nginx", "namespace": "ns", "ingress": "web", "host": host, "path": "/", "route": "ns/web/" + host + "/", "customer": customer}
		if contract != "" {
			l["contract"] = contract
		}
		return l
	}
	outage := [2]int64{minuteOf(time.Date(2026, 11, 10, 10, 0, 0, 0, time.UTC)), minuteOf(time.Date(2026, 11, 10, 13, 0, 0, 0, time.UTC))}
	gap := [2]int64{minuteOf(time.Date(2026, 10, 31, 21, 0, 0, 0, time.UTC)), minuteOf(time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC))}
	reset := minuteOf(time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC))
	first := minuteOf(time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC))
	return []*trafficRoute{
		{host: "shop.acme.com", customer: "acme", labels: mk("shop.acme.com", "acme", "gold"), starts: []int64{first},
			good: func(m int64) float64 { return 100 + float64(m%7) },
			bad: func(m int64) float64 {
				if m >= outage[0] && m < outage[1] {
					return 60
				}
				return float64(m%50/49) * 2
			}},
		// A write-path outage across the start of the Berlin month (no
		// samples, and no events before the boundary: events of a minute
		// before the boundary that only a sample after it counts are
		// attributed to the month after), and a slogate restart
		// that lost its state mid-month (the counter starts again; the
		// minute before it had no events).
		{host: "api.acme.com", customer: "acme", labels: mk("api.acme.com", "acme", "gold"), starts: []int64{first, reset}, gaps: [][2]int64{gap},
			good: func(m int64) float64 {
				if m >= gap[0]-1 && m < gap[0]+120 || m == reset-1 {
					return 0
				}
				return 50
			},
			bad: func(m int64) float64 {
				if m >= gap[0]-1 && m < gap[0]+120 || m == reset-1 {
					return 0
				}
				return float64(m%20/19) * 1
			}},
		// Discovered mid-month: the first sample already counts five minutes.
		{host: "blog.globex.com", customer: "globex", labels: mk("blog.globex.com", "globex", ""), starts: []int64{minuteOf(time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC))},
			gaps: [][2]int64{{0, minuteOf(time.Date(2026, 11, 10, 0, 5, 0, 0, time.UTC))}},
			good: func(int64) float64 { return 10 }, bad: func(m int64) float64 { return float64(m%1000/999) * 30 }},
	}
}

// samples writes each route's counters: one sample per minute at :30, as
// slogate's emitter would, counting the minutes before the sample's minute
// since the counter's last (re)start.
func (vm *fakeVM) add(r *trafficRoute, until int64) {
	for _, result := range []string{"good", "bad"} {
		ev := r.good
		if result == "bad" {
			ev = r.bad
		}
		labels := map[string]string{"__name__": "slo_requests_total", "result": result}
		for k, v := range r.labels {
			labels[k] = v
		}
		s := &fakeSeries{labels: labels}
		var c float64
		for m := r.starts[0]; m < until; m++ {
			if slices.Contains(r.starts, m) {
				c = 0
			}
			inGap := slices.ContainsFunc(r.gaps, func(g [2]int64) bool { return m >= g[0] && m < g[1] })
			if !inGap {
				s.ts, s.vs = append(s.ts, m*60_000+30_000), append(s.vs, c)
			}
			c += ev(m)
		}
		vm.series = append(vm.series, s)
	}
}

// reportWindows are the maintenance windows of the test: from the config,
// and one declared through the API two days late.
func reportStore(t *testing.T) *store.Maintenance {
	t.Helper()
	var config []*maintenance.Window
	for i, spec := range []maintenance.Spec{
		{Start: "2026-11-10T11:00:00Z", End: "2026-11-10T12:00:00Z", Match: map[string]string{"host": `shop\.acme\.com`}, Reason: "db upgrade", Author: "ops"},
		{Start: "2026-11-10T11:30:20Z", End: "2026-11-10T12:30:00Z", Match: map[string]string{"customer": "acme"}, Reason: "network"},
		{Start: "2026-01-06T02:00:00", RRule: "FREQ=WEEKLY;BYDAY=TU", Duration: "2h", Timezone: "Europe/Berlin", Match: map[string]string{"customer": "acme"}, Reason: "weekly patching"},
	} {
		m, err := maintenance.New(spec, reportNow.Add(-60*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		m.ID, m.Source = "config-"+strconv.Itoa(i), maintenance.FromConfig
		config = append(config, m)
	}
	store, err := store.OpenMaintenance(store.MaintenanceConfig{Dir: t.TempDir(), RetroactiveLimit: 72 * time.Hour, Now: func() time.Time { return reportNow }, Config: config})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(maintenance.Spec{Start: "2026-11-30T22:00:00Z", End: "2026-12-01T01:00:00Z", Reason: "emergency fix", Author: "oncall"}, "oncall"); err != nil {
		t.Fatal(err)
	}
	return store
}

// newTestReport serves a report over the generated traffic; the last
// sample is at reportNow - 30s.
func newTestReport(t *testing.T) (*Report, *fakeVM, []*trafficRoute) {
	t.Helper()
	vm := &fakeVM{}
	traffic := reportTraffic()
	for _, r := range traffic {
		vm.add(r, minuteOf(reportNow))
	}
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: vm.handle}
	go func() { _ = srv.Serve(ln) }() // returns when the listener closes
	t.Cleanup(func() { ln.Close() })
	up, err := vmclient.New(vmclient.Config{URL: "http://vm.test:8428", Dial: func(string) (net.Conn, error) { return ln.Dial() }})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseConfig("slogate.yml", []byte(reportConfig))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewReport(ReportConfig{Client: up, Config: func() *config.Config { return cfg }, Maintenance: reportStore(t), Now: func() time.Time { return reportNow }})
	if err != nil {
		t.Fatal(err)
	}
	return rep, vm, traffic
}

// truth is the brute-force reference: every minute of the route's month
// that the counters saw, excluded when its start lies in a window matching
// the route.
func truth(t *testing.T, r *trafficRoute, store *store.Maintenance, loc *time.Location, year int, month time.Month) (requests, bad, excluded uint64) {
	t.Helper()
	start := time.Date(year, month, 1, 0, 0, 0, 0, loc)
	from, to := minuteOf(start), min(minuteOf(start.AddDate(0, 1, 0)), minuteOf(reportNow)-1)
	var labels []budget.Label
	for k, v := range r.labels {
		labels = append(labels, budget.Label{Name: k, Value: v})
	}
	var ivs []budget.Interval
	for _, m := range store.List() {
		if m.Matches(labels) {
			ivs = m.AppendIntervals(ivs, from*60_000, to*60_000)
		}
	}
	for m := max(from, r.starts[0]); m < to; m++ {
		g, b := r.good(m), r.bad(m)
		requests += uint64(g + b)
		if slices.ContainsFunc(ivs, func(iv budget.Interval) bool { return m*60_000 >= iv.Start && m*60_000 < iv.End }) {
			excluded += uint64(g + b)
			continue
		}
		bad += uint64(b)
	}
	return requests, bad, excluded
}

// maintainedMinutes counts the minutes of [start, end) whose start lies in
// a window matching the route.
func maintainedMinutes(r *trafficRoute, store *store.Maintenance, start, end time.Time) int64 {
	var labels []budget.Label
	for k, v := range r.labels {
		labels = append(labels, budget.Label{Name: k, Value: v})
	}
	var ivs []budget.Interval
	for _, m := range store.List() {
		if m.Matches(labels) {
			ivs = m.AppendIntervals(ivs, start.UnixMilli(), end.UnixMilli())
		}
	}
	n := int64(0)
	for m := minuteOf(start); m < minuteOf(end); m++ {
		if slices.ContainsFunc(ivs, func(iv budget.Interval) bool { return m*60_000 >= iv.Start && m*60_000 < iv.End }) {
			n++
		}
	}
	return n
}

func getReport(t *testing.T, rep *Report, query string) (int, string, string) {
	t.Helper()
	resp := do(rep.Handle, "GET", "/slogate/api/v1/report?"+query)
	return resp.StatusCode(), string(resp.Header.ContentType()), string(resp.Body())
}

func TestReportMath(t *testing.T) {
	rep, _, traffic := newTestReport(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, period := range []struct {
		year  int
		month time.Month
	}{{2026, 11}, {2026, 12}} {
		name := fmt.Sprintf("%04d-%02d", period.year, period.month)
		code, _, body := getReport(t, rep, "period="+name+"&format=json")
		if code != 200 {
			t.Fatalf("%s: %d %s", name, code, body)
		}
		var got ReportJSON
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: cannot parse JSON: %s", name, err)
		}
		var statuses []string
		for _, r := range traffic {
			loc, target, kind := time.UTC, 0.999, "slo"
			if r.customer == "acme" {
				loc, target, kind = berlin, 0.999, "sla"
			}
			row := findRoute(t, &got, r.labels["route"])
			wantReq, wantBad, wantExcl := truth(t, r, rep.cfg.Maintenance, loc, period.year, period.month)
			if row.Requests != wantReq || row.Bad != wantBad || row.Excluded != wantExcl {
				t.Errorf("%s %s: requests %d bad %d excluded %d, want %d %d %d", name, row.Route, row.Requests, row.Bad, row.Excluded, wantReq, wantBad, wantExcl)
			}
			start := time.Date(period.year, period.month, 1, 0, 0, 0, 0, loc)
			length := start.AddDate(0, 1, 0).Sub(start).Seconds() - 60*float64(maintainedMinutes(r, rep.cfg.Maintenance, start, start.AddDate(0, 1, 0)))
			used := float64(wantBad) / float64(wantReq-wantExcl) * length
			if row.TargetKind != kind || row.Target != target || row.Timezone != loc.String() || row.Start != start.Format(time.RFC3339) {
				t.Errorf("%s %s: target %s %v in %s from %s", name, row.Route, row.TargetKind, row.Target, row.Timezone, row.Start)
			}
			if !approxSeconds(row.AllowedSeconds, (1-target)*length) || !approxSeconds(row.UsedSeconds, used) {
				t.Errorf("%s %s: allowed %v used %v, want %v %v", name, row.Route, row.AllowedSeconds, row.UsedSeconds, (1-target)*length, used)
			}
			if want := used <= (1-target)*length; row.Met != want || (row.Status == "met") != want {
				t.Errorf("%s %s: met %v status %s, want met %v", name, row.Route, row.Met, row.Status, want)
			}
			if row.Availability == nil || !approx(*row.Availability, 1-float64(wantBad)/float64(wantReq-wantExcl)) {
				t.Errorf("%s %s: availability %s", name, row.Route, fmtPtr(row.Availability))
			}
			if row.Complete != (period.month == 11) {
				t.Errorf("%s %s: complete %v", name, row.Route, row.Complete)
			}
			statuses = append(statuses, row.Status)
		}
		if name == "2026-11" && !(slices.Contains(statuses, "met") && slices.Contains(statuses, "breached")) {
			t.Errorf("the scenario should have a met and a breached route, got %v", statuses)
		}
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// approxSeconds compares with the report's precision, the millisecond.
func approxSeconds(a, b float64) bool { return math.Abs(a-b) <= 5e-4 }

func findRoute(t *testing.T, rep *ReportJSON, route string) ReportRoute {
	t.Helper()
	for _, c := range rep.Contracts {
		for _, r := range c.Routes {
			if r.Route == route {
				return r
			}
		}
	}
	t.Fatalf("report of %s has no route %s", rep.Period, route)
	return ReportRoute{}
}

func TestReportMaintenanceListed(t *testing.T) {
	rep, _, _ := newTestReport(t)
	r, err := rep.Build(ReportRequest{Period: "2026-11", Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Contracts) != 1 || r.Contracts[0].Customer != "acme" || r.Contracts[0].Contract["contract"] != "gold" || len(r.Contracts[0].Routes) != 2 {
		t.Fatalf("customer=acme: contracts %+v", r.Contracts)
	}
	shop := findRoute(t, r, "ns/web/shop.acme.com/")
	var got []string
	for _, w := range shop.Maintenance {
		got = append(got, w.ID+" "+w.Start+" "+w.End+" "+w.Reason)
	}
	want := []string{
		"config-2 2026-11-03T01:00:00Z 2026-11-03T03:00:00Z weekly patching",
		"config-0 2026-11-10T11:00:00Z 2026-11-10T12:00:00Z db upgrade",
		"config-2 2026-11-10T01:00:00Z 2026-11-10T03:00:00Z weekly patching",
		"config-1 2026-11-10T11:30:20Z 2026-11-10T12:30:00Z network",
		"config-2 2026-11-17T01:00:00Z 2026-11-17T03:00:00Z weekly patching",
		"config-2 2026-11-24T01:00:00Z 2026-11-24T03:00:00Z weekly patching",
		// Declared on December 2nd, for the last hour of the Berlin
		// November: it counts in November.
		"mw-0 2026-11-30T22:00:00Z 2026-12-01T01:00:00Z emergency fix",
	}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("shop windows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReportFormats(t *testing.T) {
	rep, _, traffic := newTestReport(t)
	code, ctype, body := getReport(t, rep, "period=2026-11&format=csv")
	if code != 200 || ctype != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %d %s %s", code, ctype, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("cannot parse CSV: %s", err)
	}
	if strings.Join(rows[0], ",") != strings.Join(reportCSVHeader, ",") || len(rows) != 1+len(traffic) {
		t.Fatalf("csv: header %v and %d rows", rows[0], len(rows)-1)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, row := range rows[1:] {
		if row[col["period"]] != "2026-11" || row[col["status"]] != "met" && row[col["status"]] != "breached" || row[col["requests"]] == "0" {
			t.Errorf("csv row %v", row)
		}
		if row[col["route"]] == "ns/web/shop.acme.com/" && (row[col["contract"]] != "contract=gold;customer=acme" || !strings.Contains(row[col["maintenance"]], "config-0 2026-11-10T11:00:00Z/2026-11-10T12:00:00Z db upgrade")) {
			t.Errorf("csv shop row %v", row)
		}
	}

	code, ctype, body = getReport(t, rep, "period=2026-11&format=html")
	if code != 200 || ctype != "text/html; charset=utf-8" {
		t.Fatalf("html: %d %s", code, ctype)
	}
	for _, want := range []string{"SLA report · November 2026", "ns/web/shop.acme.com/", "ns/web/api.acme.com/", "ns/web/blog.globex.com/", "SLA 99.9%", "db upgrade", "breached", "<style>"} {
		if !strings.Contains(body, want) {
			t.Errorf("html report lacks %q", want)
		}
	}
	if regexp.MustCompile(`(src|href)="`).MatchString(body) {
		t.Errorf("html report is not self-contained")
	}

	code, _, body = getReport(t, rep, "period=2026-11")
	if code != 200 || !json.Valid([]byte(body)) {
		t.Errorf("default format: %d, valid JSON %v", code, json.Valid([]byte(body)))
	}
}

func TestReportErrors(t *testing.T) {
	rep, vm, _ := newTestReport(t)
	for _, c := range []struct {
		query string
		code  int
		msg   string
	}{
		{"period=2026-13", 400, `cannot parse period "2026-13": want a month YYYY-MM (2026-11), a quarter YYYY-Qn (2026-Q4) or a year YYYY (2026)` + "\n"},
		{"period=26-11", 400, `cannot parse period "26-11": want a month YYYY-MM (2026-11), a quarter YYYY-Qn (2026-Q4) or a year YYYY (2026)` + "\n"},
		{"period=2026-Q5", 400, `cannot parse period "2026-Q5": want a month YYYY-MM (2026-11), a quarter YYYY-Qn (2026-Q4) or a year YYYY (2026)` + "\n"},
		{"period=2027-01", 400, "cannot report period 2027-01: it has not started\n"},
		{"period=2027", 400, "cannot report period 2027: it has not started\n"},
		{"period=2026-11&tenant=42", 400, "cannot report tenant 42:0: the upstream is a single-node VictoriaMetrics, which holds tenant 0 only (a cluster needs -upstream.cluster and a vmselect -upstream.readURL)\n"},
		{"period=2026-11&tenant=x", 400, `cannot parse tenant "x": accountID must be a 32-bit unsigned number` + "\n"},
		{"period=2026-11&format=xml", 400, `cannot use format "xml": want json, csv or html` + "\n"},
	} {
		code, _, body := getReport(t, rep, c.query)
		if code != c.code || body != c.msg {
			t.Errorf("%s: %d %q, want %d %q", c.query, code, body, c.code, c.msg)
		}
	}
	if got := do(rep.Handle, "POST", "/slogate/api/v1/report").StatusCode(); got != 405 {
		t.Errorf("POST: %d, want 405", got)
	}
	vm.down = true
	code, _, body := getReport(t, rep, "period=2026-11")
	if code != 502 || !strings.HasPrefix(body, "cannot query VictoriaMetrics at http://vm.test:8428: ") {
		t.Errorf("upstream down: %d %q", code, body)
	}
}

func TestReportCurrentMonthDefault(t *testing.T) {
	rep, vm, _ := newTestReport(t)
	r, err := rep.Build(ReportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Period != "2026-12" || r.PeriodKind != "month" || r.Tenant != "0:0" || len(r.Contracts) != 2 {
		t.Fatalf("default period %s with %d contracts", r.Period, len(r.Contracts))
	}
	row := findRoute(t, r, "ns/web/blog.globex.com/")
	if row.Complete || row.Until != reportNow.Format(time.RFC3339) {
		t.Errorf("current month: complete %v until %s", row.Complete, row.Until)
	}
	// Three queries per span: the month and each distinct maintenance span.
	if n := vm.queries.Load(); n > 3*2*10 {
		t.Errorf("%d queries for two months of three routes", n)
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}
