package budget

import (
	"cmp"
	"slices"
	"time"

	"github.com/slogate/slogate/slo"
)

// Evaluation (the math of design.md, "Synthetic series"). At eval time at
// (Unix ms), mT = floor(at / 60000); a window of W minutes covers the
// COMPLETE minutes [mT-W, mT): the current, partial minute is not counted,
// so two replicas fed the same data report the same value. A calendar
// window covers [period start, mT). The part of a window older than the
// minute ring is summed from the folded units, counting only the units
// whose stored minutes all lie inside the window: the far edge of a 30d
// window moves hour by hour, a calendar window takes its local days (see
// buckets.unitSpan). Excluded (maintenance)
// minutes leave every window, good and bad alike.

// RouteStatus is the state of one route at one evaluation time. Labels and
// Objective.Contract are shared with the engine: read-only.
type RouteStatus struct {
	Tenant Tenant
	// Source is the source's name (synthetic label `source`).
	Source string
	// Labels are the route's identity labels in RouteLabels order; Route
	// is their values joined by "/" (synthetic label `route`).
	Labels []Label
	Route  string
	// Objective holds the targets, window and contract labels.
	Objective Objective
	// Good and Bad are the raw events counted in minutes before the eval
	// minute, since the route was discovered (slo_requests_total). (Minutes
	// already folded out of the minute ring always count: evaluated before
	// the minute horizon, they include minutes after the eval minute.)
	Good, Bad uint64
	// ExcludedGood and ExcludedBad are the events of those minutes removed
	// by maintenance (slo_requests_excluded_total).
	ExcludedGood, ExcludedBad uint64
	// Windows are ShortWindows followed by the compliance window, without
	// excluded events.
	Windows [slo.NumWindows]slo.WindowStatus
	// SLO is the internal budget; SLA the contractual one, valid when
	// HasSLA (Objective.SLA > 0).
	SLO, SLA slo.BudgetStatus
	HasSLA   bool
	// MaintenanceActive: the eval minute's start lies in a maintenance
	// interval of this route.
	MaintenanceActive bool
	// Release is derived from the SLO budget (see releaseStateOf).
	Release slo.ReleaseState
	// Slices are the complete slices since the route was discovered, by
	// verdict (slo_slices_total), with time-slice budgeting; zero
	// otherwise. WindowSlices are the slices of the compliance window,
	// the in-progress slice included.
	Slices, WindowSlices slo.SliceCounts
	// CreditPercent is the credit tier (Objective.Credits) the compliance
	// window's SLA availability reaches now; HasCredit when the objective
	// has an SLA, credit tiers and an availability.
	CreditPercent float64
	HasCredit     bool
}

// Evaluate returns the status of every route of tenant t at eval time at
// (Unix ms), ordered by source name, then identity values. It first
// forgets the tenant's stale routes (so it must run for every tenant now
// and then), and holds the tenant's lock while it runs: a few µs per route.
func (e *Engine) Evaluate(t Tenant, at int64) []RouteStatus {
	return e.AppendStatus(nil, t, at)
}

// AppendStatus is Evaluate appending to dst: a caller that reuses dst
// evaluates without allocating.
func (e *Engine) AppendStatus(dst []RouteStatus, t Tenant, at int64) []RouteStatus {
	ts := e.lookupTenant(t)
	if ts == nil {
		return dst
	}
	mT := floorDiv64(at, minuteMs)
	ts.lock()
	e.caps.forgot(ts.forgetStale())
	// The sorted slice is never changed in place (a new route or a
	// forgotten one makes a new one), so it can be walked in chunks.
	routes := ts.sortedRoutes()
	ts.mu.Unlock()
	n := len(dst)
	dst = slices.Grow(dst, len(routes))[:n+len(routes)]
	// The tenant's lock is taken per chunk of routes, not for the whole
	// evaluation: Ingest of the same tenant waits at most one chunk
	// (a few hundred µs), not the whole evaluation (tens of ms at 20,000
	// routes). Between chunks, with the lock released, the evaluation
	// yields (EngineConfig.Yield): on one P a write handler must not wait
	// for the whole evaluation to get the CPU either.
	for start := 0; start < len(routes); start += evalChunk {
		if start > 0 {
			e.yield()
		}
		chunk := routes[start:min(start+evalChunk, len(routes))]
		e.statusChunk(ts, chunk, at, mT, dst[n+start:n+start+len(chunk)])
	}
	return dst
}

// EachStatus is Evaluate a chunk of routes at a time: it evaluates up to
// evalChunk routes of tenant t at eval time at into buf, calls fn with
// them (the tenant's lock released), and goes on with the next chunk, in
// Evaluate's order, yielding between chunks as AppendStatus does. A caller
// that streams the statuses keeps one chunk of them instead of every
// route's. The statuses are valid until fn returns; an error of fn stops
// the evaluation and is returned. It returns buf, grown, for reuse.
func (e *Engine) EachStatus(t Tenant, at int64, buf []RouteStatus, fn func([]RouteStatus) error) ([]RouteStatus, error) {
	ts := e.lookupTenant(t)
	if ts == nil {
		return buf, nil
	}
	mT := floorDiv64(at, minuteMs)
	ts.lock()
	e.caps.forgot(ts.forgetStale())
	routes := ts.sortedRoutes() // never changed in place: see AppendStatus
	ts.mu.Unlock()
	buf = slices.Grow(buf[:0], evalChunk)[:evalChunk]
	for start := 0; start < len(routes); start += evalChunk {
		if start > 0 {
			e.yield()
		}
		chunk := routes[start:min(start+evalChunk, len(routes))]
		e.statusChunk(ts, chunk, at, mT, buf[:len(chunk)])
		if err := fn(buf[:len(chunk)]); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// statusChunk evaluates routes into dst (as long) under the tenant's lock.
func (e *Engine) statusChunk(ts *tenantState, routes []*route, at, mT int64, dst []RouteStatus) {
	ts.lock()
	for i, r := range routes {
		r.b.advance(ts.head, r.masks, &ts.scratch, nil)
		e.routeStatus(ts, r, at, mT, &dst[i])
	}
	ts.mu.Unlock()
}

// evalChunk is how many routes AppendStatus evaluates per hold of the
// tenant's lock, and between yields: 3-5 µs each, so a chunk takes about
// 0.2-0.3 ms (more with a full window of history).
const evalChunk = 64

// sortedRoutes returns the tenant's routes ordered by source name, then
// identity values; it sorts only after routes came or went.
func (t *tenantState) sortedRoutes() []*route {
	if t.sorted != nil {
		return t.sorted
	}
	var routes []*route
	for _, m := range t.routes {
		for _, r := range m {
			routes = append(routes, r)
		}
	}
	slices.SortFunc(routes, func(a, b *route) int {
		return cmp.Or(cmp.Compare(a.src.Name, b.src.Name), cmp.Compare(a.key, b.key))
	})
	t.sorted = routes
	return routes
}

// routeStatus fills st for route r at eval time at, minute mT.
func (e *Engine) routeStatus(ts *tenantState, r *route, at, mT int64, st *RouteStatus) {
	*st = RouteStatus{Tenant: ts.id, Source: r.src.Name, Labels: r.labels, Route: r.name, Objective: r.ro.obj}
	var os objStatus
	e.objectiveStatus(ts, &r.b, nil, r.masks, &r.ro.obj, r.ro.windowLabel, at, mT, &os)
	st.Windows, st.SLO, st.SLA, st.HasSLA = os.windows, os.slo, os.sla, os.hasSLA
	st.Release, st.Slices, st.WindowSlices = os.release, os.slices, os.windowSlices
	st.CreditPercent, st.HasCredit = os.credit, os.hasCredit
	st.Good, st.Bad = os.good, os.bad
	st.ExcludedGood, st.ExcludedBad = os.exclGood, os.exclBad
	st.MaintenanceActive = minuteMasked(r.masks, mT, &ts.scratch)
}

// objStatus is what objectiveStatus computes for a route or a service.
type objStatus struct {
	windows              [slo.NumWindows]slo.WindowStatus
	slo, sla             slo.BudgetStatus
	hasSLA, hasCredit    bool
	credit               float64
	release              slo.ReleaseState
	slices, windowSlices slo.SliceCounts
	good, bad            uint64 // raw events before mT
	exclGood, exclBad    uint64 // of those, excluded
}

// objectiveStatus evaluates objective o over buckets b (of a route with
// masks, or of service sv) at eval time at, minute mT.
func (e *Engine) objectiveStatus(ts *tenantState, b *buckets, sv *svcState, masks []Mask, o *Objective, windowLabel string, at, mT int64, st *objStatus) {
	// The windows share their end mT, so each one adds to the next shorter
	// one the part it has in addition: ring minutes in [a, prev), and units
	// starting there. ring accumulates raw and unmasked sums of the ring
	// minutes in [prev, mT).
	var ring sums
	var ug, un uint64
	prev := mT
	extend := func(a int64) {
		if a >= prev {
			return
		}
		s := b.ringSums(a, prev)
		ring.rawGood += s.rawGood
		ring.rawTotal += s.rawTotal
		ring.good += s.good
		ring.total += s.total
		from, to := b.unitSpan(a, mT)
		next, _ := b.unitSpan(prev, mT)
		g, n := b.unitSums(from, min(to, next-1))
		ug, un = ug+g, un+n
		prev = a
	}
	cStart, length := complianceSpan(o.Window, at, mT)
	var starts [slo.NumWindows]int64
	cDone := false
	for i, w := range slo.ShortWindows {
		a := mT - w.Minutes
		starts[i] = a
		if !cDone && cStart > a { // the compliance window is shorter than this one
			extend(cStart)
			st.windows[slo.WindowCompliance] = slo.NewWindow(windowLabel, ring.good+ug, ring.total+un, o.SLO)
			cDone = true
		}
		extend(a)
		st.windows[i] = slo.NewWindow(w.Name, ring.good+ug, ring.total+un, o.SLO)
	}
	starts[slo.WindowCompliance] = cStart
	if !cDone {
		extend(cStart)
		st.windows[slo.WindowCompliance] = slo.NewWindow(windowLabel, ring.good+ug, ring.total+un, o.SLO)
	}

	// Cumulative counters: everything folded, plus ring minutes before mT.
	extend(b.ringStart())
	st.good, st.bad = slo.GoodBad(b.foldRawGood+ring.rawGood, b.foldRawTotal+ring.rawTotal)
	st.exclGood, st.exclBad = slo.GoodBad(
		b.foldExclGood+ring.rawGood-ring.good, b.foldExclTotal+ring.rawTotal-ring.total)

	if sl := &b.lay.sl; sl.len > 0 {
		var win [slo.NumWindows]sliceTally
		cum := b.sliceWindows(sv, masks, &starts, mT, &win, &ts.scratch)
		for i := range win {
			name := windowLabel
			if i < len(slo.ShortWindows) {
				name = slo.ShortWindows[i].Name
			}
			st.windows[i] = slo.SliceWindow(name, win[i].counts(), o.SLO)
		}
		st.slices, st.windowSlices = cum.counts(), win[slo.WindowCompliance].counts()
		n := int64(length) / (sl.len * 60)
		sec := float64(sl.len * 60)
		w5 := st.windows[slo.Window5m]
		st.slo = slo.SliceBudgetOf("slo", o.SLO, st.windowSlices, n, sec, w5)
		if o.SLA > 0 {
			st.sla = slo.SliceBudgetOf("sla", o.SLA, st.windowSlices, n, sec, w5)
			st.hasSLA = true
		}
	} else {
		w5 := st.windows[slo.Window5m]
		cw := st.windows[slo.WindowCompliance]
		st.slo = slo.BudgetOf("slo", o.SLO, cw, length, w5)
		if o.SLA > 0 {
			st.sla = slo.BudgetOf("sla", o.SLA, cw, length, w5)
			st.hasSLA = true
		}
	}
	if cw := st.windows[slo.WindowCompliance]; o.SLA > 0 && len(o.Credits) > 0 && cw.HasSLI {
		st.credit, st.hasCredit = slo.CreditFor(o.Credits, cw.SLI), true
	}
	st.release = slo.ReleaseStateOf(e.release, st.slo.RemainingRatio, st.windows[slo.Window1h].BurnRate)
}

// complianceSpan returns the first minute of the compliance window at eval
// time at (minute mT) and the window's full length in seconds. Rolling:
// [mT - Length in minutes, mT), length Length. Calendar: from the first
// minute starting at or after the period start (Window.Bounds) to mT,
// length the whole period (end - start, DST included).
func complianceSpan(w slo.Window, at, mT int64) (start int64, seconds float64) {
	if w.Kind != slo.Calendar {
		return mT - int64(w.Length/time.Minute), w.Length.Seconds()
	}
	ps, pe := w.Bounds(time.UnixMilli(at))
	return ceilDiv64(ps.UnixMilli(), minuteMs), pe.Sub(ps).Seconds()
}
