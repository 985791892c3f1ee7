package budget

import (
	"math"
	"slices"
	"strings"
)

// Reload (SIGHUP) and what it shares with LoadState: which sources keep
// their state across a configuration change, and how a route's buckets
// change size.
//
// A source keeps its routes' state when the new configuration has a source
// of the same name with the same counting rules (sourceSig): kind, metric,
// route labels, status label, bad statuses, LE and filter. Anything else
// would make the kept state wrong: series hold no labels, so they cannot
// be re-classified or re-filtered, and a route's key is made of its route
// labels' values. Such a source's routes and series are dropped and it
// starts empty, like a new source. MaxRoutes is no counting rule: a lower
// cap keeps the routes a tenant has (Reload) or the first ones in key order
// (LoadState), and refuses new ones.

// sourceIndex is the immutable metric index of a source list.
type sourceIndex struct {
	byMetric map[string][]uint16 // metric name -> source indexes
	metrics  []string            // sorted, unique
	// epochs holds per source when it started counting: 0 for the sources
	// of NewEngine, a new number for each Reload or LoadState that adds or
	// changes sources. Targets are per epoch (targetFor), because the
	// first-value rule takes a known target as proof that a series is new:
	// a source that starts counting later must not count the first value
	// of a series it never saw in full because its target is known from
	// other sources (that would put the counter's whole history into one
	// minute).
	epochs []uint64
}

func newSourceIndex(sources []Source, epochs []uint64) *sourceIndex {
	ix := &sourceIndex{byMetric: make(map[string][]uint16), epochs: epochs}
	for i := range sources {
		m := sources[i].Metric
		if len(ix.byMetric[m]) == 0 {
			ix.metrics = append(ix.metrics, m)
		}
		ix.byMetric[m] = append(ix.byMetric[m], uint16(i))
	}
	slices.Sort(ix.metrics)
	return ix
}

// Metrics returns the metric names the sources read, sorted (the series
// the restart replay exports from VictoriaMetrics). The slice is the
// caller's.
func (e *Engine) Metrics() []string {
	return slices.Clone(e.index.Load().metrics)
}

// sourceSig is what must be equal for a source's state to be kept.
type sourceSig struct {
	name, metric string
	kind         SLIKind
	routeLabels  []string
	statusLabel  string
	bad          string // the regexp's text; "" when nil
	le           uint64 // math.Float64bits(LE)
	filter       []Label
}

func signatureOf(src *Source) sourceSig {
	s := sourceSig{name: src.Name, metric: src.Metric, kind: src.Kind, routeLabels: src.RouteLabels,
		statusLabel: src.StatusLabel, le: math.Float64bits(src.LE)}
	if src.Bad != nil {
		s.bad = src.Bad.String()
	}
	for name, re := range src.Filter {
		s.filter = append(s.filter, Label{Name: name, Value: re.String()})
	}
	slices.SortFunc(s.filter, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return s
}

func (s *sourceSig) equal(o *sourceSig) bool {
	return s.name == o.name && s.metric == o.metric && s.kind == o.kind &&
		slices.Equal(s.routeLabels, o.routeLabels) && s.statusLabel == o.statusLabel &&
		s.bad == o.bad && s.le == o.le && slices.Equal(s.filter, o.filter)
}

// sourceMap returns, for each of the signatures old, the index of the
// source of sources with the same name and signature, or -1.
func sourceMap(old []sourceSig, sources []Source) []int {
	byName := make(map[string]int, len(sources))
	for i := len(sources) - 1; i >= 0; i-- { // the first of equal names wins
		byName[sources[i].Name] = i
	}
	out := make([]int, len(old))
	for i := range old {
		out[i] = -1
		if j, ok := byName[old[i].name]; ok {
			if sig := signatureOf(&sources[j]); sig.equal(&old[i]) {
				out[i] = j
			}
		}
	}
	return out
}

// Reload installs new sources, Resolve, Release and LongestWindow (the
// other fields of cfg are ignored: the minute horizon, MaxFuture and the
// clock stay) without losing state:
//   - routes of a source that is kept (same name and counting rules, see
//     above) keep their buckets and series, and get their objective from
//     the new Resolve; a changed compliance window resizes the hour ring,
//     keeping the newest hours that fit, and a longer one starts without
//     the hours it never had;
//   - routes and series of a removed or changed source are dropped;
//   - new sources start empty.
//
// Wants and Ingest see the new sources at once: the metric index is
// swapped while every tenant is locked, and Ingest re-reads it under its
// tenant's lock. Each tenant is locked for the time its routes take to
// re-resolve (see BenchmarkReload).
func (e *Engine) Reload(cfg EngineConfig) {
	cfg.defaults()
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	e.mu.Lock() // no SetMasks, no new tenant
	defer e.mu.Unlock()

	e.maxAge.Store(cfg.LongestWindow.Milliseconds() + e.horizon)
	e.refreshLimits()
	sources := slices.Clone(cfg.Sources)
	old := make([]sourceSig, len(e.sources))
	for i := range e.sources {
		old[i] = signatureOf(&e.sources[i])
	}
	remap := sourceMap(old, sources)
	epochs := make([]uint64, len(sources))
	for i := range epochs {
		epochs[i] = math.MaxUint64
	}
	oldEpochs := e.index.Load().epochs
	for oi, ni := range remap {
		if ni >= 0 {
			epochs[ni] = oldEpochs[oi]
		}
	}
	e.assignEpochs(epochs)
	tenants := *e.tenants.Load()
	for _, ts := range tenants {
		ts.lock()
	}
	e.sources, e.resolve, e.release = sources, cfg.Resolve, cfg.Release
	oldServices := e.services
	e.services = slices.Clone(cfg.Services)
	e.index.Store(newSourceIndex(sources, epochs))
	masks := *e.masks.Load()
	for _, ts := range tenants {
		ts.advanceAll() // minutes that left the rings are final under the old objectives
		ts.remap(e, remap, masks)
		ts.regroup(e, oldServices)
		ts.mu.Unlock()
	}
	e.recountRoutes()
}

// assignEpochs gives the sources whose epoch is MaxUint64 (they start
// counting) the next epoch. cfgMu is held.
func (e *Engine) assignEpochs(epochs []uint64) {
	used := false
	for i := range epochs {
		if epochs[i] == math.MaxUint64 {
			epochs[i], used = e.nextEpoch, true
		}
	}
	if used {
		e.nextEpoch++
	}
}

// remap moves t to the sources of e: remap[i] is the new index of old
// source i, or -1 when its state is dropped. Kept series are re-keyed
// (their key includes the source index). t.mu is held.
func (t *tenantState) remap(e *Engine, remap []int, masks []Mask) {
	old := t.routes
	t.routes = make([]map[string]*route, len(e.sources))
	for i := range t.routes {
		t.routes[i] = make(map[string]*route)
	}
	series := make(map[uint64]*series, len(t.series))
	for oi, routes := range old {
		ni := remap[oi]
		for k, r := range routes {
			if ni < 0 {
				for _, s := range r.series {
					t.detach(s)
				}
				continue
			}
			r.src = &e.sources[ni]
			r.setObjective(e.objectiveFor(r.src, r.labels), masks)
			if lay := layoutFor(r.ro.obj); !lay.same(r.b.lay) {
				r.b = r.b.relayout(r.b.ringLen, lay, r.masks, &t.scratch)
			} else {
				r.b.recomputeExclusion(r.masks, &t.scratch)
			}
			t.routes[ni][k] = r
			for _, s := range r.series {
				s.key = seriesKey(s.key^seriesKey(0, uint16(oi)), uint16(ni))
				series[s.key] = s
			}
		}
	}
	t.series = series
	clear(t.ignored) // keyed by the old indexes, and a new source may count them
	t.raw.reset()    // it may hold states just dropped
	t.sorted = nil
}

// relayout returns b's counts in new buckets of ringLen minutes and
// folded units lay, ringLen at most b.ringLen. Minutes that leave a
// shorter ring are folded as advance folds them (b changes; they need b's
// exclusion bits). Folded units are kept where the new units hold them:
// on the same grid unit by unit (the newest that fit), on another grid
// each old unit goes to the new unit of its first minute (an hour becomes
// part of a day; a day stays a day). Slice verdicts are kept when the
// slices stay the same, else the slices start afresh. b's raw sums must
// be current; nb's exclusion bits and other sums are derived from its
// counts and masks.
func (b *buckets) relayout(ringLen int64, lay *foldLayout, masks []Mask, scratch *[]Interval) buckets {
	var nb buckets
	nb.init(ringLen, lay)
	if b.head == noHead {
		return nb
	}
	start := b.head - ringLen + 1
	if ringLen < b.ringLen {
		b.recycleUnits(b.unitOf(start - 1))
		for m := b.ringStart(); m < start; m++ {
			b.fold(m, false)
		}
	}
	nb.head, nb.unitHead = b.head, nb.unitOf(start-1)
	keepSlices := lay.sl.len > 0 && lay.sl.len == b.lay.sl.len && lay.sl.phase == b.lay.sl.phase
	sameGrid := lay.unit == b.lay.unit && sameLoc(lay.loc, b.lay.loc)
	for u := b.unitHead - b.unitLen + 1; u <= b.unitHead; u++ {
		old := b.unitAt(u)
		nu := u
		if !sameGrid {
			nu = nb.unitOf(b.unitStart(u))
		}
		if nu <= nb.unitHead-nb.unitLen || nu > nb.unitHead {
			continue
		}
		w := nb.unitAt(nu)
		og, on := b.unitGet(old)
		ng, nn := nb.unitGet(w)
		nb.unitSet(w, ng+og, nn+on)
		if keepSlices {
			for k := range 3 {
				nb.sl.add(3*w+k, b.sl.get(3*old+k))
			}
		}
	}
	if keepSlices {
		nb.pend, nb.fin = b.pend, b.fin
	}
	nb.born, nb.origin = b.born, b.origin
	if ringLen == b.ringLen { // the same layout: no need to add up again
		nb.ring, nb.hsum = b.ring, b.hsum // hexcl: recomputeExclusion below
		nb.ringRaw = b.ringRaw
	} else {
		for m := max(start, b.ringStart()); m <= b.head; m++ {
			if g, n := b.ring.get(m); g|n != 0 {
				nb.ring.set(m, g, n)
			}
		}
		nb.sumRing()
	}
	nb.foldRawGood, nb.foldRawTotal = b.foldRawGood, b.foldRawTotal
	nb.foldExclGood, nb.foldExclTotal = b.foldExclGood, b.foldExclTotal
	nb.sumUnits()
	nb.recomputeExclusion(masks, scratch)
	return nb
}

// sumRing derives the ring's raw sums (hsum, ringRaw) from its minutes.
func (b *buckets) sumRing() {
	b.hsum.reset()
	b.ringRaw = 0
	if b.head != noHead {
		for m := b.ringStart(); m <= b.head; m++ {
			if g, n := b.ring.get(m); g|n != 0 {
				hsumAdd(&b.hsum, b.hsumAt(m), g, n)
				b.ringRaw += g + n
			}
		}
	}
}

// sumUnits derives the unit ring's sums.
func (b *buckets) sumUnits() {
	b.unitsGood, b.unitsTotal = 0, 0
	for j := range int(b.unitLen) {
		g, n := b.unitGet(j)
		b.unitsGood += g
		b.unitsTotal += n
	}
}
