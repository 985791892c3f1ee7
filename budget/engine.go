package budget

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slogate/slogate/internal/arena"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/slo"
)

// EngineConfig configures NewEngine. Every zero field takes the default
// written next to it.
type EngineConfig struct {
	// Sources are the enabled SLI sources. The engine keeps its own copy of
	// the slice; the Sources themselves (regexps) must not change afterwards.
	Sources []Source
	// Services are the service-level objectives (see Service), in the
	// order EvaluateServices lists them. Like Sources, they must not
	// change afterwards.
	Services []Service
	// Resolve returns the objective of a newly discovered route of src;
	// route holds the route's identity labels in src.RouteLabels order
	// (values already cloned; Resolve may keep the slice). It runs once per
	// new route under the tenant's lock. Default: DefaultObjective(src).
	Resolve func(src *Source, route []Label) Objective
	// Release turns the internal budget into a release state. Zero fields
	// default to Caution 0.25 and FreezeBurnRate1h 14.4.
	Release slo.ReleasePolicy
	// MinuteHorizon is how far back, behind the tenant watermark, counts
	// stay minute-exact: maintenance windows can still be changed there and
	// late samples still land in their own minute. Default 72h; it is never
	// less than 72h, so that the 3d burn window is always minute-exact.
	// See ringMinutes for the exact ring length.
	MinuteHorizon time.Duration
	// MaxFuture refuses samples with a timestamp later than Now()+MaxFuture
	// (they are counted in EngineStats.Future). Default 10m.
	MaxFuture time.Duration
	// MaxRoutes caps the routes of all tenants and sources together; a new
	// route beyond it is refused (EngineStats.RoutesRefusedTotal), as one
	// beyond its source's MaxRoutes in its tenant is. Default 100,000.
	MaxRoutes int
	// MaxTenants caps the tenants with state; the series of a new tenant
	// beyond it are not counted (EngineStats.TenantsRefused). Default
	// 1,000.
	MaxTenants int
	// LongestWindow is the longest compliance window a route can have (a
	// calendar period's longest instance, see WindowMaxLength). Samples
	// older than Now()-LongestWindow-MinuteHorizon are ignored (counted in
	// EngineStats.Past): no window and no maintenance change can use them.
	// Default 100 days and an hour, the longest window package slo admits;
	// Reload takes the new value over.
	LongestWindow time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Yield, when set, is called by an evaluation (AppendStatus, Evaluate)
	// between chunks of evalChunk routes, with no lock held. An
	// evaluation of many routes is a long stretch of CPU work; on one P
	// (GOMAXPROCS=1) nothing else runs meanwhile, not even the write
	// handlers whose network events are ready, unless it gives way: Yield
	// is where it does (see synthetic.Pacer). It must not call the
	// engine's evaluation. Only NewEngine takes it; Reload keeps the
	// engine's.
	Yield func()
	// NewRoute, when set, is told of every route an Ingest call created
	// (once a point of it is accepted), and again when a reordered point
	// moves the route's first event earlier, before that call returns,
	// under the tenant's lock: it must be quick and must not call the
	// engine. The route journal uses it (see NewRoute). Only NewEngine
	// takes it; Reload keeps the engine's.
	NewRoute func(NewRoute)
}

// Engine defaults.
const (
	defaultMinuteHorizon = 72 * time.Hour
	defaultMaxFuture     = 10 * time.Minute
	defaultLongestWindow = 100*24*time.Hour + time.Hour
	defaultMaxRoutes     = 10_000
	defaultMaxRoutesAll  = 100_000
	defaultMaxTenants    = 1_000
	defaultCaution       = 0.25
	defaultFreezeBurn1h  = 14.4
)

func (c *EngineConfig) defaults() {
	if c.MinuteHorizon < defaultMinuteHorizon {
		c.MinuteHorizon = defaultMinuteHorizon
	}
	if c.MaxFuture <= 0 {
		c.MaxFuture = defaultMaxFuture
	}
	if c.LongestWindow <= 0 {
		c.LongestWindow = defaultLongestWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxRoutes <= 0 {
		c.MaxRoutes = defaultMaxRoutesAll
	}
	if c.MaxTenants <= 0 {
		c.MaxTenants = defaultMaxTenants
	}
	if c.Release.Caution == 0 {
		c.Release.Caution = defaultCaution
	}
	if c.Release.FreezeBurnRate1h == 0 {
		c.Release.FreezeBurnRate1h = defaultFreezeBurn1h
	}
}

// ringMinutes is the length of every route's minute ring: the minute
// horizon, plus MaxFuture rounded up to whole minutes, plus two minutes.
// The ring ends at the tenant watermark's minute; MaxFuture lets the
// watermark run ahead of Now(), and the slack keeps the whole 3d window
// minute-exact for an evaluation at Now() (or up to one minute earlier)
// even then.
func ringMinutes(horizon, maxFuture time.Duration) int64 {
	h := int64((horizon + time.Minute - 1) / time.Minute)
	f := int64((maxFuture + time.Minute - 1) / time.Minute)
	return h + f + 2
}

// Engine counts SLI events per route in event-time buckets and evaluates
// error budgets. It is safe for concurrent use: Wants is lock-free, each
// tenant has its own mutex, Ingest and Evaluate of one tenant serialize on
// it.
type Engine struct {
	// sources, resolve and release change only in Reload, which holds mu,
	// cfgMu and every tenant's lock: read them under a tenant's lock, mu
	// or cfgMu.
	sources  []Source
	services []Service
	resolve  func(src *Source, route []Label) Objective
	release  slo.ReleasePolicy
	// objectives are the routes' resolved objectives, shared.
	objectives objectiveCache
	// index maps metric names to source indexes; Reload swaps it (while it
	// holds every tenant's lock), so Wants reads it without a lock.
	index   atomic.Pointer[sourceIndex]
	ringLen int64 // minutes in a route's minute ring
	maxFut  int64 // MaxFuture in ms
	horizon int64 // MinuteHorizon in ms
	now     func() time.Time
	// newRoute is EngineConfig.NewRoute (nil when unset).
	newRoute func(NewRoute)
	// yield is EngineConfig.Yield (a no-op when unset).
	yield func()
	// cfgMu serializes Reload, AppendState and LoadState: the sources do
	// not change while a snapshot is written.
	cfgMu sync.Mutex
	// nextEpoch is the epoch the next sources that start counting get
	// (guarded by cfgMu; see sourceIndex.epochs).
	nextEpoch uint64

	// maxAge is LongestWindow+MinuteHorizon in ms; Reload changes it.
	maxAge atomic.Int64
	// futureLimit, lateLimit and pastLimit cache Now()+MaxFuture,
	// Now()-lateMs and Now()-maxAge (ms); see inTime.
	futureLimit, lateLimit, pastLimit atomic.Int64

	// masks is the current []Mask; SetMasks swaps it, route discovery reads it.
	masks atomic.Pointer[[]Mask]
	// tenants maps Tenant -> *tenantState, copy-on-write under mu, so that
	// the ingest path finds its tenant without a lock.
	tenants atomic.Pointer[map[Tenant]*tenantState]
	mu      sync.Mutex // serializes tenant creation and SetMasks
	// lastTenant is the tenant Ingest found last.
	lastTenant atomic.Pointer[tenantState]
	// caps (caps.go): the routes of every tenant and the tenants.
	caps engineCaps
}

// NewEngine returns an engine with no tenants and no maintenance masks.
func NewEngine(cfg EngineConfig) *Engine {
	cfg.defaults()
	e := &Engine{
		sources:  slices.Clone(cfg.Sources),
		services: slices.Clone(cfg.Services),
		resolve:  cfg.Resolve,
		release:  cfg.Release,
		ringLen:  ringMinutes(cfg.MinuteHorizon, cfg.MaxFuture),
		maxFut:   cfg.MaxFuture.Milliseconds(),
		horizon:  cfg.MinuteHorizon.Milliseconds(),
		now:      cfg.Now,
		caps:     engineCaps{maxRoutes: int64(cfg.MaxRoutes), maxTenants: cfg.MaxTenants},
		newRoute: cfg.NewRoute,
		yield:    cfg.Yield,
	}
	if e.yield == nil {
		e.yield = func() {}
	}
	e.maxAge.Store(cfg.LongestWindow.Milliseconds() + e.horizon)
	e.index.Store(newSourceIndex(e.sources, make([]uint64, len(e.sources))))
	e.nextEpoch = 1
	empty := map[Tenant]*tenantState{}
	e.tenants.Store(&empty)
	e.masks.Store(new([]Mask))
	e.futureLimit.Store(math.MinInt64)
	e.lateLimit.Store(math.MaxInt64)
	return e
}

// Wants reports whether a metric name is read by any source. It is called
// for every series on the wire: lock-free, no allocation.
func (e *Engine) Wants(metricName []byte) bool {
	_, ok := e.index.Load().byMetric[string(metricName)]
	return ok
}

// maxSourcesPerMetric bounds the per-call series states Ingest keeps on
// its stack; further sources reading the same metric are ignored.
const maxSourcesPerMetric = 8

// Ingest counts the samples of one series. labels include __name__; their
// strings may alias a buffer reused after Ingest returns. Samples may come
// in any order; see series.go for the counting rules. Series of metrics no
// source reads are ignored at the cost of one map lookup.
func (e *Engine) Ingest(t Tenant, labels []Label, samples []Sample) {
	if len(samples) == 0 {
		return
	}
	ix := e.index.Load()
	name := metricNameOf(labels)
	srcs := ix.byMetric[name]
	if len(srcs) == 0 {
		return
	}
	h := seriesHash(t, labels)
	ts := e.tenant(t)
	if ts == nil {
		e.caps.tenantsRefused.Add(1)
		return
	}

	ts.mu.Lock()
	defer ts.mu.Unlock()
	if cur := e.index.Load(); cur != ix { // Reload ran meanwhile: use its sources
		if srcs = cur.byMetric[name]; len(srcs) == 0 {
			return
		}
	}
	fresh := false
	_, _ = e.ingestLocked(ts, t, srcs, h, &labelsOf{labels: labels}, samples, &fresh)
}

// IngestWrite counts the series of a scanned remote write, as Ingest
// would one by one, under one lock of the tenant and with at most one
// clock reading for the event-time bounds. A series of a lazy scan
// (remotewrite.WriteRequest.Lazy) is found by the hash of its label
// fields on the wire (SeriesKey.Raw, which the tenant maps to the series
// hash); its labels are decoded only the first time the tenant sees those
// fields.
func (e *Engine) IngestWrite(t Tenant, series []remotewrite.TimeSeries) {
	ts := e.tenant(t)
	if ts == nil {
		ix := e.index.Load()
		for i := range series {
			if len(series[i].Samples) > 0 && len(ix.byMetric[seriesName(&series[i])]) > 0 {
				e.caps.tenantsRefused.Add(1)
			}
		}
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ix := e.index.Load() // Reload swaps it under every tenant's lock: it stays
	fresh := false
	var name string
	var srcs []uint16
	named, decoded := false, false
	// A large raw table, the series' states and their routes do not stay
	// in the cache between scrapes: ask for the slot of the series 24
	// ahead, for the state of the one 16 ahead, whose slot is in by now,
	// and for the route of the one 8 ahead. A small one stays.
	pf := len(ts.raw.slots) >= prefetchSlots
	for i := range series {
		s := &series[i]
		if pf {
			if j := i + prefetchSlot; j < len(series) && series[j].Key.Lazy() {
				ts.raw.prefetch(series[j].Key.Raw)
			}
			if j := i + prefetchState; j < len(series) && series[j].Key.Lazy() {
				ts.raw.prefetchState(series[j].Key.Raw, false)
			}
			if j := i + prefetchRoute; j < len(series) && series[j].Key.Lazy() {
				ts.raw.prefetchState(series[j].Key.Raw, true)
			}
		}
		if len(s.Samples) == 0 {
			continue
		}
		// Writes are mostly a scrape's series in order: the metric of
		// the last series is the likely one.
		if n := seriesName(s); !named || n != name {
			name, srcs, named = n, ix.byMetric[n], true
		}
		if len(srcs) == 0 {
			continue
		}
		lab := labelsOf{series: s, buf: &ts.labelBuf}
		if !s.Key.Lazy() {
			used, _ := e.ingestLocked(ts, t, srcs, seriesHash(t, s.Labels), &lab, s.Samples, &fresh)
			decoded = used || decoded
			continue
		}
		ent, ok := ts.raw.get(s.Key.Raw)
		if ok && ent.s != nil && len(srcs) == 1 && ent.s.key == seriesKey(ent.h, srcs[0]) {
			// A known series of a metric one source reads: its state
			// without a second lookup.
			e.countOne(ts, t, ent.s, s.Samples, &fresh)
			continue
		}
		if !ok {
			ent.h = seriesHash(t, lab.get())
			decoded = true
			if ts.raw.len() >= maxRaw {
				ts.raw.reset()
			}
		}
		used, s0 := e.ingestLocked(ts, t, srcs, ent.h, &lab, s.Samples, &fresh)
		decoded = used || decoded
		if !ok || (s0 != nil && s0 != ent.s) {
			ent.s = s0
			ts.raw.set(s.Key.Raw, ent)
		}
	}
	if decoded {
		// The labels alias the write's buffer: do not keep it alive.
		clear(ts.labelBuf[:cap(ts.labelBuf)])
		ts.labelBuf = ts.labelBuf[:0]
	}
}

// How far ahead IngestWrite asks for the raw table's slot of a series, for
// its state and for its route (see package prefetch): far enough for
// memory to answer while the series in between are counted.
// IngestWrite prefetches for a tenant of at least prefetchSlots raw table
// slots (24 bytes each: 16,384 slots, 384 KiB, hold 12,288 series).
const (
	prefetchSlot  = 24
	prefetchState = 16
	prefetchRoute = 8
	prefetchSlots = 1 << 14
)

// labelsOf gives ingestLocked the labels of a series: labels, or those of
// series, decoded into *buf on first use.
type labelsOf struct {
	labels []Label
	series *remotewrite.TimeSeries
	buf    *[]Label
}

func (l *labelsOf) get() []Label {
	if l.series != nil {
		*l.buf = l.series.AppendLabels((*l.buf)[:0])
		l.labels, l.series = *l.buf, nil
	}
	return l.labels
}

// ingestLocked counts the samples of the series of hash h, read by the
// sources srcs, under ts.mu. It reports whether it needed the labels, and
// returns the series' state for srcs[0] (nil when there is none).
func (e *Engine) ingestLocked(ts *tenantState, t Tenant, srcs []uint16, h uint64, lab *labelsOf, samples []Sample, fresh *bool) (used bool, s0 *series) {
	var states [maxSourcesPerMetric]*series
	n := 0
	stray := false // a new series without an accepted sample: not created
	for j, si := range srcs[:min(len(srcs), maxSourcesPerMetric)] {
		key := seriesKey(h, si)
		s := ts.series[key]
		if s == nil {
			if _, ok := ts.ignored[key]; ok {
				continue
			}
			labels := lab.get()
			used = true
			if !e.anyAccepted(samples, fresh) {
				// Its refused samples count in the stats if the source
				// would count the series.
				if _, ok := countedClass(&e.sources[si], labels); ok {
					stray = true
				}
				continue
			}
			if s = ts.newSeries(e, int(si), key, labels); s == nil {
				continue
			}
		}
		if j == 0 {
			s0 = s
		}
		states[n] = s
		n++
	}
	if n == 0 && !stray {
		return used, s0
	}
	e.countLocked(ts, t, states[:n], samples, fresh)
	return used, s0
}

// countOne is countLocked of a series one source reads.
func (e *Engine) countOne(ts *tenantState, t Tenant, s *series, samples []Sample, fresh *bool) {
	states := [1]*series{s}
	e.countLocked(ts, t, states[:], samples, fresh)
}

// countLocked counts samples, the samples of one series, for its states
// (one per source that reads it; none for a stray), under ts.mu.
func (e *Engine) countLocked(ts *tenantState, t Tenant, states []*series, samples []Sample, fresh *bool) {
	for _, smp := range samples {
		v, ok := counterValue(smp.Value)
		if !ok {
			ts.stats.NaN++
			continue
		}
		switch e.inTime(smp.Timestamp, fresh) {
		case tooLate:
			ts.stats.Future++
			continue
		case tooEarly:
			ts.stats.Past++
			continue
		}
		for _, s := range states {
			ts.ingestPoint(s, point{ts: smp.Timestamp, v: v})
		}
	}
	if e.newRoute != nil {
		e.reportFirstEvents(t, states)
	}
}

// metricNameOf returns the value of __name__ ("" when absent). Senders put
// it first, so that is checked first.
func metricNameOf(labels []Label) string {
	if len(labels) > 0 && labels[0].Name == "__name__" {
		return labels[0].Value
	}
	for i := range labels {
		if labels[i].Name == "__name__" {
			return labels[i].Value
		}
	}
	return ""
}

// seriesName returns the metric name of a scanned series.
func seriesName(s *remotewrite.TimeSeries) string {
	if s.Key.Lazy() {
		return s.Key.Name
	}
	return metricNameOf(s.Labels)
}

// seriesKey is the key of a series' state for one source: a series read by
// two sources has two states.
func seriesKey(h uint64, src uint16) uint64 {
	return h ^ uint64(src)*0x9e3779b97f4a7c15
}

// counterValue converts a sample value to a whole counter value. NaN
// (including the staleness marker 0x7ff0000000000002), ±Inf and negative
// values are not counter values. Request counters are whole numbers; a
// fractional value is rounded to the nearest integer, and values are capped
// at 2^62 so that deltas fit int64.
func counterValue(f float64) (uint64, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	f = math.Round(f)
	if f >= 1<<62 {
		return 1 << 62, true
	}
	return uint64(f), true
}

// tenant returns the state of t, creating it on first use; nil when t is
// new and MaxTenants are known.
func (e *Engine) tenant(t Tenant) *tenantState {
	if ts := e.lastTenant.Load(); ts != nil && ts.id == t {
		return ts // most writes come from one tenant: no map lookup
	}
	if ts := (*e.tenants.Load())[t]; ts != nil {
		e.lastTenant.Store(ts)
		return ts
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := *e.tenants.Load()
	if ts := old[t]; ts != nil {
		return ts
	}
	if len(old) >= e.caps.maxTenants {
		return nil
	}
	ts := newTenantState(t, len(e.sources), len(e.services))
	m := make(map[Tenant]*tenantState, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[t] = ts
	e.tenants.Store(&m)
	return ts
}

// lookupTenant returns the state of t or nil.
func (e *Engine) lookupTenant(t Tenant) *tenantState {
	return (*e.tenants.Load())[t]
}

// Tenants returns every tenant with state, ordered by AccountID, ProjectID.
func (e *Engine) Tenants() []Tenant {
	m := *e.tenants.Load()
	out := make([]Tenant, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Tenant) int {
		if a.AccountID != b.AccountID {
			return cmpU32(a.AccountID, b.AccountID)
		}
		return cmpU32(a.ProjectID, b.ProjectID)
	})
	return out
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Watermark returns the tenant's largest accepted SLI sample timestamp
// (Unix ms), or 0 when the tenant has none.
func (e *Engine) Watermark(t Tenant) int64 {
	ts := e.lookupTenant(t)
	if ts == nil {
		return 0
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.wm == noData {
		return 0
	}
	return ts.wm
}

// SetMasks replaces the maintenance masks. Every route first folds the
// minutes that already left its minute ring under the old masks (they are
// final), then its exclusions inside the ring are recomputed from scratch
// under the new ones: adding, shortening and deleting a window all act
// retroactively within the minute horizon. The engine keeps its own copy
// of the slice; the masks must be immutable.
func (e *Engine) SetMasks(masks []Mask) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ms := slices.Clone(masks)
	e.masks.Store(&ms)
	for _, ts := range *e.tenants.Load() {
		ts.lock()
		ts.advanceAll()
		var buf []Label
		for _, routes := range ts.routes {
			for _, r := range routes {
				buf = r.appendMaskLabels(buf[:0])
				matched := matchMasks(ms, buf)
				if len(matched) == 0 && len(r.masks) == 0 {
					continue
				}
				r.masks = matched
				ts.recomputeRoute(r)
			}
		}
		ts.mu.Unlock()
	}
}

// EngineStats are the engine's counters for self-metrics. All but Routes
// and Series are monotonic.
type EngineStats struct {
	// SamplesCounted are SLI points applied: in order or reordered.
	SamplesCounted uint64
	// Duplicates are points whose timestamp the series already had; they
	// count zero (retried blocks).
	Duplicates uint64
	// TooOld are points older than the series' reorder history; they count
	// zero and the later points' deltas already include them.
	TooOld uint64
	// Future are samples later than Now()+MaxFuture, refused.
	Future uint64
	// Past are samples older than Now()-LongestWindow-MinuteHorizon,
	// refused. Snapshots do not keep it: it starts at 0 in a new process.
	Past uint64
	// NaN are samples that are no counter value: NaN, staleness markers,
	// ±Inf, negative.
	NaN uint64
	// Expired are contributions to minutes older than the route's hour ring,
	// dropped.
	Expired uint64
	// RoutesRefused are series refused because their source reached
	// MaxRoutes for the tenant.
	RoutesRefused uint64
	// RoutesRefusedTotal are series refused because the engine reached
	// EngineConfig.MaxRoutes, and TenantsRefused series not counted
	// because their tenant is new and EngineConfig.MaxTenants are known.
	// Neither is kept in snapshots.
	RoutesRefusedTotal, TenantsRefused uint64
	// Reorders are out-of-order points inserted into the history and
	// attributed exactly.
	Reorders uint64
	// FirstValueFixups are series whose first value became "counted in
	// full" after a reordered point moved their target's start earlier.
	FirstValueFixups uint64
	// RoutesForgotten are routes dropped for having no data within their
	// compliance window.
	RoutesForgotten uint64
	// Routes and Series are the current numbers of routes and series
	// states (gauges).
	Routes, Series uint64
}

func (s *EngineStats) add(o *EngineStats) {
	s.SamplesCounted += o.SamplesCounted
	s.Duplicates += o.Duplicates
	s.TooOld += o.TooOld
	s.Future += o.Future
	s.Past += o.Past
	s.NaN += o.NaN
	s.Expired += o.Expired
	s.RoutesRefused += o.RoutesRefused
	s.RoutesRefusedTotal += o.RoutesRefusedTotal
	s.Reorders += o.Reorders
	s.FirstValueFixups += o.FirstValueFixups
	s.RoutesForgotten += o.RoutesForgotten
	s.Routes += o.Routes
	s.Series += o.Series
}

// Stats sums the counters of every tenant.
func (e *Engine) Stats() EngineStats {
	var out EngineStats
	for _, ts := range *e.tenants.Load() {
		ts.mu.Lock()
		st := ts.stats
		for _, routes := range ts.routes {
			st.Routes += uint64(len(routes))
		}
		st.Series = uint64(len(ts.series))
		ts.mu.Unlock()
		out.add(&st)
	}
	out.TenantsRefused = e.caps.tenantsRefused.Load()
	return out
}

// CountsMemory are the bytes of the engines' counts, which live outside
// the Go heap (package internal/arena): mapped from the system, resident
// (in spans that hold counts), used (in counts; the rest is free for
// reuse); and the garbage collections started to reuse what the storage
// replaced. One figure for every engine of the process.
type CountsMemory struct{ Mapped, Resident, Used, Collections int64 }

// ReadCountsMemory returns the process's CountsMemory.
func ReadCountsMemory() CountsMemory {
	f := arena.Stats()
	return CountsMemory{Mapped: f.Mapped, Resident: f.Resident, Used: f.Used, Collections: f.Collections}
}
