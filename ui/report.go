package ui

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/store"
	"github.com/slogate/slogate/vmclient"
)

// The SLA report of a calendar month, quarter or year, GET /slogate/api/v1/report.
//
// Where the numbers come from. The engine keeps minute-exact counts for the
// last 72h and coarser buckets for the compliance window only, so a period
// is read back from what slogate wrote into VictoriaMetrics: the cumulative
// counter slo_requests_total{result="good"|"bad"} of every route (raw
// events, maintenance included, since the route was discovered; series
// with a `route` label: the counters of services, which carry none, are not
// read, because a service is recomputed from its routes). For a span
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
// (as the engine matches them) are cut from the period at minute
// resolution (a minute is out when its start lies in a window) and the raw
// counter's increase over those spans is excluded, good and bad alike. The
// report therefore reflects the windows as they are when it is generated: a
// window declared after the fact (within -maintenance.retroactiveLimit,
// also early in the next period for the end of this one) is subtracted in
// the period its minutes belong to, and a deleted window no longer is.
//
// Time slices. For an objective with budgeting: timeslices the report needs
// every slice's counts: it exports the raw samples of slo_requests_total
// in the period (/api/v1/export) and turns each series into minute counts
// by the same rule (the step of a sample in minute M belongs to minute
// M-1; resets as above; the counter before the period is C). Each route
// minute in one of its windows is dropped; a slice is judged on its
// remaining minutes before the report's end (the current slice included)
// as the engine judges it: all minutes excluded: left out; no events: good
// (emptySlices: skip: left out); else good iff good/total >= sliceTarget.
// The grid is the objective's (slo.SlicePhase of its zone for calendar
// windows, UTC otherwise), so the period's first minute starts a slice.
//
// Services (config services:) are recomputed from their routes: the routes
// whose labels the service's match accepts, grouped by the values of its
// `by` labels. A service's events are the sum of its routes' events after
// each route's own maintenance cut; a service minute is in maintenance only
// when every route of the service has it excluded, and so is a service
// slice only when all its minutes are. The period is in the service's
// time zone (calendar windows; UTC otherwise), and so are the route counts
// summed into it. With customer=X only services with `customer` among
// their by labels are reported (their SLI customer=X holds exactly the
// routes of X); the others would be partial.
//
// Downtime. The verdict compares the ratio the contract names (the
// request availability for occurrences, the good-slice ratio for time
// slices) with the target, in downtime terms:
//
//	occurrences: judged  = period length - the minutes of the period in maintenance
//	                       (for a service: minutes in maintenance on every route)
//	             allowed = (1 - target) x judged
//	             used    = bad / (requests - excluded) x judged
//	timeslices:  allowed = (1 - target) x (slices in the period - slices left out) x slice length
//	             used    = bad slices x slice length
//
// and the target is met when used <= allowed. For a period still running
// (Complete false) the events and slices are those up to Until and the
// allowance is the whole period's, as the live budget is. The credit due is
// slo.CreditFor(credits, ratio), the largest tier whose `below` is above
// the ratio; null without credit tiers or without events.
//
// Targets, the objective's name and the time zone come from the
// configuration in force when the report is made (ReportConfig.Config, so
// also after SIGHUP), resolved as the engine resolves them. The period is a
// month (2026-11), quarter (2026-Q4) or year (2026) in the objective's time
// zone for calendar windows and in UTC otherwise; the current period is
// reported up to now. tenant=<accountID>[:<projectID>] reports one tenant
// of a VictoriaMetrics cluster through vmselect (-upstream.cluster with
// -upstream.readURL); a single node has only tenant 0.

// ReportConfig configures NewReport.
type ReportConfig struct {
	// Client queries VictoriaMetrics (/api/v1/query, /api/v1/export).
	// Required.
	Client *vmclient.Client
	// Config returns the configuration in force: each route's objective,
	// the services and the time zones. It is called once per report, so a
	// reloaded configuration applies to the next one. Default: a func
	// returning config.DefaultConfig().
	Config func() *config.Config
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
		def := config.DefaultConfig()
		cfg.Config = func() *config.Config { return def }
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
	// Period is 2026-11, 2026-Q4 or 2026; PeriodKind month, quarter or
	// year.
	Period      string `json:"period"`
	PeriodKind  string `json:"periodKind"`
	Tenant      string `json:"tenant"`
	Customer    string `json:"customer,omitempty"`
	GeneratedAt string `json:"generatedAt"`
	// Services come first, in configuration order, then by their labels.
	Services  []ReportService  `json:"services"`
	Contracts []ReportContract `json:"contracts"`
}

// ReportService is one service SLI: a service and one value set of its by
// labels, with the routes it sums (each with its own objective's figures).
type ReportService struct {
	Service string            `json:"service"`
	Labels  map[string]string `json:"labels"`
	ReportFigures
	Routes []ReportRoute `json:"routes"`
}

// ReportContract is one contract: the routes with the same contract labels.
type ReportContract struct {
	Customer string            `json:"customer"`
	Contract map[string]string `json:"contract"`
	Routes   []ReportRoute     `json:"routes"`
}

// ReportRoute is one route and objective over the period.
type ReportRoute struct {
	Route  string            `json:"route"`
	Source string            `json:"source"`
	Labels map[string]string `json:"labels"`
	ReportFigures
}

// ReportFigures are the figures of a route or a service over the period
// (see the top of this file for the formulas). Requests and Excluded count
// every event, Bad only those outside maintenance; Availability is 1 -
// Bad/(Requests-Excluded), null without such events. Slices and
// GoodSliceRatio are set for time-slice objectives only. Compliance is the
// ratio the verdict and the credit use: Availability for occurrences,
// GoodSliceRatio for time slices. Times are seconds, rounded to the
// millisecond.
type ReportFigures struct {
	Objective      string         `json:"objective"`
	Timezone       string         `json:"timezone"`
	Start          string         `json:"start"`
	End            string         `json:"end"`
	Until          string         `json:"until"`
	Complete       bool           `json:"complete"`
	Requests       uint64         `json:"requests"`
	Bad            uint64         `json:"bad"`
	Excluded       uint64         `json:"excluded"`
	Availability   *float64       `json:"availability"`
	Budgeting      string         `json:"budgeting"` // "occurrences" or "timeslices"
	SliceSeconds   float64        `json:"sliceSeconds,omitempty"`
	SliceTarget    float64        `json:"sliceTarget,omitempty"`
	Slices         *ReportSlices  `json:"slices"`
	GoodSliceRatio *float64       `json:"goodSliceRatio"`
	Compliance     *float64       `json:"compliance"`
	TargetKind     string         `json:"targetKind"` // "sla", or "slo" without an SLA
	Target         float64        `json:"target"`
	Met            bool           `json:"met"`
	Status         string         `json:"status"` // "met" or "breached"
	JudgedSeconds  float64        `json:"judgedSeconds"`
	AllowedSeconds float64        `json:"allowedSeconds"`
	UsedSeconds    float64        `json:"usedSeconds"`
	Credits        []ReportCredit `json:"credits"`
	CreditPercent  *float64       `json:"creditPercent"`
	Maintenance    []ReportWindow `json:"maintenance"`
}

// ReportSlices count the slices of a time-slice objective: Good, Bad and
// Excluded (left out) among those judged so far, and Total, the slices of
// the whole period.
type ReportSlices struct {
	Good     uint64 `json:"good"`
	Bad      uint64 `json:"bad"`
	Excluded uint64 `json:"excluded"`
	Total    uint64 `json:"total"`
}

// ReportCredit is one service-credit tier of the objective.
type ReportCredit struct {
	Below   float64 `json:"below"`
	Percent float64 `json:"percent"`
}

// ReportWindow is one occurrence of a maintenance window overlapping the
// period and matching the route (for a service: any of its routes).
type ReportWindow struct {
	ID     string `json:"id"`
	Start  string `json:"start"`
	End    string `json:"end"`
	Reason string `json:"reason"`
	Author string `json:"author,omitempty"`
}

// errBadRequest marks errors answered with 400.
var errBadRequest = errors.New("bad request")

// ReportRequest selects what a report covers.
type ReportRequest struct {
	// Period is YYYY-MM, YYYY-Qn or YYYY; "" is the current month (UTC).
	Period string
	// Customer, when set, keeps the routes whose label customer has this
	// value (and the services keyed by customer).
	Customer string
	// Tenant is accountID[:projectID]; "" is tenant 0.
	Tenant string
}

// Handle serves GET /slogate/api/v1/report?period=2026-11|2026-Q4|2026&format=json|csv|html[&customer=][&tenant=].
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
	rep, err := r.Build(ReportRequest{Period: string(q.Peek("period")), Customer: string(q.Peek("customer")), Tenant: string(q.Peek("tenant"))})
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
