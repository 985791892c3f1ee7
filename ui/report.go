package ui

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/slo"
	"github.com/slogate/slogate/store"
	"github.com/slogate/slogate/vmclient"
)

// The SLA report of one calendar month, GET /slogate/api/v1/report.
//
// Where the numbers come from. The engine keeps minute-exact counts for the
// last 72h and hour buckets for the compliance window only, so a month is
// read back from what slogate wrote into VictoriaMetrics: the cumulative
// counter slo_requests_total{result="good"|"bad"} (raw events of a route,
// maintenance included, since the route was discovered). For a span
// (from, to] the report asks VictoriaMetrics, per series,
//
//	A = increase_prometheus(c[d])  at to   (d = to - from)
//	B = first_over_time(c[d])      at to
//	C = last_over_time(c[1h])      at from (then c[31d] for series without one)
//
// and takes A + (B - C): A is the increase between the first and the last
// sample inside the span with counter resets removed, B - C the step from
// the last sample before the span to the first inside it. When B < C the
// counter was reset at the boundary and the step is B, unless the drop is
// under 1/8 of C, which VictoriaMetrics' increase() treats as a partial
// reset (step 0); without any sample before the span C is 0: the counters
// start at 0 when a route is discovered. This is increase() made exact: a
// plain increase(c[d]) looks for the sample before the span only a few
// minutes back and, when it is missing (a write-path outage across the
// month boundary), would count the counter's whole history into the month.
//
// A synthetic sample at time T counts the minutes before T's minute, so
// every boundary b is queried at b+59.999s: the counter then holds exactly
// the minutes before b whenever a sample exists in b's minute, and an
// event is never counted on both sides of a boundary.
//
// Maintenance is applied by the report, not read from
// slo_requests_excluded_total: for every route, the windows that match it
// (as the engine matches them) are cut from the month at minute resolution
// (a minute is out when its start lies in a window) and the raw counter's
// increase over those spans is excluded, good and bad alike. The report
// therefore reflects the windows as they are when it is generated: a
// window declared after the fact (within -maintenance.retroactiveLimit,
// also early in the next month for the end of this one) is subtracted in
// the month its minutes belong to, and a deleted window no longer is. The
// excluded counter could not do that: it jumps when a window is added and
// falls when one is deleted, at the time of the change.
//
// Targets, the objective's name and the time zone come from the current
// configuration (config.Config.Resolve), as the engine applies them. The
// period is the calendar month in the objective's time zone for calendar
// windows and in UTC otherwise; the current month is reported up to now.
// Only the default tenant is reported (the query API of a single-node
// VictoriaMetrics at the upstream URL).

// ReportConfig configures NewReport.
type ReportConfig struct {
	// Client queries VictoriaMetrics (/api/v1/query). Required.
	Client *vmclient.Client
	// Config resolves each route's objective and time zone. Default
	// config.DefaultConfig().
	Config *config.Config
	// Maintenance holds the windows the report excludes; nil means none.
	Maintenance *store.Maintenance
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Report builds SLA reports from the synthetic counters in VictoriaMetrics.
type Report struct {
	cfg  ReportConfig
	html *template.Template
}

// NewReport returns a Report for cfg.
func NewReport(cfg ReportConfig) (*Report, error) {
	if cfg.Client == nil {
		return nil, errors.New("cannot create report: no upstream")
	}
	if cfg.Config == nil {
		cfg.Config = config.DefaultConfig()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	html, err := parseReportHTML()
	if err != nil {
		return nil, fmt.Errorf("cannot parse report template: %w", err)
	}
	return &Report{cfg: cfg, html: html}, nil
}

// ReportJSON is the report (format=json). Field names are stable.
type ReportJSON struct {
	Period      string           `json:"period"`
	Customer    string           `json:"customer,omitempty"`
	GeneratedAt string           `json:"generatedAt"`
	Contracts   []ReportContract `json:"contracts"`
}

// ReportContract is one contract: the routes with the same contract labels.
type ReportContract struct {
	Customer string            `json:"customer"`
	Contract map[string]string `json:"contract"`
	Routes   []ReportRoute     `json:"routes"`
}

// ReportRoute is one route and objective over the period. Requests and
// Excluded count every event, Bad only those outside maintenance;
// Availability is 1 - Bad/(Requests-Excluded), null without such events.
// AllowedSeconds = (1-Target) x period length; UsedSeconds = Bad /
// (Requests-Excluded) x period length; Met is UsedSeconds <= AllowedSeconds.
// For the current month (Complete false) the figures are up to Until, and
// both times are over the whole month's length, as the live budget is.
type ReportRoute struct {
	Route          string            `json:"route"`
	Source         string            `json:"source"`
	Objective      string            `json:"objective"`
	Labels         map[string]string `json:"labels"`
	Timezone       string            `json:"timezone"`
	Start          string            `json:"start"`
	End            string            `json:"end"`
	Until          string            `json:"until"`
	Complete       bool              `json:"complete"`
	Requests       uint64            `json:"requests"`
	Bad            uint64            `json:"bad"`
	Excluded       uint64            `json:"excluded"`
	Availability   *float64          `json:"availability"`
	TargetKind     string            `json:"targetKind"` // "sla", or "slo" without an SLA
	Target         float64           `json:"target"`
	Met            bool              `json:"met"`
	Status         string            `json:"status"` // "met" or "breached"
	AllowedSeconds float64           `json:"allowedSeconds"`
	UsedSeconds    float64           `json:"usedSeconds"`
	Maintenance    []ReportWindow    `json:"maintenance"`
}

// ReportWindow is one occurrence of a maintenance window overlapping the
// period and matching the route.
type ReportWindow struct {
	ID     string `json:"id"`
	Start  string `json:"start"`
	End    string `json:"end"`
	Reason string `json:"reason"`
	Author string `json:"author,omitempty"`
}

// errBadRequest marks errors answered with 400.
var errBadRequest = errors.New("bad request")

// Handle serves GET /slogate/api/v1/report?period=YYYY-MM&format=json|csv|html[&customer=].
// period defaults to the current month (UTC), format to json.
func (r *Report) Handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		methodNotAllowed(ctx, "GET")
		return
	}
	q := ctx.QueryArgs()
	format := cmp.Or(string(q.Peek("format")), "json")
	if format != "json" && format != "csv" && format != "html" {
		ctx.Error(fmt.Sprintf("cannot use format %q: want json, csv or html\n", format), fasthttp.StatusBadRequest)
		return
	}
	rep, err := r.Build(string(q.Peek("period")), string(q.Peek("customer")))
	switch {
	case errors.Is(err, errBadRequest):
		ctx.Error(strings.TrimSuffix(err.Error(), ": "+errBadRequest.Error())+"\n", fasthttp.StatusBadRequest)
		return
	case err != nil:
		// The report cannot be made without VictoriaMetrics' answer.
		ctx.Error(strings.ReplaceAll(err.Error(), "\n", " ")+"\n", fasthttp.StatusBadGateway)
		return
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	switch format {
	case "json":
		writeJSON(ctx, fasthttp.StatusOK, rep)
	case "csv":
		ctx.SetContentType("text/csv; charset=utf-8")
		ctx.Response.Header.Set("Content-Disposition", `inline; filename="slogate-report-`+rep.Period+`.csv"`)
		if err := writeReportCSV(ctx, rep); err != nil {
			ctx.Error("cannot write CSV: "+err.Error()+"\n", fasthttp.StatusInternalServerError)
		}
	case "html":
		ctx.SetContentType("text/html; charset=utf-8")
		if err := writeReportHTML(ctx, r.html, rep); err != nil {
			ctx.Error("cannot render report: "+err.Error()+"\n", fasthttp.StatusInternalServerError)
		}
	}
}

// parsePeriod parses YYYY-MM; "" is the current month in UTC.
func parsePeriod(s string, now time.Time) (year int, month time.Month, err error) {
	if s == "" {
		y, m, _ := now.UTC().Date()
		return y, m, nil
	}
	t, perr := time.Parse("2006-01", s)
	if perr != nil || len(s) != 7 || t.Year() < 1970 {
		return 0, 0, fmt.Errorf("cannot parse period %q: want YYYY-MM, e.g. 2026-11: %w", s, errBadRequest)
	}
	return t.Year(), t.Month(), nil
}

// reportRoute is a route found in VictoriaMetrics, with its objective.
type reportRoute struct {
	key    string
	labels []budget.Label // the series' labels without __name__ and result
	obj    budget.Objective
	src    *budget.Source
	loc    *time.Location
}

// Build makes the report of period (YYYY-MM) for every route, or for the
// routes whose `customer` label is customer.
func (r *Report) Build(period, customer string) (*ReportJSON, error) {
	now := r.cfg.Now()
	year, month, err := parsePeriod(period, now)
	if err != nil {
		return nil, err
	}
	rep := &ReportJSON{Period: fmt.Sprintf("%04d-%02d", year, month), Customer: customer, GeneratedAt: now.UTC().Format(time.RFC3339), Contracts: []ReportContract{}}
	if first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC); first.Add(-14 * time.Hour).After(now) {
		return nil, fmt.Errorf("cannot report period %s: it has not started: %w", rep.Period, errBadRequest)
	}
	sel := "slo_requests_total"
	if customer != "" {
		sel += "{customer=" + strconv.Quote(customer) + "}"
	}
	var masks []*maintenance.Window
	if r.cfg.Maintenance != nil {
		masks = r.cfg.Maintenance.List()
	}
	contracts := map[string]*ReportContract{}
	// One pass per time zone the configuration uses: the month starts
	// and ends at a different instant in each.
	for _, loc := range r.locations() {
		start := time.Date(year, month, 1, 0, 0, 0, 0, loc)
		end := start.AddDate(0, 1, 0)
		if start.After(now) {
			continue
		}
		until := end
		if now.Before(end) {
			until = now
		}
		raw, err := r.increase(sel, start, until)
		if err != nil {
			return nil, err
		}
		var routes []reportRoute
		for key, c := range raw {
			rt := r.resolve(key, c.labels)
			if rt.loc.String() == loc.String() {
				routes = append(routes, rt)
			}
		}
		excluded, err := r.excluded(sel, routes, masks, start, until)
		if err != nil {
			return nil, err
		}
		for _, rt := range routes {
			row := reportRow(rt, raw[rt.key], excluded[rt.key], start, end, until)
			row.Maintenance = routeWindows(rt, masks, start, until)
			ck, contract := contractOf(rt)
			c := contracts[ck]
			if c == nil {
				c = &ReportContract{Customer: contract["customer"], Contract: contract}
				contracts[ck] = c
			}
			c.Routes = append(c.Routes, row)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(contracts)) {
		c := contracts[k]
		slices.SortFunc(c.Routes, func(a, b ReportRoute) int {
			return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Objective, b.Objective))
		})
		rep.Contracts = append(rep.Contracts, *c)
	}
	return rep, nil
}

// locations are the time zones of the configuration's calendar
// objectives, and UTC, by name.
func (r *Report) locations() []*time.Location {
	out := []*time.Location{time.UTC}
	for _, o := range r.cfg.Config.Objectives {
		if l := o.Window.Location; o.Window.Kind == slo.Calendar && l != nil &&
			!slices.ContainsFunc(out, func(x *time.Location) bool { return x.String() == l.String() }) {
			out = append(out, l)
		}
	}
	return out
}

// resolve finds a series' source and objective as the engine would.
func (r *Report) resolve(key string, labels []budget.Label) reportRoute {
	rt := reportRoute{key: key, labels: labels, loc: time.UTC}
	srcName, _ := labelOf(labels, "source")
	for i := range r.cfg.Config.Sources {
		if r.cfg.Config.Sources[i].Name == srcName {
			rt.src = &r.cfg.Config.Sources[i]
		}
	}
	if rt.src == nil {
		// A source no longer configured: the default objective, in UTC.
		rt.obj = budget.Objective{SLO: 0.999}
		rt.obj.Name, _ = labelOf(labels, "slo")
		return rt
	}
	ident := make([]budget.Label, len(rt.src.RouteLabels))
	for i, n := range rt.src.RouteLabels {
		v, _ := labelOf(labels, n)
		ident[i] = budget.Label{Name: n, Value: v}
	}
	rt.obj = r.cfg.Config.Resolve(rt.src, ident)
	if w := rt.obj.Window; w.Kind == slo.Calendar && w.Location != nil {
		rt.loc = w.Location
	}
	return rt
}

// contractOf returns a route's contract labels (those that are neither
// identity labels nor slogate's own) and a key that groups them.
func contractOf(rt reportRoute) (string, map[string]string) {
	m := map[string]string{}
	for _, l := range rt.labels {
		if l.Name == "slo" || l.Name == "route" || l.Name == "source" || rt.src != nil && slices.Contains(rt.src.RouteLabels, l.Name) {
			continue
		}
		m[l.Name] = l.Value
	}
	return seriesKey(m), m
}

func reportRow(rt reportRoute, raw, excl counts, start, end, until time.Time) ReportRoute {
	row := ReportRoute{
		Objective: rt.obj.Name,
		Labels:    map[string]string{},
		Timezone:  rt.loc.String(),
		Start:     start.Format(time.RFC3339),
		End:       end.Format(time.RFC3339),
		Until:     until.In(rt.loc).Format(time.RFC3339),
		Complete:  !until.Before(end),
		Target:    rt.obj.SLO, TargetKind: "slo",
		Maintenance: []ReportWindow{},
	}
	if name, ok := labelOf(rt.labels, "slo"); ok {
		row.Objective = name // as written during the period
	}
	row.Route, _ = labelOf(rt.labels, "route")
	row.Source, _ = labelOf(rt.labels, "source")
	if rt.src != nil {
		for _, n := range rt.src.RouteLabels {
			row.Labels[n], _ = labelOf(rt.labels, n)
		}
	}
	if rt.obj.SLA > 0 {
		row.Target, row.TargetKind = rt.obj.SLA, "sla"
	}
	good, bad := toCount(raw.good), toCount(raw.bad)
	exGood, exBad := min(toCount(excl.good), good), min(toCount(excl.bad), bad)
	row.Requests, row.Excluded, row.Bad = good+bad, exGood+exBad, bad-exBad
	length := end.Sub(start).Seconds()
	allowed, used := (1-row.Target)*length, 0.0
	if counted := row.Requests - row.Excluded; counted > 0 {
		a := 1 - float64(row.Bad)/float64(counted)
		row.Availability = &a
		used = float64(row.Bad) / float64(counted) * length
	}
	// Compared with a relative tolerance: 1 - 0.999 is not exact in
	// binary. Shown to the millisecond.
	row.Met = used <= allowed*(1+1e-9)
	row.AllowedSeconds, row.UsedSeconds = math.Round(allowed*1e3)/1e3, math.Round(used*1e3)/1e3
	row.Status = "breached"
	if row.Met {
		row.Status = "met"
	}
	return row
}

func toCount(v float64) uint64 {
	if !(v > 0) {
		return 0
	}
	return uint64(math.Round(v))
}

// routeWindows lists the occurrences of the windows matching a route that
// overlap [start, until).
func routeWindows(rt reportRoute, masks []*maintenance.Window, start, until time.Time) []ReportWindow {
	out := []ReportWindow{}
	for _, m := range masks {
		if !m.Matches(rt.labels) {
			continue
		}
		for _, iv := range m.AppendIntervals(nil, start.UnixMilli(), until.UnixMilli()) {
			out = append(out, ReportWindow{ID: m.ID, Reason: m.Reason, Author: m.Author,
				Start: time.UnixMilli(iv.Start).UTC().Format(time.RFC3339), End: time.UnixMilli(iv.End).UTC().Format(time.RFC3339)})
		}
	}
	slices.SortFunc(out, func(a, b ReportWindow) int { return cmp.Compare(a.Start, b.Start) })
	return out
}
