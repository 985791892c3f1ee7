package ui

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
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
}

// ServeSLOs answers GET /slogate/api/v1/slos.
func (a *API) ServeSLOs(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		methodNotAllowed(ctx, "GET")
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"slos": a.Statuses()})
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Error("method "+string(ctx.Method())+" not allowed; allowed: "+allow+"\n", fasthttp.StatusMethodNotAllowed)
	ctx.Response.Header.Set("Allow", allow)
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
}

// Statuses evaluates every tenant at its current step.
func (a *API) Statuses() []SLOStatus {
	step := a.Step.Milliseconds()
	if step <= 0 {
		step = 15_000
	}
	out := []SLOStatus{} // [] rather than null without data
	for _, t := range a.Engine.Tenants() {
		wm := a.Engine.Watermark(t)
		if wm <= 0 {
			continue
		}
		at := wm - wm%step
		for _, st := range a.Engine.Evaluate(t, at) {
			out = append(out, statusJSON(&st, at))
		}
	}
	return out
}

func statusJSON(st *budget.RouteStatus, at int64) SLOStatus {
	o := SLOStatus{
		Tenant:      fmt.Sprintf("%d:%d", st.Tenant.AccountID, st.Tenant.ProjectID),
		Source:      st.Source,
		Route:       st.Route,
		Labels:      labelMap(st.Labels),
		Contract:    labelMap(st.Objective.Contract),
		EvaluatedAt: time.UnixMilli(at).UTC().Format(time.RFC3339),
		Objective: ObjectiveJSON{
			Name:          st.Objective.Name,
			SLO:           st.Objective.SLO,
			Window:        st.Objective.Window.Label(),
			WindowSeconds: st.Objective.Window.LengthAt(time.UnixMilli(at)).Seconds(),
		},
		Requests:    RequestsJSON{Good: st.Good, Bad: st.Bad, ExcludedGood: st.ExcludedGood, ExcludedBad: st.ExcludedBad},
		Budgets:     map[string]BudgetJ{"slo": budgetJSON(&st.SLO)},
		Maintenance: st.MaintenanceActive,
		Release:     st.Release.String(),
	}
	if w := st.Objective.Window; w.Kind == slo.Calendar {
		_, end := w.Bounds(time.UnixMilli(at))
		pe := end.UTC().Format(time.RFC3339)
		o.Objective.PeriodEnd = &pe
	}
	if st.HasSLA {
		sla := st.Objective.SLA
		o.Objective.SLA = &sla
		o.Budgets["sla"] = budgetJSON(&st.SLA)
	}
	for i := range st.Windows {
		w := &st.Windows[i]
		wj := WindowJSON{Window: w.Name, Good: w.Good, Total: w.Total, BurnRate: finite(w.BurnRate)}
		if w.HasSLI {
			v := w.SLI
			wj.SLI = &v
		}
		o.Windows = append(o.Windows, wj)
	}
	if cw := o.Windows[len(o.Windows)-1]; cw.SLI != nil {
		o.Availability = cw.SLI
	}
	return o
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
