package budget

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slogate/slogate/internal/wyhash"
	"github.com/slogate/slogate/slo"
)

// tenantState is everything the engine keeps about one tenant, guarded by
// mu. It is plain data (no closures), so that a snapshot can walk it.
type tenantState struct {
	id Tenant
	mu sync.Mutex
	// wm is the watermark: the largest accepted SLI sample timestamp (ms),
	// noData before the first one; head is its minute (noHead before).
	// Every route's minute ring ends at head.
	wm, head int64
	// series maps seriesKey -> state of every counted series.
	series map[uint64]*series
	// ignored holds the keys of series no source counts (filtered out,
	// other histogram buckets, route refused by the cap), so that they cost
	// one map lookup. It is bounded by maxIgnored and cleared when routes
	// are forgotten (a refused route may fit then).
	ignored map[uint64]struct{}
	targets map[uint64]*target // key: hash of job and instance
	// routes holds per source index the routes, keyed by route.key;
	// sorted lists them in Evaluate's order, nil after a change.
	routes  []map[string]*route
	sorted  []*route
	stats   EngineStats
	scratch []Interval // reused for Mask.AppendIntervals
	// svcs holds per service index the service SLIs, keyed by svcState.key;
	// sortedSvcs lists them in EvaluateServices' order, nil after a change.
	svcs       []map[string]*svcState
	sortedSvcs []*svcState
	exclOld    []uint64 // reused by recomputeRoute
	labelBuf   []Label  // reused by IngestWrite for the labels of new series
	// raw maps the hash of a series' label fields on the wire
	// (remotewrite.SeriesKey.Raw) to its seriesHash, so that IngestWrite
	// hashes the labels of a series only once, and to its state. It is
	// bounded by maxRaw and cleared when full, and when series are
	// dropped (detach): it must not keep a state alive or hand it out.
	raw rawTable
	// pending lists the routes that may hold deferred contributions
	// (route.pend); flushPending applies them. Every other path that
	// reads or changes a route's counts flushes them right after taking
	// mu (lock), so none sees the counts without them.
	pending []*route
	// cancels counts the negative changes cancelDeferred took off deferred
	// sums (for tests).
	cancels uint64
}

// lock takes mu and applies the deferred contributions: what every path
// that reads or changes a route's counts does, ingest aside. Paths that
// read only the watermark, the stats or which routes exist take mu.
func (t *tenantState) lock() {
	t.mu.Lock()
	t.flushPending()
}

// rawEntry is what tenantState.raw knows of a series: its seriesHash, and
// its state for the first source that reads its metric (nil when none).
// IngestWrite uses s only while s.key is the key of h for that source.
type rawEntry struct {
	h uint64
	s *series
}

// maxRaw bounds tenantState.raw.
const maxRaw = 1 << 20

// maxIgnored bounds tenantState.ignored; when full it is cleared.
const maxIgnored = 1 << 20

func newTenantState(t Tenant, nsrc, nsvc int) *tenantState {
	ts := &tenantState{
		id:      t,
		wm:      noData,
		head:    noHead,
		series:  make(map[uint64]*series),
		ignored: make(map[uint64]struct{}),
		targets: make(map[uint64]*target),
		routes:  make([]map[string]*route, nsrc),
	}
	for i := range ts.routes {
		ts.routes[i] = make(map[string]*route)
	}
	ts.svcs = make([]map[string]*svcState, nsvc)
	for i := range ts.svcs {
		ts.svcs[i] = make(map[string]*svcState)
	}
	return ts
}

// route is one route of one source of a tenant: its identity, objective,
// maintenance masks and time buckets.
type route struct {
	// The fields that counting a point reads or writes come first,
	// followed by the buckets, whose first fields are the ring's length
	// and head: a point touches the route's first two cache lines only.

	// newest is the newest accepted point of the route's series (ms); the
	// route is forgotten when it is older than the tenant watermark minus
	// ro.forgetAfter (ms), the longest its compliance window can be.
	newest int64
	// first is the earliest first point of the route's series (ms) as
	// told to EngineConfig.NewRoute: math.MaxInt64 for a route created
	// here until one is accepted, 0 (never told) for a route of a
	// snapshot, which replays from the snapshot on.
	first int64
	// svcs are the service SLIs the route belongs to.
	svcs []*svcState
	// pend holds the contributions that addEvents deferred to the
	// minutes of the tenant head's block (see deferEvents): good and
	// total of its minute i at pend[i]. All zero when there are none.
	pend [pendMinutes][2]uint32
	b    buckets

	src *Source
	key string // identity values joined by 0xff (unambiguous)
	// labels are the identity labels in src.RouteLabels order (absent
	// labels have value ""); name is their values joined by "/". Both are
	// immutable and shared with RouteStatus.
	labels []Label
	name   string
	ro     *routeObjective // shared by the routes of the same objective
	masks  []Mask          // the current masks that match appendMaskLabels
	series []*series
}

// newSeries classifies a series not seen before for source si and creates
// its state, or records it as ignored and returns nil. Slow path: it
// allocates.
func (t *tenantState) newSeries(e *Engine, si int, key uint64, labels []Label) *series {
	src := &e.sources[si]
	class, ok := countedClass(src, labels)
	var r *route
	if ok {
		r = t.routeFor(e, si, labels)
	}
	if r == nil {
		if len(t.ignored) >= maxIgnored {
			clear(t.ignored)
		}
		t.ignored[key] = struct{}{}
		return nil
	}
	tg := t.targetFor(labels, e.index.Load().epochs[si])
	s := &series{route: r, target: tg, key: key, class: class, tidx: int32(len(tg.series))}
	tg.series = append(tg.series, s)
	r.series = append(r.series, s)
	t.series[key] = s
	return s
}

// countedClass returns the class of a series, or false when its source
// does not count it (classify, then the source's filter).
func countedClass(src *Source, labels []Label) (seriesClass, bool) {
	class, ok := classify(src, labels)
	if !ok {
		return class, false
	}
	for name, re := range src.Filter {
		if !re.MatchString(labelOr(labels, name)) {
			return class, false
		}
	}
	return class, true
}

// classify returns the class of a series, or false when its source does
// not count it: a latency bucket other than LE and +Inf, or an le that is
// no number.
func classify(src *Source, labels []Label) (seriesClass, bool) {
	if src.Kind != Latency {
		if src.Bad != nil && src.Bad.MatchString(labelOr(labels, src.StatusLabel)) {
			return classBad, true
		}
		return classGood, true
	}
	le, err := strconv.ParseFloat(labelOr(labels, "le"), 64) // "+Inf" parses
	switch {
	case err != nil:
		return 0, false
	case le == src.LE && math.IsInf(le, 1):
		return classGood, true // LE=+Inf: every request is good
	case le == src.LE:
		return classLatencyGood, true
	case math.IsInf(le, 1):
		return classLatencyTotal, true
	}
	return 0, false
}

// labelOr returns the value of label name, "" when absent.
func labelOr(labels []Label, name string) string {
	for i := range labels {
		if labels[i].Name == name {
			return labels[i].Value
		}
	}
	return ""
}

// routeFor returns the route of a series of source si, creating it when
// new; nil when the source has MaxRoutes routes in this tenant already.
func (t *tenantState) routeFor(e *Engine, si int, labels []Label) *route {
	src := &e.sources[si]
	var kb strings.Builder
	for i, name := range src.RouteLabels {
		if i > 0 {
			kb.WriteByte(0xff)
		}
		kb.WriteString(labelOr(labels, name))
	}
	key := kb.String()
	if r := t.routes[si][key]; r != nil {
		return r
	}
	maxRoutes := src.MaxRoutes
	if maxRoutes <= 0 {
		maxRoutes = defaultMaxRoutes
	}
	if len(t.routes[si]) >= maxRoutes {
		t.stats.RoutesRefused++
		return nil
	}
	if !e.caps.addRoute() {
		t.stats.RoutesRefusedTotal++
		return nil
	}
	// The identity values are the key's substrings: no copy of their own.
	ident := make([]Label, len(src.RouteLabels))
	vals := make([]string, len(src.RouteLabels))
	off := 0
	for i, name := range src.RouteLabels {
		n := len(labelOr(labels, name))
		vals[i] = key[off : off+n]
		off += n + 1
		ident[i] = Label{Name: name, Value: vals[i]}
	}
	r := &route{src: src, key: key, labels: ident, name: strings.Join(vals, "/")}
	r.setObjective(e.objectiveFor(src, ident), *e.masks.Load())
	r.b.init(e.ringLen, layoutFor(r.ro.obj))
	r.newest = t.wm
	r.first = math.MaxInt64
	r.svcs = t.servicesFor(e, r)
	t.routes[si][key] = r
	t.sorted = nil
	return r
}

// objectiveFor resolves the objective of a route of src with identity
// labels ident; a rolling window shorter than a minute gets the default.
func (e *Engine) objectiveFor(src *Source, ident []Label) *routeObjective {
	obj := DefaultObjective(src)
	if e.resolve != nil {
		obj = e.resolve(src, ident)
	}
	if obj.Window.Kind == slo.Rolling && obj.Window.Length < time.Minute {
		obj.Window = DefaultObjective(src).Window
	}
	return e.objectives.get(obj)
}

// setObjective gives r (src, labels and name set) the objective ro and
// the masks of all that match it.
func (r *route) setObjective(ro *routeObjective, all []Mask) {
	r.ro = ro
	var buf [16]Label
	r.masks = matchMasks(all, r.appendMaskLabels(buf[:0]))
}

// appendMaskLabels appends what masks match to dst: identity labels,
// contract labels, then source, slo and route. They are put together when
// masks are matched (a window set or changed, a new route), not kept with
// every route.
func (r *route) appendMaskLabels(dst []Label) []Label {
	dst = append(dst, r.labels...)
	dst = append(dst, r.ro.obj.Contract...)
	return append(dst,
		Label{Name: "source", Value: r.src.Name},
		Label{Name: "slo", Value: r.ro.obj.Name},
		Label{Name: "route", Value: r.name})
}

// routeObjective is a route's objective and what is derived from it. The
// routes of one objective share one (objectives.get): a copy in every
// route was about 200 bytes of heap per route.
type routeObjective struct {
	obj Objective
	// windowLabel is obj.Window.Label(), the compliance window's name.
	windowLabel string
	// forgetAfter is WindowMaxLength(obj.Window) in ms.
	forgetAfter int64
}

// objectiveCache hands out the routeObjective of an objective, the same one
// for equal objectives among the last maxObjectives distinct ones.
type objectiveCache struct {
	mu   sync.Mutex
	list []*routeObjective
}

// maxObjectives bounds the objectives remembered; beyond it (objectives
// per route, or many reloads) the list starts over, and routes that
// resolved before keep theirs.
const maxObjectives = 256

func (o *objectiveCache) get(obj Objective) *routeObjective {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.list) - 1; i >= 0; i-- {
		if sameObjective(&o.list[i].obj, &obj) {
			return o.list[i]
		}
	}
	ro := &routeObjective{obj: obj, windowLabel: obj.Window.Label(), forgetAfter: WindowMaxLength(obj.Window).Milliseconds()}
	if len(o.list) >= maxObjectives {
		o.list = o.list[:0]
	}
	o.list = append(o.list, ro)
	return ro
}

// sameObjective reports whether a and b are the same objective, field by
// field.
func sameObjective(a, b *Objective) bool {
	return a.Name == b.Name && a.SLO == b.SLO && a.SLA == b.SLA && a.Window == b.Window && a.Slices == b.Slices &&
		slices.Equal(a.Contract, b.Contract) && slices.Equal(a.Credits, b.Credits)
}

// WindowMaxLength is the longest a compliance window can be: a calendar
// period's longest instance (plus an hour for a DST change). A rolling
// window is rounded up to whole hours.
func WindowMaxLength(w slo.Window) time.Duration {
	const day = 24 * time.Hour
	if w.Kind != slo.Calendar {
		return (w.Length + time.Hour - 1) / time.Hour * time.Hour
	}
	switch w.Period {
	case slo.PeriodWeek:
		return 7*day + time.Hour
	case slo.PeriodQuarter:
		return 92*day + time.Hour
	case slo.PeriodYear:
		return 366*day + time.Hour
	}
	return 31*day + time.Hour
}

// matchMasks returns the masks that match labels, nil when none does.
func matchMasks(masks []Mask, labels []Label) []Mask {
	var out []Mask
	for _, m := range masks {
		if m.Matches(labels) {
			out = append(out, m)
		}
	}
	return out
}

// targetFor returns the target (job, instance) of a series of a source of
// epoch epoch (see sourceIndex.epochs).
func (t *tenantState) targetFor(labels []Label, epoch uint64) *target {
	key := hashString(hashString(wyhash.P1, labelOr(labels, "job"))^wyhash.P3, labelOr(labels, "instance"))
	if epoch != 0 {
		key = wyhash.Mix(key^epoch, wyhash.P2)
	}
	tg := t.targets[key]
	if tg == nil {
		tg = &target{key: key, earliest: math.MaxInt64}
		t.targets[key] = tg
	}
	return tg
}

// forgetStale drops the routes (and their series) whose newest data is
// older than the watermark minus their compliance window's longest length.
// A forgotten route that gets data again starts afresh. It returns the
// number of routes forgotten.
func (t *tenantState) forgetStale() (n int) {
	if t.wm == noData {
		return 0
	}
	forgot := false
	for _, routes := range t.routes {
		for k, r := range routes {
			if r.newest >= t.wm-r.ro.forgetAfter {
				continue
			}
			delete(routes, k)
			r.leaveServices()
			n++
			for _, s := range r.series {
				delete(t.series, s.key)
				t.detach(s)
			}
			t.stats.RoutesForgotten++
			t.sorted = nil
			forgot = true
		}
	}
	if forgot {
		clear(t.ignored)
		t.raw.reset() // it may hold states just dropped
	}
	t.forgetServices()
	return n
}

// detach removes s from its target, and the target when it has no series
// left.
func (t *tenantState) detach(s *series) {
	tg := s.target
	last := len(tg.series) - 1
	moved := tg.series[last]
	tg.series[s.tidx] = moved
	moved.tidx = s.tidx
	tg.series[last] = nil
	tg.series = tg.series[:last]
	if last == 0 {
		delete(t.targets, tg.key)
	}
}
