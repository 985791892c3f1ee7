// Package synthetic is slogate's public series contract: the names and
// labels of the slo_* series (and, optionally, Sloth's), rendered from the
// engine's statuses, and the Emitter that writes them to VictoriaMetrics in
// event time.
//
// It reads the engine through an interface and writes through vmclient; it
// must not import proxy, ui, store or config.
package synthetic

import (
	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/slo"
)

// Evaluator is the part of the budget engine the synthetic series need.
type Evaluator interface {
	Tenants() []budget.Tenant
	Watermark(t budget.Tenant) int64
	Evaluate(t budget.Tenant, at int64) []budget.RouteStatus
}

// Renderer renders the engine's route statuses as the synthetic series of
// the public contract (README "Synthetic series"). It implements Producer.
type Renderer struct {
	Engine Evaluator
	// Sloth adds the Sloth-compatible series (sloth.go).
	Sloth bool
}

// Tenants lists the engine's tenants.
func (s *Renderer) Tenants() []budget.Tenant { return s.Engine.Tenants() }

// Watermark is the tenant's newest SLI sample time.
func (s *Renderer) Watermark(t budget.Tenant) int64 { return s.Engine.Watermark(t) }

// Append evaluates tenant t at event time at (Unix ms) and appends
// every synthetic series, one point each at at, to dst as a WriteRequest.
func (s *Renderer) Append(dst []byte, t budget.Tenant, at int64) []byte {
	return s.Write(dst, t, at, 0, nil)
}

// Write evaluates tenant t at event time at (Unix ms) and encodes
// every synthetic series, one point each at at, as WriteRequests of at most
// maxSeries series, each handed to flush (which must not keep it); buf is
// scratch space, returned for reuse. maxSeries 0 means one WriteRequest,
// left in the returned buffer, and flush is not called.
func (s *Renderer) Write(buf []byte, t budget.Tenant, at int64, maxSeries int, flush func([]byte)) []byte {
	w := seriesWriter{dst: buf[:0], ts: at, max: maxSeries, flush: flush}
	for _, st := range s.Engine.Evaluate(t, at) {
		w.route(&st)
		if s.Sloth {
			w.sloth(&st)
		}
	}
	if w.max > 0 && len(w.dst) > 0 {
		w.flush(w.dst)
		w.dst = w.dst[:0]
	}
	return w.dst
}

// seriesWriter encodes series that share a route's base labels.
type seriesWriter struct {
	dst    []byte
	ts     int64
	labels []remotewrite.Label // __name__, base labels, then one extra
	nbase  int
	one    [1]remotewrite.TimeSeries
	sample [1]remotewrite.Sample
	// n series are in dst; at max (if > 0) dst goes to flush.
	n, max int
	flush  func([]byte)
}

// route writes every series of one route.
func (w *seriesWriter) route(st *budget.RouteStatus) {
	w.labels = append(w.labels[:0],
		remotewrite.Label{Name: "__name__"},
		remotewrite.Label{Name: "slo", Value: st.Objective.Name},
		remotewrite.Label{Name: "route", Value: st.Route},
		remotewrite.Label{Name: "source", Value: st.Source})
	w.labels = append(w.labels, st.Labels...)
	w.labels = append(w.labels, st.Objective.Contract...)
	w.nbase = len(w.labels)

	w.emit("slo_requests_total", "result", "good", float64(st.Good))
	w.emit("slo_requests_total", "result", "bad", float64(st.Bad))
	w.emit("slo_requests_excluded_total", "result", "good", float64(st.ExcludedGood))
	w.emit("slo_requests_excluded_total", "result", "bad", float64(st.ExcludedBad))
	for i := range st.Windows {
		win := &st.Windows[i]
		if win.HasSLI {
			w.emit("slo_sli_ratio", "window", win.Name, win.SLI)
		}
		w.emit("slo_burn_rate", "window", win.Name, win.BurnRate)
	}
	w.budget(&st.SLO)
	if st.HasSLA {
		w.budget(&st.SLA)
	}
	active := 0.0
	if st.MaintenanceActive {
		active = 1
	}
	w.emit("slo_maintenance_active", "", "", active)
	for _, rs := range slo.ReleaseStates {
		v := 0.0
		if rs == st.Release {
			v = 1
		}
		w.emit("slo_release_state", "state", rs.String(), v)
	}
}

func (w *seriesWriter) budget(b *slo.BudgetStatus) {
	w.emit("slo_objective_ratio", "kind", b.Kind, b.Objective)
	w.emit("slo_error_budget_remaining_ratio", "kind", b.Kind, b.RemainingRatio)
	w.emit("slo_error_budget_remaining_seconds", "kind", b.Kind, b.RemainingSeconds)
	if b.HasExhaustion {
		w.emit("slo_error_budget_exhaustion_seconds", "kind", b.Kind, b.ExhaustionSeconds)
	}
}

// emit appends one series with the base labels, the metric name and an
// optional extra label (k == "" for none).
func (w *seriesWriter) emit(name, k, v string, value float64) {
	w.labels[0].Value = name
	labels := w.labels[:w.nbase]
	if k != "" {
		labels = append(labels, remotewrite.Label{Name: k, Value: v})
		w.labels = labels[:w.nbase] // keep any growth for the next series
	}
	w.sample[0] = remotewrite.Sample{Value: value, Timestamp: w.ts}
	w.one[0] = remotewrite.TimeSeries{Labels: labels, Samples: w.sample[:]}
	w.dst = remotewrite.AppendWriteRequest(w.dst, w.one[:])
	if w.n++; w.max > 0 && w.n >= w.max {
		w.flush(w.dst)
		w.dst, w.n = w.dst[:0], 0
	}
}
