package budget

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/slo"
)

// refModel is the brute-force reference of the engine's contract. It shares
// no code with the engine: it stores every accepted point of every series
// (within the event-time bounds of its arrival) and, at each evaluation,
// recomputes everything from scratch: sort, dedupe, first-value rule
// against each target's start (the earliest first point of its series of
// two points or more), per-minute counts, masks per minute, window sums
// with the same edge rules.
//
// The engine's storage shows through the contract in two places, and the
// model computes them from their documented definitions:
//   - The minute ring ends at the tenant watermark's minute and is R =
//     horizon + ceil(MaxFuture) + 2 minutes long. An older minute is in
//     the hour ring; it counts in a window only when its whole hour (cut at
//     the ring start) lies in the window, and only while its hour is within
//     the compliance window's longest length (+2 hours) of the ring start.
//   - A minute older than the ring start was finalized when the watermark
//     first moved past it: its exclusion is decided by the masks set at
//     that moment, not by the current ones.
//
// Streams keep every point within its series' reorder history and within
// the minute horizon when it arrives; both are where the engine is exact.
type refModel struct {
	sources   []Source
	resolve   func(src *Source, route []Label) Objective
	ringLen   int64 // minutes
	maxFuture int64 // ms
	maxAge    int64 // ms: longest window + horizon

	ops    int // operations so far (ingest calls and mask changes)
	series map[string]*refSeries
	// first is the first minute of the first minute ring of each route
	// (key source|route) and service SLI (key "svc\x00" + refServiceKey),
	// by tenant: slices ending before it were never judged. See start.
	first   map[Tenant]map[string]int64
	pending map[Tenant]map[string]bool // created, ring not started
	// services are the service-level objectives (nil: none).
	services []Service

	routeStarts int // route rings started so far
	lastView    *refView
	lastViewKey refViewKey
	wm          map[Tenant][]refMark // watermark history per tenant, ascending
	maskSets    []refMaskSet         // in the order they were set
}

type refSeries struct {
	tenant     Tenant
	src        int
	routeLabel []Label // identity labels
	class      string  // "good", "bad", "le" (latency good), "inf" (latency total)
	target     string  // job + "\x00" + instance
	points     []refPoint
}

// refPoint is an accepted point; series keep them in arrival order, and
// the first of equal timestamps wins.
type refPoint struct {
	ts int64
	v  float64
}

type refMark struct {
	op int
	wm int64 // ms
}

type refMaskSet struct {
	op    int
	masks []Mask
}

func newRefModel(sources []Source, resolve func(*Source, []Label) Objective, horizon, maxFuture, longestWindow time.Duration) *refModel {
	return &refModel{
		sources: sources, resolve: resolve,
		ringLen:   int64(horizon/time.Minute) + int64(math.Ceil(maxFuture.Minutes())) + 2,
		maxFuture: maxFuture.Milliseconds(),
		maxAge:    (longestWindow + horizon).Milliseconds(),
		series:    map[string]*refSeries{}, wm: map[Tenant][]refMark{},
		first: map[Tenant]map[string]int64{}, pending: map[Tenant]map[string]bool{},
	}
}

// labelsText is a map key for a label set.
func labelsText(labels []Label) string {
	var b strings.Builder
	for _, l := range labels {
		b.WriteString(l.Name)
		b.WriteByte(0)
		b.WriteString(l.Value)
		b.WriteByte(0)
	}
	return b.String()
}

func refLabel(labels []Label, name string) string {
	for _, l := range labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// ingest records an Ingest call made at time now (ms). Samples outside
// [now-maxAge, now+maxFuture] count for nothing, and a series is created
// only by an accepted sample (a counter value within the bounds).
func (m *refModel) ingest(t Tenant, labels []Label, samples []Sample, now int64) {
	m.ops++
	accepted := func(s Sample) bool {
		v := s.Value
		return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 && now-m.maxAge <= s.Timestamp && s.Timestamp <= now+m.maxFuture
	}
	if !slices.ContainsFunc(samples, accepted) {
		return
	}
	name := refLabel(labels, "__name__")
	for si := range m.sources {
		src := &m.sources[si]
		if src.Metric != name {
			continue
		}
		class := ""
		if src.Kind == Availability {
			class = "good"
			if src.Bad.MatchString(refLabel(labels, src.StatusLabel)) {
				class = "bad"
			}
		} else {
			le, err := strconv.ParseFloat(refLabel(labels, "le"), 64)
			if err == nil && le == src.LE {
				class = "le"
			} else if err == nil && math.IsInf(le, 1) {
				class = "inf"
			}
		}
		for k, re := range src.Filter {
			if !re.MatchString(refLabel(labels, k)) {
				class = ""
			}
		}
		if class == "" {
			continue
		}
		key := fmt.Sprint(t, si) + labelsText(labels)
		s := m.series[key]
		if s == nil {
			s = &refSeries{tenant: t, src: si, class: class,
				target: refLabel(labels, "job") + "\x00" + refLabel(labels, "instance")}
			for _, n := range src.RouteLabels {
				s.routeLabel = append(s.routeLabel, Label{Name: n, Value: refLabel(labels, n)})
			}
			m.series[key] = s
			m.created(t, src, s.routeLabel)
		}
		rk := refRouteKey(src, s.routeLabel)
		for _, smp := range samples {
			v := smp.Value
			if !accepted(smp) {
				continue
			}
			s.points = append(s.points, refPoint{ts: smp.Timestamp, v: math.Round(v)})
			if h := m.wm[t]; len(h) == 0 || smp.Timestamp > h[len(h)-1].wm {
				m.wm[t] = append(h, refMark{op: m.ops, wm: smp.Timestamp})
			}
			if m.pending[t][rk] && m.hasEvents(t, rk) {
				m.start(t, rk)
				for _, sk := range m.serviceKeys(src, s.routeLabel) {
					m.start(t, sk)
				}
			}
		}
	}
}

// A route's minute ring starts (at the tenant's ring start) when the route
// is first touched after its creation: its first events, or an evaluation
// of the tenant's routes, or a change of masks (every tenant). A service
// SLI's ring starts when it is created (the first route of its By
// values), when the tenant has data before the creating point; else when
// first touched: its routes' first events, an evaluation of the tenant's
// services, a change of masks. The slices before the ring's first start
// count in windows as empty slices; slo_slices_total counts the slices
// ending after the SLI's origin: the head when its ring started, or an
// earlier minute with events (see refSLI).

// created records a new route of tenant t and its new service SLIs.
func (m *refModel) created(t Tenant, src *Source, ident []Label) {
	if m.pending[t] == nil {
		m.pending[t], m.first[t] = map[string]bool{}, map[string]int64{}
	}
	rk := refRouteKey(src, ident)
	if _, ok := m.first[t][rk]; ok || m.pending[t][rk] {
		return // a new series of a known route
	}
	m.pending[t][rk] = true
	for _, sk := range m.serviceKeys(src, ident) {
		if _, ok := m.first[t][sk]; ok || m.pending[t][sk] {
			continue
		}
		if h := m.wm[t]; len(h) > 0 {
			m.first[t][sk] = refFloorDiv(h[len(h)-1].wm, 60000) - m.ringLen + 1
		} else {
			m.pending[t][sk] = true
		}
	}
}

// start starts the ring of route or service key of tenant t now.
func (m *refModel) start(t Tenant, key string) {
	if !m.pending[t][key] {
		return
	}
	delete(m.pending[t], key)
	if !strings.HasPrefix(key, "svc\x00") {
		m.routeStarts++
	}
	h := m.wm[t]
	m.first[t][key] = refFloorDiv(h[len(h)-1].wm, 60000) - m.ringLen + 1
}

// startAll starts the pending rings of tenant t whose keys have prefix
// svc (services) or not (routes).
func (m *refModel) startAll(t Tenant, services bool) {
	for key := range m.pending[t] {
		if strings.HasPrefix(key, "svc\x00") == services {
			m.start(t, key)
		}
	}
}

// serviceKeys returns the keys of the service SLIs of a route.
func (m *refModel) serviceKeys(src *Source, ident []Label) []string {
	if len(m.services) == 0 {
		return nil
	}
	obj := DefaultObjective(src)
	if m.resolve != nil {
		obj = m.resolve(src, ident)
	}
	r := &refRoute{src: src, labels: ident, obj: obj}
	var keys []string
	for i := range m.services {
		svc := &m.services[i]
		if !svc.Match.Match(ident, obj.Contract, src.Name) {
			continue
		}
		var labels []Label
		for _, name := range svc.By {
			labels = append(labels, Label{Name: name, Value: refByValue(r, name)})
		}
		keys = append(keys, "svc\x00"+refServiceKey(svc.Name, labels))
	}
	return keys
}

// hasEvents reports whether route key of tenant t has counted events.
func (m *refModel) hasEvents(t Tenant, key string) bool {
	earliest := m.earliest(t)
	for _, s := range m.series {
		if s.tenant == t && refRouteKey(&m.sources[s.src], s.routeLabel) == key {
			for _, c := range m.seriesMinutes(s, earliest) {
				if c[0] != 0 || c[1] != 0 {
					return true
				}
			}
		}
	}
	return false
}

// refRouteKey is a route's key in the model: source|route.
func refRouteKey(src *Source, ident []Label) string {
	var vals []string
	for _, l := range ident {
		vals = append(vals, l.Value)
	}
	return src.Name + "|" + strings.Join(vals, "/")
}

func (m *refModel) setMasks(masks []Mask) {
	for t := range m.pending {
		m.startAll(t, false)
		m.startAll(t, true)
	}
	m.ops++
	m.maskSets = append(m.maskSets, refMaskSet{op: m.ops, masks: slices.Clone(masks)})
}

// masksAt returns the masks in effect during operation op.
func (m *refModel) masksAt(op int) []Mask {
	var out []Mask
	for _, ms := range m.maskSets {
		if ms.op < op {
			out = ms.masks
		}
	}
	return out
}

type refRoute struct {
	src        *Source
	labels     []Label
	obj        Objective
	maskLabels []Label
	minutes    map[int64][2]int64 // minute -> raw good, total
	first      int64              // first minute of the route's first ring
	excl       func(mi int64) bool
	cnt        map[int64][2]int64 // minute -> good, total without excluded minutes
}

func hasStart(earliest map[string]int64, target string) bool {
	_, ok := earliest[target]
	return ok
}

func refFloorDiv(a, b int64) int64 { return int64(math.Floor(float64(a) / float64(b))) }

// refView is a tenant as the model sees it at one evaluation.
type refView struct {
	t           Tenant
	at, mT      int64
	ringStart   int64
	routes      map[string]*refRoute // by source|route
	activeMasks []Mask               // the masks in effect now
}

// evaluate computes the status of every route of tenant t at time at.
func (m *refModel) evaluate(t Tenant, at int64) map[string]RouteStatus {
	m.startAll(t, false)
	v := m.view(t, at)
	out := map[string]RouteStatus{}
	for key, r := range v.routes {
		out[key] = m.routeStatus(v, r)
	}
	return out
}

// view recomputes every route of tenant t from the stored points: counts
// per minute and the exclusion of every minute.
func (m *refModel) view(t Tenant, at int64) *refView {
	key := refViewKey{t: t, at: at, ops: m.ops, starts: m.routeStarts}
	if m.lastView != nil && m.lastViewKey == key {
		return m.lastView
	}
	defer func() { m.lastViewKey = key }()
	v := &refView{t: t, at: at, mT: refFloorDiv(at, 60000), ringStart: int64(math.MinInt64 / 2),
		routes: map[string]*refRoute{}, activeMasks: m.masksAt(m.ops + 1)}
	marks := m.wm[t]
	if len(marks) > 0 {
		v.ringStart = refFloorDiv(marks[len(marks)-1].wm, 60000) - m.ringLen + 1
	}
	earliest := m.earliest(t)
	for _, s := range m.series {
		if s.tenant != t {
			continue
		}
		src := &m.sources[s.src]
		key := refRouteKey(src, s.routeLabel)
		r := v.routes[key]
		if r == nil {
			obj := DefaultObjective(src)
			if m.resolve != nil {
				obj = m.resolve(src, s.routeLabel)
			}
			route := strings.TrimPrefix(key, src.Name+"|")
			r = &refRoute{src: src, labels: s.routeLabel, obj: obj, minutes: map[int64][2]int64{}, first: m.first[t][key]}
			r.maskLabels = append(append(slices.Clone(s.routeLabel), obj.Contract...),
				Label{Name: "source", Value: src.Name}, Label{Name: "slo", Value: obj.Name}, Label{Name: "route", Value: route})
			r.excl = m.exclusion(r.maskLabels, r.first, v.ringStart, marks)
			v.routes[key] = r
		}
		for mi, c := range m.seriesMinutes(s, earliest) {
			rc := r.minutes[mi]
			r.minutes[mi] = [2]int64{rc[0] + c[0], rc[1] + c[1]}
		}
	}
	for _, r := range v.routes {
		r.cnt = map[int64][2]int64{}
		for mi, c := range r.minutes {
			if !r.excl(mi) {
				r.cnt[mi] = c
			}
		}
	}
	m.lastView = v
	return v
}

// refViewKey identifies a view: the model's state (operations, route
// rings started) and the evaluation.
type refViewKey struct {
	t      Tenant
	at     int64
	ops    int
	starts int
}

// earliest returns each target's start: the earliest first point of its
// series of two points or more (distinct timestamps).
func (m *refModel) earliest(t Tenant) map[string]int64 {
	earliest := map[string]int64{}
	for _, s := range m.series {
		if s.tenant != t || len(s.points) < 2 {
			continue
		}
		first, two := s.points[0].ts, false
		for _, p := range s.points[1:] {
			two = two || p.ts != first
			first = min(first, p.ts)
		}
		if !two {
			continue
		}
		if e, ok := earliest[s.target]; !ok || first < e {
			earliest[s.target] = first
		}
	}
	return earliest
}

// seriesMinutes returns the good and total events of series s by minute:
// sort, dedupe (the first of equal timestamps wins), first-value rule,
// counter resets.
func (m *refModel) seriesMinutes(s *refSeries, earliest map[string]int64) map[int64][2]int64 {
	out := map[int64][2]int64{}
	pts := slices.Clone(s.points)
	slices.SortStableFunc(pts, func(a, b refPoint) int { return cmp.Compare(a.ts, b.ts) })
	pts = slices.CompactFunc(pts, func(a, b refPoint) bool { return a.ts == b.ts })
	for i, p := range pts {
		d := 0.0
		switch {
		case i == 0 && hasStart(earliest, s.target) && earliest[s.target] < p.ts:
			d = p.v // the target was seen before: counted in full
		case i == 0: // baseline
		case p.v >= pts[i-1].v:
			d = p.v - pts[i-1].v
		default:
			d = p.v // reset
		}
		if d == 0 {
			continue
		}
		mi := refFloorDiv(p.ts, 60000)
		c := out[mi]
		switch s.class {
		case "good":
			c[0] += int64(d)
			c[1] += int64(d)
		case "bad", "inf":
			c[1] += int64(d)
		case "le":
			c[0] += int64(d)
		}
		out[mi] = c
	}
	return out
}

// exclusion returns the exclusion of the minutes of a route with mask
// labels labels and first ring minute first. A minute older than the ring
// start was finalized by the first operation that moved the ring past it:
// the masks set then decide. A minute before first was never in the
// route's ring: it is not excluded.
func (m *refModel) exclusion(labels []Label, first, ringStart int64, marks []refMark) func(mi int64) bool {
	// The intervals of the matching masks of every mask set.
	ivs := make([][]Interval, len(m.maskSets))
	for k, ms := range m.maskSets {
		for _, mk := range ms.masks {
			if mk.Matches(labels) {
				ivs[k] = mk.AppendIntervals(ivs[k], math.MinInt64/4, math.MaxInt64/4)
			}
		}
	}
	setAt := func(op int) int { // the mask set in effect during op
		k, _ := slices.BinarySearchFunc(m.maskSets, op, func(ms refMaskSet, op int) int { return cmp.Compare(ms.op, op) })
		return k - 1
	}
	now := setAt(m.ops + 1)
	return func(mi int64) bool {
		if mi < first {
			return false
		}
		k := now
		if mi < ringStart {
			i, _ := slices.BinarySearchFunc(marks, mi+m.ringLen, func(mk refMark, target int64) int {
				return cmp.Compare(refFloorDiv(mk.wm, 60000), target)
			})
			k = setAt(marks[i].op)
		}
		if k < 0 {
			return false
		}
		for _, iv := range ivs[k] {
			if iv.Start <= mi*60000 && mi*60000 < iv.End {
				return true
			}
		}
		return false
	}
}

// origin is the first minute an SLI whose ring first started at first
// counts from: the head then, or an earlier minute of its routes with
// events.
func (m *refModel) origin(first int64, routes ...*refRoute) int64 {
	o := first + m.ringLen - 1
	for _, r := range routes {
		for mi, c := range r.minutes {
			if c[0] != 0 || c[1] != 0 {
				o = min(o, mi)
			}
		}
	}
	return o
}

// activeAt reports whether the masks in effect now exclude minute mi of a
// route with mask labels labels.
func activeAt(masks []Mask, labels []Label, mi int64) bool {
	for _, mk := range masks {
		if !mk.Matches(labels) {
			continue
		}
		for _, iv := range mk.AppendIntervals(nil, mi*60000, mi*60000+60000) {
			if iv.Start <= mi*60000 && mi*60000 < iv.End {
				return true
			}
		}
	}
	return false
}

func (m *refModel) routeStatus(v *refView, r *refRoute) RouteStatus {
	var vals []string
	for _, l := range r.labels {
		vals = append(vals, l.Value)
	}
	st := RouteStatus{Tenant: v.t, Source: r.src.Name, Labels: r.labels, Route: strings.Join(vals, "/"), Objective: r.obj}
	var rawG, rawT, exG, exT int64
	for mi, c := range r.minutes {
		if mi >= v.mT && mi >= v.ringStart {
			continue
		}
		rawG, rawT = rawG+c[0], rawT+c[1]
		if r.excl(mi) {
			exG, exT = exG+c[0], exT+c[1]
		}
	}
	st.Good, st.Bad = uint64(min(rawG, rawT)), uint64(rawT-min(rawG, rawT))
	st.ExcludedGood, st.ExcludedBad = uint64(min(exG, exT)), uint64(exT-min(exG, exT))
	res := refSLIStatus(&refSLI{obj: r.obj, cnt: r.cnt, excl: r.excl, first: r.first, origin: m.origin(r.first, r)}, v.at, v.mT, v.ringStart)
	st.Windows, st.SLO, st.SLA, st.HasSLA, st.Release = res.windows, res.slo, res.sla, res.hasSLA, res.release
	st.Slices, st.WindowSlices, st.CreditPercent, st.HasCredit = res.slices, res.windowSlices, res.credit, res.hasCredit
	st.MaintenanceActive = activeAt(v.activeMasks, r.maskLabels, v.mT)
	return st
}

// compareStatus returns the differences between the engine's status and
// the reference's, numbers compared to 1e-9 (relative above 1).
func compareStatus(got, want RouteStatus) []string {
	var diffs []string
	eq := func(a, b float64) bool {
		if math.IsInf(a, 0) || math.IsInf(b, 0) {
			return a == b
		}
		return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
	}
	check := func(name string, g, w any) {
		gf, gok := g.(float64)
		wf, wok := w.(float64)
		if gok && wok && eq(gf, wf) || !gok && fmt.Sprint(g) == fmt.Sprint(w) {
			return
		}
		diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", name, g, w))
	}
	check("labels", got.Labels, want.Labels)
	check("objective", got.Objective.Name, want.Objective.Name)
	check("good", got.Good, want.Good)
	check("bad", got.Bad, want.Bad)
	check("excluded good", got.ExcludedGood, want.ExcludedGood)
	check("excluded bad", got.ExcludedBad, want.ExcludedBad)
	for i := range got.Windows {
		g, w := got.Windows[i], want.Windows[i]
		check(w.Name+" name", g.Name, w.Name)
		check(w.Name+" good", g.Good, w.Good)
		check(w.Name+" total", g.Total, w.Total)
		check(w.Name+" has sli", g.HasSLI, w.HasSLI)
		check(w.Name+" sli", g.SLI, w.SLI)
		check(w.Name+" burn", g.BurnRate, w.BurnRate)
	}
	check("has sla", got.HasSLA, want.HasSLA)
	for _, p := range [][2]slo.BudgetStatus{{got.SLO, want.SLO}, {got.SLA, want.SLA}} {
		g, w := p[0], p[1]
		check(w.Kind+" kind", g.Kind, w.Kind)
		check(w.Kind+" objective", g.Objective, w.Objective)
		check(w.Kind+" remaining ratio", g.RemainingRatio, w.RemainingRatio)
		check(w.Kind+" remaining seconds", g.RemainingSeconds, w.RemainingSeconds)
		check(w.Kind+" has exhaustion", g.HasExhaustion, w.HasExhaustion)
		check(w.Kind+" exhaustion seconds", g.ExhaustionSeconds, w.ExhaustionSeconds)
	}
	check("maintenance active", got.MaintenanceActive, want.MaintenanceActive)
	check("release", got.Release, want.Release)
	check("slices", got.Slices, want.Slices)
	check("window slices", got.WindowSlices, want.WindowSlices)
	check("has credit", got.HasCredit, want.HasCredit)
	check("credit percent", got.CreditPercent, want.CreditPercent)
	return diffs
}
