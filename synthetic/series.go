// Package synthetic is slogate's public series contract: the names and
// labels of the slo_* series (and, optionally, Sloth's), rendered from the
// engine's statuses, and the Emitter that writes them to VictoriaMetrics in
// event time.
//
// It reads the engine through an interface and writes through vmclient; it
// must not import proxy, ui, store or config.
package synthetic

import (
	"sync"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/slo"
)

// Evaluator is the part of the budget engine the synthetic series need.
type Evaluator interface {
	Tenants() []budget.Tenant
	Watermark(t budget.Tenant) int64
	Evaluate(t budget.Tenant, at int64) []budget.RouteStatus
	EvaluateServices(t budget.Tenant, at int64) []budget.ServiceStatus
}

// appendEvaluator is an Evaluator that evaluates into the caller's slices
// (budget.Engine is one): the Renderer then reuses its slices and renders
// without allocating in steady state, routes a chunk at a time.
type appendEvaluator interface {
	EachStatus(t budget.Tenant, at int64, buf []budget.RouteStatus, fn func([]budget.RouteStatus) error) ([]budget.RouteStatus, error)
	AppendServiceStatus(dst []budget.ServiceStatus, t budget.Tenant, at int64) []budget.ServiceStatus
}

// Renderer renders the engine's route and service statuses as the
// synthetic series of the public contract (README "Synthetic series"). It
// implements Producer. Write calls are serialized. With an engine that
// evaluates into the caller's slices (budget.Engine), the Renderer renders
// the routes a chunk at a time as they are evaluated and keeps one chunk's
// statuses and its largest tenant's services instead of allocating them at
// every evaluation.
type Renderer struct {
	Engine Evaluator
	// Sloth adds the Sloth-compatible series (sloth.go), named by what
	// SlothNames returns at each evaluation (nil: the defaults).
	Sloth      bool
	SlothNames func() SlothNames
	// Pacer, if set, makes Write pause between routes (and services) once
	// it has worked a slice: see Pacer. The engine pauses its evaluation
	// itself (budget.EngineConfig.Yield).
	Pacer *Pacer

	mu       sync.Mutex
	w        seriesWriter
	names    SlothNames // of the Write in progress
	routes   []budget.RouteStatus
	services []budget.ServiceStatus
	// writeRoutes is renderRoutes, made once.
	writeRoutes func([]budget.RouteStatus) error
}

// renderRoutes writes the series of routes (s.mu is held by Write).
func (s *Renderer) renderRoutes(routes []budget.RouteStatus) error {
	w := &s.w
	for i := range routes {
		s.Pacer.Pause()
		st := &routes[i]
		w.route(st)
		if s.Sloth {
			w.sloth(&s.names, st.Route, nil, &st.Objective, &st.Windows, &st.SLO)
		}
	}
	return nil
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
// left in the returned buffer, and flush is not called. The routes come
// first, then the services.
func (s *Renderer) Write(buf []byte, t budget.Tenant, at int64, maxSeries int, flush func([]byte)) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = SlothNames{}
	if s.Sloth && s.SlothNames != nil {
		s.names = s.SlothNames()
	}
	names := &s.names
	w := &s.w
	w.dst, w.ts, w.n, w.max, w.flush = buf[:0], at, 0, maxSeries, flush
	if s.writeRoutes == nil {
		s.writeRoutes = s.renderRoutes // once: a method value allocates
	}
	services := s.services
	ae, reuse := s.Engine.(appendEvaluator)
	if reuse {
		s.routes, _ = ae.EachStatus(t, at, s.routes, s.writeRoutes) // renderRoutes fails never
		clear(s.routes[:cap(s.routes)])                             // one chunk; not what it points to
		services = ae.AppendServiceStatus(services[:0], t, at)
	} else {
		_ = s.renderRoutes(s.Engine.Evaluate(t, at))
		services = s.Engine.EvaluateServices(t, at)
	}
	for i := range services {
		s.Pacer.Pause()
		st := &services[i]
		w.service(st)
		if s.Sloth {
			w.sloth(names, st.Service, st.Labels, &st.Objective, &st.Windows, &st.SLO)
		}
	}
	if w.max > 0 && len(w.dst) > 0 {
		w.flush(w.dst)
		w.dst = w.dst[:0]
	}
	out := w.dst
	// Keep the buffers, not what they point to (the engine's labels of
	// routes forgotten meanwhile, the caller's buffer and flush).
	w.dst, w.flush = nil, nil
	if reuse {
		clear(services)
		s.services = services
	}
	return out
}

// seriesWriter encodes series that share a route's or service's base
// labels.
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
	w.status(&statusSeries{
		obj: &st.Objective, windows: &st.Windows, slo: &st.SLO, sla: &st.SLA, hasSLA: st.HasSLA,
		maintenance: st.MaintenanceActive, release: st.Release, slices: st.Slices,
		credit: st.CreditPercent, hasCredit: st.HasCredit,
	})
}

// service writes every series of one service SLI: the labels slo,
// service and the By labels, no route or source; slo_requests_total holds
// the events with maintenance removed, and there is no
// slo_requests_excluded_total (a service's maintenance is its routes').
func (w *seriesWriter) service(st *budget.ServiceStatus) {
	w.labels = append(w.labels[:0],
		remotewrite.Label{Name: "__name__"},
		remotewrite.Label{Name: "slo", Value: st.Objective.Name},
		remotewrite.Label{Name: "service", Value: st.Service})
	w.labels = append(w.labels, st.Labels...)
	w.nbase = len(w.labels)

	w.emit("slo_requests_total", "result", "good", float64(st.Good))
	w.emit("slo_requests_total", "result", "bad", float64(st.Bad))
	w.status(&statusSeries{
		obj: &st.Objective, windows: &st.Windows, slo: &st.SLO, sla: &st.SLA, hasSLA: st.HasSLA,
		maintenance: st.MaintenanceActive, release: st.Release, slices: st.Slices,
		credit: st.CreditPercent, hasCredit: st.HasCredit,
	})
}

// statusSeries is what routes and services have in common.
type statusSeries struct {
	obj                 *budget.Objective
	windows             *[slo.NumWindows]slo.WindowStatus
	slo, sla            *slo.BudgetStatus
	hasSLA, maintenance bool
	release             slo.ReleaseState
	slices              slo.SliceCounts
	credit              float64
	hasCredit           bool
}

// status writes the series of the windows, budgets, maintenance, release
// state, slices (time-slice objectives only) and credit (with credit
// tiers and an SLA availability only).
func (w *seriesWriter) status(st *statusSeries) {
	for i := range st.windows {
		win := &st.windows[i]
		if win.HasSLI {
			w.emit("slo_sli_ratio", "window", win.Name, win.SLI)
		}
		w.emit("slo_burn_rate", "window", win.Name, win.BurnRate)
	}
	w.budget(st.slo)
	if st.hasSLA {
		w.budget(st.sla)
	}
	active := 0.0
	if st.maintenance {
		active = 1
	}
	w.emit("slo_maintenance_active", "", "", active)
	for _, rs := range slo.ReleaseStates {
		v := 0.0
		if rs == st.release {
			v = 1
		}
		w.emit("slo_release_state", "state", rs.String(), v)
	}
	if st.obj.Slices.Enabled() {
		w.emit("slo_slices_total", "result", "good", float64(st.slices.Good))
		w.emit("slo_slices_total", "result", "bad", float64(st.slices.Bad))
		w.emit("slo_slices_total", "result", "excluded", float64(st.slices.Excluded))
	}
	if st.hasCredit {
		w.emit("slo_sla_credit_percent", "", "", st.credit)
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
