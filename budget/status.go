package budget

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Evaluation (the math of design.md, "Synthetic series"). At eval time at
// (Unix ms), mT = floor(at / 60000); a window of W minutes covers the
// COMPLETE minutes [mT-W, mT): the current, partial minute is not counted,
// so two replicas fed the same data report the same value. A calendar
// window covers [period start, mT). The part of a window older than the
// minute ring is summed from the hour ring, counting only the hours whose
// stored minutes all lie inside the window: the far edge of a 30d window
// moves hour by hour (see buckets.hourSumsIn). Excluded (maintenance)
// minutes leave every window, good and bad alike.

// ShortWindows are the burn-rate windows of every route, shortest first;
// RouteStatus.Windows holds them in this order, then the compliance window.
var ShortWindows = [...]struct {
	Name    string
	Minutes int64
}{{"5m", 5}, {"30m", 30}, {"1h", 60}, {"2h", 120}, {"6h", 360}, {"1d", 1440}, {"3d", 4320}}

// Indexes into RouteStatus.Windows.
const (
	Window5m         = 0
	Window1h         = 2
	WindowCompliance = len(ShortWindows)
	NumWindows       = len(ShortWindows) + 1
)

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
	Windows [NumWindows]WindowStatus
	// SLO is the internal budget; SLA the contractual one, valid when
	// HasSLA (Objective.SLA > 0).
	SLO, SLA BudgetStatus
	HasSLA   bool
	// MaintenanceActive: the eval minute's start lies in a maintenance
	// interval of this route.
	MaintenanceActive bool
	// Release is derived from the SLO budget (see releaseStateOf).
	Release ReleaseState
}

// WindowStatus is one window of a route.
type WindowStatus struct {
	// Name is the synthetic label `window`: "5m" ... "3d", or the compliance
	// window's Label() ("30d", "month").
	Name string
	// Good and Total are the events in the window without excluded events.
	// For a latency source Good is capped at Total (a histogram's le
	// bucket and +Inf bucket may be scraped into different minutes).
	Good, Total uint64
	// SLI is Good/Total; absent (HasSLI false, SLI 0) when Total is 0.
	SLI    float64
	HasSLI bool
	// BurnRate is (bad/total)/(1-SLO), 0 when Total is 0.
	BurnRate float64
}

// BudgetStatus is the error budget of one objective over the compliance
// window.
type BudgetStatus struct {
	Kind      string  // "slo" or "sla"
	Objective float64 // e.g. 0.999
	// RemainingRatio is 1 - bad/allowed, allowed = (1-Objective)*total; 1
	// when total is 0; negative when overspent.
	RemainingRatio float64
	// RemainingSeconds is RemainingRatio * (1-Objective) * the compliance
	// window's full length in seconds (a calendar period's whole length).
	RemainingSeconds float64
	// ExhaustionSeconds is RemainingSeconds divided by the 5m error ratio:
	// how long until the budget is gone if the last 5 minutes continue. 0
	// when RemainingRatio <= 0; absent (HasExhaustion false) when nothing
	// failed in the last 5 minutes.
	ExhaustionSeconds float64
	HasExhaustion     bool
}

// ReleaseState is the release recommendation from the internal budget.
type ReleaseState uint8

const (
	ReleaseShip ReleaseState = iota
	ReleaseCaution
	ReleaseFreeze
)

// ReleaseStates lists every state, for rendering one gauge per state.
var ReleaseStates = [...]ReleaseState{ReleaseShip, ReleaseCaution, ReleaseFreeze}

func (s ReleaseState) String() string {
	switch s {
	case ReleaseCaution:
		return "caution"
	case ReleaseFreeze:
		return "freeze"
	}
	return "ship"
}

// releaseStateOf: freeze when the remaining ratio is at or below 0 or the
// 1h burn rate at or above FreezeBurnRate1h; caution when the remaining
// ratio is below Caution; ship otherwise.
func releaseStateOf(p ReleasePolicy, remaining, burn1h float64) ReleaseState {
	switch {
	case remaining <= 0 || burn1h >= p.FreezeBurnRate1h:
		return ReleaseFreeze
	case remaining < p.Caution:
		return ReleaseCaution
	}
	return ReleaseShip
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
	ts.mu.Lock()
	ts.forgetStale()
	// The sorted slice is never changed in place (a new route or a
	// forgotten one makes a new one), so it can be walked in chunks.
	routes := ts.sortedRoutes()
	ts.mu.Unlock()
	n := len(dst)
	dst = slices.Grow(dst, len(routes))[:n+len(routes)]
	// The tenant's lock is taken per chunk of routes, not for the whole
	// evaluation: Ingest of the same tenant waits at most one chunk
	// (about a millisecond), not the whole evaluation (tens of ms at
	// 20,000 routes), so writes do not stall at every evaluation.
	for start := 0; start < len(routes); start += evalChunk {
		ts.mu.Lock()
		for i, r := range routes[start:min(start+evalChunk, len(routes))] {
			r.b.advance(ts.head, r.masks, &ts.scratch)
			e.routeStatus(ts, r, at, mT, &dst[n+start+i])
		}
		ts.mu.Unlock()
	}
	return dst
}

// evalChunk is how many routes AppendStatus evaluates per hold of the
// tenant's lock.
const evalChunk = 256

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
	*st = RouteStatus{Tenant: ts.id, Source: r.src.Name, Labels: r.labels, Route: r.name, Objective: r.obj}
	b := &r.b

	// The windows share their end mT, so each one adds to the next shorter
	// one the part it has in addition: ring minutes in [a, prev), and hours
	// starting there. ring accumulates raw and unmasked sums of the ring
	// minutes in [prev, mT).
	var ring sums
	var hg, hn uint64
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
		g, n := b.hourSumsIn(a, prev, mT)
		hg, hn = hg+g, hn+n
		prev = a
	}
	cStart, length := complianceSpan(r.obj.Window, at, mT)
	cDone := false
	for i, w := range ShortWindows {
		a := mT - w.Minutes
		if !cDone && cStart > a { // the compliance window is shorter than this one
			extend(cStart)
			st.Windows[WindowCompliance] = newWindow(r.windowLabel, ring.good+hg, ring.total+hn, r.obj.SLO)
			cDone = true
		}
		extend(a)
		st.Windows[i] = newWindow(w.Name, ring.good+hg, ring.total+hn, r.obj.SLO)
	}
	if !cDone {
		extend(cStart)
		st.Windows[WindowCompliance] = newWindow(r.windowLabel, ring.good+hg, ring.total+hn, r.obj.SLO)
	}

	// Cumulative counters: everything folded, plus ring minutes before mT.
	extend(b.ringStart())
	st.Good, st.Bad = goodBad(b.foldRawGood+ring.rawGood, b.foldRawTotal+ring.rawTotal)
	st.ExcludedGood, st.ExcludedBad = goodBad(
		b.foldExclGood+ring.rawGood-ring.good, b.foldExclTotal+ring.rawTotal-ring.total)

	w5 := st.Windows[Window5m]
	cw := st.Windows[WindowCompliance]
	st.SLO = budgetOf("slo", r.obj.SLO, cw, length, w5)
	if r.obj.SLA > 0 {
		st.SLA = budgetOf("sla", r.obj.SLA, cw, length, w5)
		st.HasSLA = true
	}
	st.MaintenanceActive = minuteMasked(r.masks, mT, &ts.scratch)
	st.Release = releaseStateOf(e.release, st.SLO.RemainingRatio, st.Windows[Window1h].BurnRate)
}

// newWindow returns the status of a window with good and total events (good
// capped at total) under objective slo.
func newWindow(name string, good, total uint64, slo float64) WindowStatus {
	good, _ = goodBad(good, total)
	w := WindowStatus{Name: name, Good: good, Total: total, BurnRate: burnRate(good, total, slo)}
	if total > 0 {
		w.SLI = float64(good) / float64(total)
		w.HasSLI = true
	}
	return w
}

// complianceSpan returns the first minute of the compliance window at eval
// time at (minute mT) and the window's full length in seconds. Rolling:
// [mT - Length in minutes, mT), length Length. Calendar: from the first
// minute starting at or after the period start (Window.Bounds) to mT,
// length the whole period (end - start, DST included).
func complianceSpan(w Window, at, mT int64) (start int64, seconds float64) {
	if w.Kind != Calendar {
		return mT - int64(w.Length/time.Minute), w.Length.Seconds()
	}
	ps, pe := w.Bounds(time.UnixMilli(at))
	return ceilDiv64(ps.UnixMilli(), minuteMs), pe.Sub(ps).Seconds()
}

// goodBad caps good at total and returns good and bad = total - good.
func goodBad(good, total uint64) (uint64, uint64) {
	good = min(good, total)
	return good, total - good
}

// burnRate is the error ratio over the budget ratio: (bad/total)/(1-slo);
// 0 when total is 0. An objective of 1 has no budget: any error burns at
// +Inf.
func burnRate(good, total uint64, slo float64) float64 {
	if total == 0 || good >= total {
		return 0
	}
	errRatio := float64(total-good) / float64(total)
	if slo >= 1 {
		return math.Inf(1)
	}
	return errRatio / (1 - slo)
}

// budgetOf computes the budget of objective o from the compliance window
// cw, its full length in seconds, and the 5m window w5.
func budgetOf(kind string, o float64, cw WindowStatus, seconds float64, w5 WindowStatus) BudgetStatus {
	b := BudgetStatus{Kind: kind, Objective: o, RemainingRatio: 1}
	if cw.Total > 0 {
		bad := float64(cw.Total - cw.Good)
		if allowed := (1 - o) * float64(cw.Total); allowed > 0 {
			b.RemainingRatio = 1 - bad/allowed
		} else if bad > 0 {
			b.RemainingRatio = math.Inf(-1) // an objective of 1 has no budget
		}
	}
	if o < 1 {
		b.RemainingSeconds = b.RemainingRatio * (1 - o) * seconds
	}
	switch {
	case b.RemainingRatio <= 0:
		b.ExhaustionSeconds, b.HasExhaustion = 0, true
	case w5.Total > w5.Good:
		errRatio := float64(w5.Total-w5.Good) / float64(w5.Total)
		b.ExhaustionSeconds, b.HasExhaustion = b.RemainingSeconds/errRatio, true
	}
	return b
}
