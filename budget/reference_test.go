package budget

import (
	"cmp"
	"fmt"
	"maps"
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

	ops      int // operations so far (ingest calls and mask changes)
	series   map[string]*refSeries
	wm       map[Tenant][]refMark // watermark history per tenant, ascending
	maskSets []refMaskSet         // in the order they were set
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
		}
		for _, smp := range samples {
			v := smp.Value
			if !accepted(smp) {
				continue
			}
			s.points = append(s.points, refPoint{ts: smp.Timestamp, v: math.Round(v)})
			if h := m.wm[t]; len(h) == 0 || smp.Timestamp > h[len(h)-1].wm {
				m.wm[t] = append(h, refMark{op: m.ops, wm: smp.Timestamp})
			}
		}
	}
}

func (m *refModel) setMasks(masks []Mask) {
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
	minutes    map[int64][2]int64 // minute -> good, total
}

func hasStart(earliest map[string]int64, target string) bool {
	_, ok := earliest[target]
	return ok
}

func refFloorDiv(a, b int64) int64 { return int64(math.Floor(float64(a) / float64(b))) }

// evaluate computes the status of every route of tenant t at time at.
func (m *refModel) evaluate(t Tenant, at int64) map[string]RouteStatus {
	mT := refFloorDiv(at, 60000)
	marks := m.wm[t]
	ringStart := int64(math.MinInt64 / 2)
	if len(marks) > 0 {
		ringStart = refFloorDiv(marks[len(marks)-1].wm, 60000) - m.ringLen + 1
	}
	// Each target's start: the earliest first point of its series of two
	// points or more (distinct timestamps).
	earliest := map[string]int64{}
	for _, s := range m.series {
		ts := map[int64]bool{}
		for _, p := range s.points {
			ts[p.ts] = true
		}
		if s.tenant != t || len(ts) < 2 {
			continue
		}
		first := slices.Min(slices.Collect(maps.Keys(ts)))
		if e, ok := earliest[s.target]; !ok || first < e {
			earliest[s.target] = first
		}
	}
	routes := map[string]*refRoute{}
	for _, s := range m.series {
		if s.tenant != t {
			continue
		}
		src := &m.sources[s.src]
		var vals []string
		for _, l := range s.routeLabel {
			vals = append(vals, l.Value)
		}
		key := src.Name + "|" + strings.Join(vals, "/")
		r := routes[key]
		if r == nil {
			obj := DefaultObjective(src)
			if m.resolve != nil {
				obj = m.resolve(src, s.routeLabel)
			}
			r = &refRoute{src: src, labels: s.routeLabel, obj: obj, minutes: map[int64][2]int64{}}
			r.maskLabels = append(append(slices.Clone(s.routeLabel), obj.Contract...),
				Label{Name: "source", Value: src.Name}, Label{Name: "slo", Value: obj.Name}, Label{Name: "route", Value: strings.Join(vals, "/")})
			routes[key] = r
		}
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
			c := r.minutes[refFloorDiv(p.ts, 60000)]
			switch s.class {
			case "good":
				c[0] += int64(d)
				c[1] += int64(d)
			case "bad", "inf":
				c[1] += int64(d)
			case "le":
				c[0] += int64(d)
			}
			r.minutes[refFloorDiv(p.ts, 60000)] = c
		}
	}
	out := map[string]RouteStatus{}
	for key, r := range routes {
		out[key] = m.routeStatus(t, r, at, mT, ringStart, marks)
	}
	return out
}

// excluded reports whether minute mi of route r is excluded by maintenance.
func (m *refModel) excluded(r *refRoute, mi, ringStart int64, marks []refMark) bool {
	masks := m.masksAt(m.ops + 1)
	if mi < ringStart {
		// Finalized by the first operation that moved the ring past it.
		i, _ := slices.BinarySearchFunc(marks, mi+m.ringLen, func(k refMark, target int64) int {
			return cmp.Compare(refFloorDiv(k.wm, 60000), target)
		})
		masks = m.masksAt(marks[i].op)
	}
	for _, mk := range masks {
		if !mk.Matches(r.maskLabels) {
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

func (m *refModel) routeStatus(t Tenant, r *refRoute, at, mT, ringStart int64, marks []refMark) RouteStatus {
	var vals []string
	for _, l := range r.labels {
		vals = append(vals, l.Value)
	}
	st := RouteStatus{Tenant: t, Source: r.src.Name, Labels: r.labels, Route: strings.Join(vals, "/"), Objective: r.obj}
	// The longest the compliance window can be, in hours, plus 2: how far
	// back the hour ring reaches.
	var maxHours int64
	if r.obj.Window.Kind == slo.Calendar {
		maxHours = 31*24 + 1 + 2 // the tests only use months
	} else {
		maxHours = int64(math.Ceil(r.obj.Window.Length.Hours())) + 2
	}
	hourHead := refFloorDiv(ringStart-1, 60)
	inWindow := func(mi, a, e int64) bool {
		if mi >= ringStart {
			return a <= mi && mi < e
		}
		h := refFloorDiv(mi, 60)
		return h > hourHead-maxHours && h*60 >= a && min(h*60+60, ringStart) <= e
	}
	sum := func(a, e int64) (good, total int64) {
		for mi, c := range r.minutes {
			if inWindow(mi, a, e) && !m.excluded(r, mi, ringStart, marks) {
				good += c[0]
				total += c[1]
			}
		}
		return min(good, total), total
	}
	var rawG, rawT, exG, exT int64
	for mi, c := range r.minutes {
		if mi >= mT && mi >= ringStart {
			continue
		}
		rawG, rawT = rawG+c[0], rawT+c[1]
		if m.excluded(r, mi, ringStart, marks) {
			exG, exT = exG+c[0], exT+c[1]
		}
	}
	st.Good, st.Bad = uint64(min(rawG, rawT)), uint64(rawT-min(rawG, rawT))
	st.ExcludedGood, st.ExcludedBad = uint64(min(exG, exT)), uint64(exT-min(exG, exT))

	names := []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
	lengths := []int64{5, 30, 60, 120, 360, 1440, 4320}
	var cStart int64
	var cSeconds float64
	if w := r.obj.Window; w.Kind == slo.Calendar {
		lt := time.UnixMilli(at).In(w.Location)
		ps := time.Date(lt.Year(), lt.Month(), 1, 0, 0, 0, 0, w.Location)
		pe := time.Date(lt.Year(), lt.Month()+1, 1, 0, 0, 0, 0, w.Location)
		cStart = int64(math.Ceil(float64(ps.UnixMilli()) / 60000))
		cSeconds = float64(pe.UnixMilli()-ps.UnixMilli()) / 1000
		names = append(names, w.Period)
	} else {
		cStart = mT - int64(w.Length/time.Minute)
		cSeconds = float64(w.Length / time.Second)
		names = append(names, strconv.Itoa(int(w.Length/(24*time.Hour)))+"d")
	}
	lengths = append(lengths, mT-cStart)
	for i := range st.Windows {
		g, n := sum(mT-lengths[i], mT)
		w := slo.WindowStatus{Name: names[i], Good: uint64(g), Total: uint64(n)}
		if n > 0 {
			w.SLI = float64(g) / float64(n)
			w.HasSLI = true
			w.BurnRate = (float64(n-g) / float64(n)) / (1 - r.obj.SLO)
		}
		st.Windows[i] = w
	}
	cw, w5 := st.Windows[len(st.Windows)-1], st.Windows[0]
	budget := func(kind string, o float64) slo.BudgetStatus {
		b := slo.BudgetStatus{Kind: kind, Objective: o, RemainingRatio: 1}
		if cw.Total > 0 {
			b.RemainingRatio = 1 - float64(cw.Total-cw.Good)/((1-o)*float64(cw.Total))
		}
		b.RemainingSeconds = b.RemainingRatio * (1 - o) * cSeconds
		if b.RemainingRatio <= 0 {
			b.HasExhaustion = true
		} else if w5.Total > w5.Good {
			b.HasExhaustion = true
			b.ExhaustionSeconds = b.RemainingSeconds / (float64(w5.Total-w5.Good) / float64(w5.Total))
		}
		return b
	}
	st.SLO = budget("slo", r.obj.SLO)
	if r.obj.SLA > 0 {
		st.SLA, st.HasSLA = budget("sla", r.obj.SLA), true
	}
	for _, mk := range m.masksAt(m.ops + 1) {
		for _, iv := range mk.AppendIntervals(nil, mT*60000, mT*60000+60000) {
			if mk.Matches(r.maskLabels) && iv.Start <= mT*60000 && mT*60000 < iv.End {
				st.MaintenanceActive = true
			}
		}
	}
	switch {
	case st.SLO.RemainingRatio <= 0 || st.Windows[2].BurnRate >= 14.4:
		st.Release = slo.ReleaseFreeze
	case st.SLO.RemainingRatio < 0.25:
		st.Release = slo.ReleaseCaution
	}
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
	return diffs
}
