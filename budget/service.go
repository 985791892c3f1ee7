package budget

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/slogate/slogate/slo"
)

// Service is a service-level (aggregate) objective: it sums the good and
// total events of every route it matches, minute by minute, into one SLI
// per distinct value set of its By labels. Maintenance applies per route:
// a window on one route of a service removes that route's events from the
// service's minutes, not the other routes'. A service minute is in
// maintenance (for time slices) when every route of the service has it
// excluded.
type Service struct {
	// Name is the value of the synthetic label `service`.
	Name string
	// Match selects the routes: over their identity labels, contract
	// labels and `source`.
	Match Matchers
	// By are the labels (identity, contract or `source`) whose values make
	// one SLI each; absent labels have the value "".
	By []string
	// Objective holds targets, window, budgeting and credits; its Name is
	// the synthetic label `slo` (default: the service name) and Contract
	// is unused.
	Objective Objective
}

// ServiceStatus is the state of one service SLI (a service and one value
// set of its By labels) at one evaluation time. Labels and Objective are
// shared with the engine: read-only.
type ServiceStatus struct {
	Tenant Tenant
	// Service is the service's name; Labels its By labels in By order.
	Service string
	Labels  []Label
	// Objective holds the targets, window, budgeting and credits.
	Objective Objective
	// Routes is the number of routes the service sums now.
	Routes int
	// Good and Bad are the events counted so far (in minutes before the
	// eval minute), maintenance already removed per route.
	Good, Bad uint64
	// Windows are slo.ShortWindows followed by the compliance window.
	Windows [slo.NumWindows]slo.WindowStatus
	// SLO is the internal budget; SLA the contractual one, valid when
	// HasSLA.
	SLO, SLA slo.BudgetStatus
	HasSLA   bool
	// MaintenanceActive: every route of the service is in maintenance in
	// the eval minute.
	MaintenanceActive bool
	Release           slo.ReleaseState
	// Slices and WindowSlices: as RouteStatus's.
	Slices, WindowSlices slo.SliceCounts
	CreditPercent        float64
	HasCredit            bool
}

// svcState is one service SLI of a tenant: a service and one value set of
// its By labels. Its minutes hold the sums of its routes' minutes without
// the minutes each route excludes (the routes add to it as they count,
// and take their minutes out and back in as their exclusions change).
type svcState struct {
	def    int    // index into Engine.services
	key    string // By values joined by 0xff
	labels []Label
	obj    Objective
	// windowLabel is obj.Window.Label().
	windowLabel string
	b           buckets
	routes      []*route
	// newest is the newest point of the routes that left it (ms); a
	// service without routes is forgotten when that is older than the
	// watermark minus forgetAfter, like a route.
	newest, forgetAfter int64
}

// excludedAt reports whether every route of the service excludes minute m
// (a service without routes excludes nothing).
func (sv *svcState) excludedAt(m int64, scratch *[]Interval) bool {
	if len(sv.routes) == 0 {
		return false
	}
	for _, r := range sv.routes {
		if !r.b.exclAt(m, r.masks, scratch) {
			return false
		}
	}
	return true
}

// masksOverlap reports whether a mask of one of the service's routes
// overlaps the minutes [from, to).
func (sv *svcState) masksOverlap(from, to int64, scratch *[]Interval) bool {
	for _, r := range sv.routes {
		if masksOverlap(r.masks, from, to, scratch) {
			return true
		}
	}
	return false
}

// anyMasks reports whether a route of the service has maintenance masks:
// without any, no minute of the service is excluded.
func (sv *svcState) anyMasks() bool {
	for _, r := range sv.routes {
		if len(r.masks) > 0 {
			return true
		}
	}
	return false
}

// advanceService moves the service's ring to the tenant's head.
func (t *tenantState) advanceService(sv *svcState) {
	if sv.b.head >= t.head {
		return
	}
	var oracle *svcState
	if sv.anyMasks() {
		oracle = sv
	}
	sv.b.advance(t.head, nil, &t.scratch, oracle)
}

// servicesFor returns the service SLIs route r belongs to, creating them
// when new, and adds r to their routes.
func (t *tenantState) servicesFor(e *Engine, r *route) []*svcState {
	var out []*svcState
	for i := range e.services {
		def := &e.services[i]
		if !def.Match.Match(r.labels, r.ro.obj.Contract, r.src.Name) {
			continue
		}
		var kb strings.Builder
		for j, name := range def.By {
			if j > 0 {
				kb.WriteByte(0xff)
			}
			kb.WriteString(byValue(r, name))
		}
		key := kb.String()
		sv := t.svcs[i][key]
		if sv == nil {
			sv = newSvcState(e, i, key, r)
			t.advanceService(sv)
			t.svcs[i][key] = sv
			t.sortedSvcs = nil
		}
		sv.routes = append(sv.routes, r)
		out = append(out, sv)
	}
	return out
}

// byValue is the value of label name for a route: identity labels, then
// contract labels, then `source`; "" when absent.
func byValue(r *route, name string) string {
	if v, ok := labelValue(r.labels, name); ok {
		return v
	}
	if v, ok := labelValue(r.ro.obj.Contract, name); ok {
		return v
	}
	if name == "source" {
		return r.src.Name
	}
	return ""
}

func newSvcState(e *Engine, i int, key string, r *route) *svcState {
	def := &e.services[i]
	labels := make([]Label, len(def.By))
	for j, name := range def.By {
		labels[j] = Label{Name: name, Value: strings.Clone(byValue(r, name))}
	}
	obj := serviceObjective(def)
	sv := &svcState{def: i, key: key, labels: labels, obj: obj, windowLabel: obj.Window.Label(),
		forgetAfter: WindowMaxLength(obj.Window).Milliseconds()}
	sv.b.init(e.ringLen, layoutFor(obj))
	return sv
}

// serviceObjective is a service's objective with its defaults: named after
// the service, a rolling window of at least a minute.
func serviceObjective(def *Service) Objective {
	o := def.Objective
	if o.Name == "" {
		o.Name = def.Name
	}
	if o.Window.Kind == slo.Rolling && o.Window.Length < time.Minute {
		o.Window = slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}
	}
	o.Contract = nil
	return o
}

// leaveServices removes a forgotten route from its services.
func (r *route) leaveServices() {
	for _, sv := range r.svcs {
		if i := slices.Index(sv.routes, r); i >= 0 {
			sv.routes = slices.Delete(sv.routes, i, i+1)
		}
		sv.newest = max(sv.newest, r.newest)
	}
	r.svcs = nil
}

// forgetServices drops the service SLIs without routes whose newest data
// is older than the watermark minus their window's longest length.
func (t *tenantState) forgetServices() {
	for _, m := range t.svcs {
		for k, sv := range m {
			if len(sv.routes) == 0 && sv.newest < t.wm-sv.forgetAfter {
				delete(m, k)
				t.sortedSvcs = nil
			}
		}
	}
}

// propagate adds a change of route r's minute m (dg good, dn total, as
// made in r's buckets) to r's services, unless r excludes that minute.
func (t *tenantState) propagate(r *route, m, dg, dn int64) {
	if dg == 0 && dn == 0 {
		return
	}
	if r.b.exclAt(m, r.masks, &t.scratch) {
		return
	}
	for _, sv := range r.svcs {
		t.advanceService(sv)
		sv.b.add(m, dg, dn, nil, &t.scratch)
	}
}

// EvaluateServices returns the status of every service SLI of tenant t at
// eval time at (Unix ms), ordered by the services' order in the
// configuration, then By values.
func (e *Engine) EvaluateServices(t Tenant, at int64) []ServiceStatus {
	return e.AppendServiceStatus(nil, t, at)
}

// AppendServiceStatus is EvaluateServices appending to dst.
func (e *Engine) AppendServiceStatus(dst []ServiceStatus, t Tenant, at int64) []ServiceStatus {
	ts := e.lookupTenant(t)
	if ts == nil {
		return dst
	}
	mT := floorDiv64(at, minuteMs)
	ts.lock()
	defer ts.mu.Unlock()
	e.caps.forgot(ts.forgetStale())
	for _, sv := range ts.sortedServices() {
		ts.advanceService(sv)
		st := ServiceStatus{Tenant: ts.id, Service: e.services[sv.def].Name, Labels: sv.labels,
			Objective: sv.obj, Routes: len(sv.routes)}
		var os objStatus
		var oracle *svcState
		if sv.anyMasks() {
			oracle = sv
		}
		e.objectiveStatus(ts, &sv.b, oracle, nil, &sv.obj, sv.windowLabel, at, mT, &os)
		st.Windows, st.SLO, st.SLA, st.HasSLA = os.windows, os.slo, os.sla, os.hasSLA
		st.Release, st.Slices, st.WindowSlices = os.release, os.slices, os.windowSlices
		st.CreditPercent, st.HasCredit = os.credit, os.hasCredit
		st.Good, st.Bad = os.good, os.bad
		st.MaintenanceActive = len(sv.routes) > 0
		for _, r := range sv.routes {
			if !minuteMasked(r.masks, mT, &ts.scratch) {
				st.MaintenanceActive = false
				break
			}
		}
		dst = append(dst, st)
	}
	return dst
}

// sortedServices lists the tenant's service SLIs by service, then key.
func (t *tenantState) sortedServices() []*svcState {
	if t.sortedSvcs != nil {
		return t.sortedSvcs
	}
	var out []*svcState
	for _, m := range t.svcs {
		for _, sv := range m {
			out = append(out, sv)
		}
	}
	slices.SortFunc(out, func(a, b *svcState) int {
		return cmp.Or(cmp.Compare(a.def, b.def), cmp.Compare(a.key, b.key))
	})
	t.sortedSvcs = out
	return out
}

// advanceAll moves every route's and then every service's ring to the
// tenant's head, so that the minutes leaving the rings are final under
// the current masks before they change.
func (t *tenantState) advanceAll() {
	for _, routes := range t.routes {
		for _, r := range routes {
			r.b.advance(t.head, r.masks, &t.scratch, nil)
		}
	}
	for _, m := range t.svcs {
		for _, sv := range m {
			t.advanceService(sv)
		}
	}
}

// recomputeRoute derives route r's exclusion bits from its masks again and
// moves the minutes whose exclusion changed out of or back into its
// services. The route and its services must be at the tenant's head.
func (t *tenantState) recomputeRoute(r *route) {
	b := &r.b
	if len(r.svcs) == 0 || b.head == noHead {
		b.recomputeExclusion(r.masks, &t.scratch)
		return
	}
	t.exclOld = append(t.exclOld[:0], b.excl.W...)
	b.recomputeExclusion(r.masks, &t.scratch)
	if b.excl.W == nil { // no exclusion bits, before or now
		return
	}
	t.exclOld = append(t.exclOld, make([]uint64, len(b.excl.W)-len(t.exclOld))...) // none before: all 0
	rs := b.ringStart()
	i0 := floorMod64(rs, b.ringLen)
	for w, old := range t.exclOld {
		for diff := old ^ b.excl.W[w]; diff != 0; diff &= diff - 1 {
			i := int64(w*64 + bits.TrailingZeros64(diff))
			if i >= b.ringLen {
				continue
			}
			m := rs + floorMod64(i-i0, b.ringLen)
			g, n := b.ring.get(m)
			if g|n == 0 {
				continue
			}
			d := int64(1)
			if b.isExcl(i) {
				d = -1
			}
			for _, sv := range r.svcs {
				sv.b.add(m, d*int64(g), d*int64(n), nil, &t.scratch)
			}
		}
	}
}

// regroup gives every route its service SLIs under the engine's current
// services (Reload). A service SLI that still exists (same service name
// and By values) keeps its counts, and its buckets too when its objective
// stores alike; the routes it sums are those that match now, from now on
// (minutes already counted stay as they are).
func (t *tenantState) regroup(e *Engine, old []Service) {
	prev := t.svcs
	t.svcs = make([]map[string]*svcState, len(e.services))
	t.sortedSvcs = nil
	for i := range t.svcs {
		t.svcs[i] = make(map[string]*svcState)
		j := slices.IndexFunc(old, func(s Service) bool { return s.Name == e.services[i].Name })
		if j < 0 || j >= len(prev) {
			continue
		}
		for k, sv := range prev[j] {
			for _, r := range sv.routes {
				sv.newest = max(sv.newest, r.newest)
			}
			sv.def, sv.routes = i, nil
			obj := serviceObjective(&e.services[i])
			if lay := layoutFor(obj); !lay.same(sv.b.lay) {
				sv.b = sv.b.relayout(sv.b.ringLen, lay, nil, &t.scratch)
			}
			sv.obj, sv.windowLabel = obj, obj.Window.Label()
			sv.forgetAfter = WindowMaxLength(obj.Window).Milliseconds()
			t.svcs[i][k] = sv
		}
	}
	for _, routes := range t.routes {
		for _, r := range routes {
			r.svcs = t.servicesFor(e, r)
		}
	}
}

// rebuildServiceRing derives a service's ring minutes from its routes' ring
// minutes and exclusion bits (after LoadState: the bits follow the masks
// the engine has then, which SetMasks may change later). Minutes of routes
// that are gone are not in it.
func (t *tenantState) rebuildServiceRing(sv *svcState) {
	b := &sv.b
	if b.head == noHead {
		return
	}
	b.ring.reset()
	b.hsum.reset()
	b.hexcl.reset()
	b.ringRaw = 0
	rs := b.ringStart()
	for _, r := range sv.routes {
		rb := &r.b
		if rb.head == noHead {
			continue
		}
		for m := max(rs, rb.ringStart()); m <= min(b.head, rb.head); m++ {
			i := floorMod64(m, rb.ringLen)
			g, n := rb.ring.get(m)
			if g|n == 0 || rb.anyExcl && rb.isExcl(i) {
				continue
			}
			b.add(m, int64(g), int64(n), nil, &t.scratch)
		}
	}
}
