package ui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"
	"github.com/slogate/slogate/synthetic"
)

// API serves slogate's own JSON API under /slogate/api/v1/.
type API struct {
	Engine synthetic.Evaluator
	// Step is the evaluation interval: statuses are evaluated at the
	// tenant watermark aligned down to it, as the synthetic series are.
	Step time.Duration

	scratch sync.Pool // of *sloScratch
}

// ServeSLOs answers GET /slogate/api/v1/slos. The answer is streamed
// (chunked): routes are evaluated a chunk at a time when the engine can
// (budget.Engine.EachStatus) and appended to a pooled buffer by the
// hand-written encoder (api_json.go), so that a call allocates a constant,
// not the answer's Go values (about 2.5 kB of JSON per route).
func (a *API) ServeSLOs(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		methodNotAllowed(ctx, "GET")
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(fasthttp.StatusOK)
	if ctx.IsHead() {
		return
	}
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		// An error is the client's going away: nothing left to tell it.
		if err := a.WriteSLOs(w); err == nil {
			_ = w.Flush()
		}
	})
}

// chunkEvaluator is an Evaluator that hands out route statuses a chunk at
// a time and evaluates services into the caller's slice (budget.Engine
// is one).
type chunkEvaluator interface {
	EachStatus(t budget.Tenant, at int64, buf []budget.RouteStatus, fn func([]budget.RouteStatus) error) ([]budget.RouteStatus, error)
	AppendServiceStatus(dst []budget.ServiceStatus, t budget.Tenant, at int64) []budget.ServiceStatus
}

// sloScratch is the memory of one WriteSLOs, reused by the next call: a
// chunk of route statuses, the services of a tenant, the JSON not yet
// written.
type sloScratch struct {
	buf      []byte
	routes   []budget.RouteStatus
	services []budget.ServiceStatus
	order    []int
	tenants  []tenantAt
	stamp    []byte
}

// tenantAt is a tenant and its eval time (Unix ms).
type tenantAt struct {
	t  budget.Tenant
	at int64
}

// sloFlushBytes is how much JSON WriteSLOs gathers before it writes.
const sloFlushBytes = 64 << 10

// maxPooledServices bounds the service statuses kept for the next call.
const maxPooledServices = 1024

// WriteSLOs writes the answer of GET /slogate/api/v1/slos to w: the
// document encoding/json writes for Evaluate() with two-space indent,
// evaluated and written a chunk of routes at a time. Every tenant is
// evaluated at its current step, its routes and services at the same
// time. It returns w's first error.
func (a *API) WriteSLOs(w io.Writer) error {
	s, _ := a.scratch.Get().(*sloScratch)
	if s == nil {
		s = &sloScratch{}
	}
	defer func() {
		clear(s.routes) // the statuses point into the engine's labels
		if cap(s.services) > maxPooledServices {
			s.services = nil
		}
		clear(s.services[:cap(s.services)])
		s.services = s.services[:0]
		a.scratch.Put(s)
	}()
	step := a.stepMillis()
	s.tenants = s.tenants[:0]
	for _, t := range a.Engine.Tenants() {
		if wm := a.Engine.Watermark(t); wm > 0 {
			s.tenants = append(s.tenants, tenantAt{t: t, at: wm - wm%step})
		}
	}
	ce, chunked := a.Engine.(chunkEvaluator)
	s.buf = append(s.buf[:0], "{\n  \"slos\": ["...)
	n := 0 // statuses written
	flush := func() error {
		if len(s.buf) < sloFlushBytes {
			return nil
		}
		_, err := w.Write(s.buf)
		s.buf = s.buf[:0]
		return err
	}
	for _, ta := range s.tenants {
		s.stamp = appendStamp(s.stamp[:0], ta.at)
		writeRoutes := func(sts []budget.RouteStatus) error {
			for i := range sts {
				s.buf = appendElem(s.buf, n)
				s.buf, s.order = appendRouteJSON(s.buf, &sts[i], ta.at, s.stamp, s.order)
				n++
				if err := flush(); err != nil {
					return err
				}
			}
			return nil
		}
		var err error
		if chunked {
			s.routes, err = ce.EachStatus(ta.t, ta.at, s.routes, writeRoutes)
		} else {
			err = writeRoutes(a.Engine.Evaluate(ta.t, ta.at))
		}
		if err != nil {
			return err
		}
	}
	s.buf = appendEnd(s.buf, n)
	s.buf = append(s.buf, ",\n  \"services\": ["...)
	n = 0
	for _, ta := range s.tenants {
		s.stamp = appendStamp(s.stamp[:0], ta.at)
		sts := s.services[:0]
		if chunked {
			sts = ce.AppendServiceStatus(sts, ta.t, ta.at)
			s.services = sts
		} else {
			sts = a.Engine.EvaluateServices(ta.t, ta.at)
		}
		for i := range sts {
			s.buf = appendElem(s.buf, n)
			s.buf, s.order = appendServiceJSON(s.buf, &sts[i], ta.at, s.stamp, s.order)
			n++
			if err := flush(); err != nil {
				return err
			}
		}
	}
	s.buf = appendEnd(s.buf, n)
	s.buf = append(s.buf, "\n}\n"...)
	_, err := w.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

// appendElem starts the n-th element of an array at level 2.
func appendElem(dst []byte, n int) []byte {
	if n > 0 {
		dst = append(dst, ',')
	}
	return append(dst, "\n    "...)
}

// appendEnd closes an array at level 1 of n elements: [] when empty.
func appendEnd(dst []byte, n int) []byte {
	if n == 0 {
		return append(dst, ']')
	}
	return append(dst, "\n  ]"...)
}

// appendStamp appends the quoted RFC 3339 time of at (Unix ms).
func appendStamp(dst []byte, at int64) []byte {
	dst = append(dst, '"')
	dst = time.UnixMilli(at).UTC().AppendFormat(dst, time.RFC3339)
	return append(dst, '"')
}

func (a *API) stepMillis() int64 {
	if step := a.Step.Milliseconds(); step > 0 {
		return step
	}
	return 15_000
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Error("method "+string(ctx.Method())+" not allowed; allowed: "+allow+"\n", fasthttp.StatusMethodNotAllowed)
	ctx.Response.Header.Set("Allow", allow)
}

// SLOsJSON is the answer of GET /slogate/api/v1/slos: every route with its
// objective, and every service SLI (a service and one value set of its By
// labels), evaluated at the same time per tenant.
type SLOsJSON struct {
	SLOs     []SLOStatus   `json:"slos"`
	Services []ServiceJSON `json:"services"`
}

// SLOStatus is one route and objective in GET /slogate/api/v1/slos.
type SLOStatus struct {
	Tenant    string            `json:"tenant"`
	Source    string            `json:"source"`
	Route     string            `json:"route"`
	Labels    map[string]string `json:"labels"`
	Contract  map[string]string `json:"contract,omitempty"`
	Objective ObjectiveJSON     `json:"objective"`
	// EvaluatedAt is the event time of the evaluation (RFC 3339).
	EvaluatedAt string `json:"evaluatedAt"`
	// Availability is the SLI over the compliance window; null without
	// events.
	Availability *float64           `json:"availability"`
	Requests     RequestsJSON       `json:"requests"`
	Windows      []WindowJSON       `json:"windows"`
	Budgets      map[string]BudgetJ `json:"budgets"`
	Maintenance  bool               `json:"maintenanceActive"`
	Release      string             `json:"releaseState"`
	// Slices (since discovery) and WindowSlices (the compliance window's,
	// the slice in progress included): time-slice objectives only.
	Slices       *SliceCountsJSON `json:"slices,omitempty"`
	WindowSlices *SliceCountsJSON `json:"windowSlices,omitempty"`
	// CreditPercent is the service credit the compliance window's SLA
	// availability reaches now; only with credit tiers and events.
	CreditPercent *float64 `json:"creditPercent,omitempty"`
}

// ServiceJSON is one service SLI in GET /slogate/api/v1/slos: the events
// of its routes summed minute by minute, maintenance removed per route.
type ServiceJSON struct {
	Tenant  string `json:"tenant"`
	Service string `json:"service"`
	// By are the names of the service's By labels, in order; Labels their
	// values for this SLI ("" when a route lacks one).
	By        []string          `json:"by"`
	Labels    map[string]string `json:"labels"`
	Objective ObjectiveJSON     `json:"objective"`
	// Routes is the number of routes the service sums now.
	Routes      int    `json:"routes"`
	EvaluatedAt string `json:"evaluatedAt"`
	// Availability is the SLI over the compliance window (the good-slice
	// ratio with time slices); null without events.
	Availability *float64 `json:"availability"`
	// Requests are the events counted, maintenance removed.
	Requests      ServiceRequestsJSON `json:"requests"`
	Windows       []WindowJSON        `json:"windows"`
	Budgets       map[string]BudgetJ  `json:"budgets"`
	Maintenance   bool                `json:"maintenanceActive"` // every route in maintenance
	Release       string              `json:"releaseState"`
	Slices        *SliceCountsJSON    `json:"slices,omitempty"`
	WindowSlices  *SliceCountsJSON    `json:"windowSlices,omitempty"`
	CreditPercent *float64            `json:"creditPercent,omitempty"`
}

// ServiceRequestsJSON are a service's events since its routes were
// discovered, without the events of their maintenance windows.
type ServiceRequestsJSON struct {
	Good uint64 `json:"good"`
	Bad  uint64 `json:"bad"`
}

// SliceCountsJSON are time slices by verdict; excluded are those left out
// (wholly in maintenance, or empty with emptySlices: skip).
type SliceCountsJSON struct {
	Good     uint64 `json:"good"`
	Bad      uint64 `json:"bad"`
	Excluded uint64 `json:"excluded"`
}

// ObjectiveJSON is an objective's targets and window.
type ObjectiveJSON struct {
	Name   string   `json:"name"`
	SLO    float64  `json:"slo"`
	SLA    *float64 `json:"sla,omitempty"`
	Window string   `json:"window"`
	// WindowSeconds is the compliance window's full length at EvaluatedAt
	// (a calendar period's whole length); PeriodEnd is the end of the
	// calendar period (RFC 3339), absent for rolling windows.
	WindowSeconds float64 `json:"windowSeconds"`
	PeriodEnd     *string `json:"periodEnd,omitempty"`
	// Budgeting is "occurrences" (events) or "timeslices"; with time
	// slices, SliceSeconds is a slice's length, SliceTarget the ratio a
	// slice needs to be good and EmptySlices "good" or "skip", and every
	// window and budget is in slices: a budget's seconds are downtime.
	Budgeting    string   `json:"budgeting"`
	SliceSeconds float64  `json:"sliceSeconds,omitempty"`
	SliceTarget  *float64 `json:"sliceTarget,omitempty"`
	EmptySlices  string   `json:"emptySlices,omitempty"`
	// Credits are the service-credit tiers of the SLA.
	Credits []CreditJSON `json:"credits,omitempty"`
}

// CreditJSON is a service-credit tier: Percent of the fee when the SLA
// availability is below Below.
type CreditJSON struct {
	Below   float64 `json:"below"`
	Percent float64 `json:"percent"`
}

// RequestsJSON are the raw and excluded event counts since discovery.
type RequestsJSON struct {
	Good         uint64 `json:"good"`
	Bad          uint64 `json:"bad"`
	ExcludedGood uint64 `json:"excludedGood"`
	ExcludedBad  uint64 `json:"excludedBad"`
}

// WindowJSON is one window's SLI and burn rate.
type WindowJSON struct {
	Window   string   `json:"window"`
	Good     uint64   `json:"good"`
	Total    uint64   `json:"total"`
	SLI      *float64 `json:"sli"`
	BurnRate float64  `json:"burnRate"`
}

// BudgetJ is the error budget of one kind (slo or sla).
type BudgetJ struct {
	Objective         float64  `json:"objective"`
	RemainingRatio    float64  `json:"remainingRatio"`
	RemainingSeconds  float64  `json:"remainingSeconds"`
	ExhaustionSeconds *float64 `json:"exhaustionSeconds"`
	// With time slices: the downtime the objective allows in the
	// compliance window (its slices not left out) and the downtime of its
	// bad slices so far; RemainingSeconds is their difference.
	AllowedDowntimeSeconds *float64 `json:"allowedDowntimeSeconds,omitempty"`
	UsedDowntimeSeconds    *float64 `json:"usedDowntimeSeconds,omitempty"`
}

// Evaluate evaluates every tenant at its current step: routes and
// services at the same time.
func (a *API) Evaluate() SLOsJSON {
	step := a.stepMillis()
	out := SLOsJSON{SLOs: []SLOStatus{}, Services: []ServiceJSON{}} // [] rather than null without data
	for _, t := range a.Engine.Tenants() {
		wm := a.Engine.Watermark(t)
		if wm <= 0 {
			continue
		}
		at := wm - wm%step
		for _, st := range a.Engine.Evaluate(t, at) {
			out.SLOs = append(out.SLOs, statusJSON(&st, at))
		}
		for _, st := range a.Engine.EvaluateServices(t, at) {
			out.Services = append(out.Services, serviceJSON(&st, at))
		}
	}
	return out
}

// eachSLO evaluates as Evaluate does and calls route with each route's
// status and service with each service's, per tenant its routes first,
// converted one at a time instead of gathered: the page keeps rows, not
// every status twice over. The callbacks may keep what the statuses point
// to, not the statuses.
func (a *API) eachSLO(route func(*SLOStatus), service func(*ServiceJSON)) {
	s, _ := a.scratch.Get().(*sloScratch)
	if s == nil {
		s = &sloScratch{}
	}
	defer func() {
		clear(s.routes)
		a.scratch.Put(s)
	}()
	step := a.stepMillis()
	ce, chunked := a.Engine.(chunkEvaluator)
	var one SLOStatus
	for _, t := range a.Engine.Tenants() {
		wm := a.Engine.Watermark(t)
		if wm <= 0 {
			continue
		}
		at := wm - wm%step
		each := func(sts []budget.RouteStatus) error {
			for i := range sts {
				one = statusJSON(&sts[i], at)
				route(&one)
			}
			return nil
		}
		if chunked {
			s.routes, _ = ce.EachStatus(t, at, s.routes, each) // each fails never
		} else {
			_ = each(a.Engine.Evaluate(t, at))
		}
		for _, st := range a.Engine.EvaluateServices(t, at) {
			svc := serviceJSON(&st, at)
			service(&svc)
		}
	}
}

func statusJSON(st *budget.RouteStatus, at int64) SLOStatus {
	o := SLOStatus{
		Tenant:      tenantString(st.Tenant),
		Source:      st.Source,
		Route:       st.Route,
		Labels:      labelMap(st.Labels),
		Contract:    labelMap(st.Objective.Contract),
		EvaluatedAt: time.UnixMilli(at).UTC().Format(time.RFC3339),
		Objective:   objectiveJSON(&st.Objective, at),
		Requests:    RequestsJSON{Good: st.Good, Bad: st.Bad, ExcludedGood: st.ExcludedGood, ExcludedBad: st.ExcludedBad},
		Maintenance: st.MaintenanceActive,
		Release:     st.Release.String(),
	}
	o.Budgets = budgetsJSON(&st.Objective, &st.SLO, &st.SLA, st.HasSLA, st.WindowSlices)
	o.Windows, o.Availability = windowsJSON(&st.Windows)
	o.Slices, o.WindowSlices = slicesJSON(&st.Objective, st.Slices, st.WindowSlices)
	o.CreditPercent = creditJSON(st.CreditPercent, st.HasCredit)
	return o
}

func serviceJSON(st *budget.ServiceStatus, at int64) ServiceJSON {
	o := ServiceJSON{
		Tenant:      tenantString(st.Tenant),
		Service:     st.Service,
		By:          make([]string, len(st.Labels)),
		Labels:      make(map[string]string, len(st.Labels)),
		Objective:   objectiveJSON(&st.Objective, at),
		Routes:      st.Routes,
		EvaluatedAt: time.UnixMilli(at).UTC().Format(time.RFC3339),
		Requests:    ServiceRequestsJSON{Good: st.Good, Bad: st.Bad},
		Maintenance: st.MaintenanceActive,
		Release:     st.Release.String(),
	}
	for i, l := range st.Labels {
		o.By[i], o.Labels[l.Name] = l.Name, l.Value
	}
	o.Budgets = budgetsJSON(&st.Objective, &st.SLO, &st.SLA, st.HasSLA, st.WindowSlices)
	o.Windows, o.Availability = windowsJSON(&st.Windows)
	o.Slices, o.WindowSlices = slicesJSON(&st.Objective, st.Slices, st.WindowSlices)
	o.CreditPercent = creditJSON(st.CreditPercent, st.HasCredit)
	return o
}

func tenantString(t budget.Tenant) string {
	return fmt.Sprintf("%d:%d", t.AccountID, t.ProjectID)
}

func objectiveJSON(obj *budget.Objective, at int64) ObjectiveJSON {
	o := ObjectiveJSON{
		Name:          obj.Name,
		SLO:           obj.SLO,
		Window:        obj.Window.Label(),
		WindowSeconds: obj.Window.LengthAt(time.UnixMilli(at)).Seconds(),
		Budgeting:     "occurrences",
	}
	if w := obj.Window; w.Kind == slo.Calendar {
		_, end := w.Bounds(time.UnixMilli(at))
		pe := end.UTC().Format(time.RFC3339)
		o.PeriodEnd = &pe
	}
	if obj.SLA > 0 {
		sla := obj.SLA
		o.SLA = &sla
	}
	if s := obj.Slices; s.Enabled() {
		target := s.Target
		o.Budgeting, o.SliceSeconds, o.SliceTarget, o.EmptySlices = "timeslices", s.Length.Seconds(), &target, "good"
		if s.SkipEmpty {
			o.EmptySlices = "skip"
		}
	}
	for _, c := range obj.Credits {
		o.Credits = append(o.Credits, CreditJSON{Below: c.Below, Percent: c.Percent})
	}
	return o
}

// budgetsJSON returns the budgets by kind; with time slices, each with the
// downtime allowed and used (bad slices) in the compliance window.
func budgetsJSON(obj *budget.Objective, sloB, slaB *slo.BudgetStatus, hasSLA bool, window slo.SliceCounts) map[string]BudgetJ {
	m := map[string]BudgetJ{"slo": budgetJSON(sloB)}
	if hasSLA {
		m["sla"] = budgetJSON(slaB)
	}
	if obj.Slices.Enabled() {
		// slo.SliceBudgetOf: remaining = allowed - used, both in slices
		// times the slice length; so allowed = remaining + used, also when
		// nothing is allowed.
		used := float64(window.Bad) * obj.Slices.Length.Seconds()
		for kind, b := range m {
			allowed := finite(b.RemainingSeconds + used)
			b.AllowedDowntimeSeconds, b.UsedDowntimeSeconds = &allowed, &used
			m[kind] = b
		}
	}
	return m
}

// windowsJSON returns the windows and the compliance window's SLI (nil
// without events).
func windowsJSON(ws *[slo.NumWindows]slo.WindowStatus) ([]WindowJSON, *float64) {
	out := make([]WindowJSON, 0, len(ws))
	for i := range ws {
		w := &ws[i]
		wj := WindowJSON{Window: w.Name, Good: w.Good, Total: w.Total, BurnRate: finite(w.BurnRate)}
		if w.HasSLI {
			v := w.SLI
			wj.SLI = &v
		}
		out = append(out, wj)
	}
	return out, out[len(out)-1].SLI
}

func slicesJSON(obj *budget.Objective, total, window slo.SliceCounts) (*SliceCountsJSON, *SliceCountsJSON) {
	if !obj.Slices.Enabled() {
		return nil, nil
	}
	return &SliceCountsJSON{Good: total.Good, Bad: total.Bad, Excluded: total.Excluded},
		&SliceCountsJSON{Good: window.Good, Bad: window.Bad, Excluded: window.Excluded}
}

func creditJSON(percent float64, has bool) *float64 {
	if !has {
		return nil
	}
	return &percent
}

func budgetJSON(b *slo.BudgetStatus) BudgetJ {
	j := BudgetJ{Objective: b.Objective, RemainingRatio: finite(b.RemainingRatio), RemainingSeconds: finite(b.RemainingSeconds)}
	if b.HasExhaustion {
		v := finite(b.ExhaustionSeconds)
		j.ExhaustionSeconds = &v
	}
	return j
}

// finite keeps JSON encodable: JSON has no Inf or NaN.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func labelMap(ls []budget.Label) map[string]string {
	if len(ls) == 0 {
		return nil
	}
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// writeJSON answers v as JSON with the status code.
func writeJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(code)
	enc := json.NewEncoder(ctx)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		ctx.Error("cannot encode JSON: "+strings.ReplaceAll(err.Error(), "\n", " ")+"\n", fasthttp.StatusInternalServerError)
	}
}
