package budget

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/slogate/slogate/slo"
)

// LoadState replaces the state of every tenant in a snapshot made by
// AppendState (other tenants are kept). Each route gets its objective from
// the current Resolve (a changed compliance window resizes its hour ring,
// keeping the newest hours that fit) and the current masks: SetMasks may
// run before or after LoadState (before is exact even for a snapshot taken
// while Ingest ran; after is exact otherwise). Sources that are gone or count
// differently are dropped with their routes and series; a source's routes
// beyond its MaxRoutes are dropped, the first in key order kept; a route
// whose minute ring is longer than the engine's folds the minutes that do
// not fit, one whose ring is shorter keeps it.
//
// Corrupt or truncated input is an error, and then nothing changes. Call it
// before the engine serves writes: samples of a snapshot's tenants ingested
// before LoadState are lost.
func (e *Engine) LoadState(data []byte) error {
	body, err := stateBody(data)
	if err != nil {
		return err
	}
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	e.mu.Lock() // SetMasks waits: the masks read here stay current
	defer e.mu.Unlock()
	d := &stateDecoder{r: stateReader{b: body, size: len(body)}, e: e, masks: *e.masks.Load(), version: data[len(stateMagic)]}
	states, err := d.decode()
	if err != nil {
		return fmt.Errorf("cannot load state: %w", err)
	}
	epochs := make([]uint64, len(e.sources))
	for i := range epochs {
		epochs[i] = math.MaxUint64
	}
	for si, ni := range d.remap {
		if ni >= 0 {
			epochs[ni] = d.epochs[si]
		}
		e.nextEpoch = max(e.nextEpoch, d.epochs[si]+1)
	}
	e.assignEpochs(epochs)
	e.index.Store(newSourceIndex(e.sources, epochs))
	old := *e.tenants.Load()
	m := maps.Clone(old)
	for _, n := range states {
		ts := old[n.id]
		if ts == nil {
			m[n.id] = n
			continue
		}
		ts.lock()
		ts.wm, ts.head, ts.series, ts.targets, ts.routes, ts.stats = n.wm, n.head, n.series, n.targets, n.routes, n.stats
		ts.svcs, ts.sortedSvcs = n.svcs, nil
		clear(ts.ignored)
		ts.sorted = nil
		ts.mu.Unlock()
	}
	e.tenants.Store(&m)
	e.recountRoutes()
	return nil
}

// minStateInflate is what any snapshot body may decompress to.
const minStateInflate = 1 << 30

// stateBody checks the header of a snapshot and returns its body,
// decompressed.
func stateBody(data []byte) ([]byte, error) {
	if len(data) < len(stateMagic)+2 || string(data[:len(stateMagic)]) != stateMagic {
		return nil, errors.New("cannot load state: not an engine state")
	}
	if v := data[len(stateMagic)]; v != stateVersion && v != 1 {
		return nil, fmt.Errorf("cannot load state: format version %d, this slogate reads %d", v, stateVersion)
	}
	body := data[len(stateMagic)+2:]
	switch c := data[len(stateMagic)+1]; c {
	case codecNone:
		return body, nil
	case codecZstd:
		// A body compresses about 5 times, but routes with the same
		// counts every minute (probes, constant test traffic) compress far
		// more, and a snapshot must never be refused for that: it would
		// start the engine empty. So any body may inflate to
		// minStateInflate, a large one to 1024 times its size; that still
		// stops a hostile frame from inflating into tens of gigabytes. It
		// must admit the window (stateWindow).
		limit := min(max(uint64(len(body))*1024, minStateInflate)+4*stateWindow, 1<<36)
		zr, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(limit), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("cannot load state: cannot create a zstd reader: %w", err)
		}
		defer zr.Close()
		raw, err := zr.DecodeAll(body, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot load state: cannot decompress: %w", err)
		}
		return raw, nil
	default:
		return nil, fmt.Errorf("cannot load state: unknown codec %d", c)
	}
}

// stateDecoder decodes a body into tenant states (not yet installed).
type stateDecoder struct {
	r       stateReader
	e       *Engine
	masks   []Mask
	remap   []int       // snapshot source index -> engine source index or -1
	sigs    []sourceSig // the snapshot's sources
	epochs  []uint64    // and their epochs
	scratch buckets     // routes of another size, or dropped, are decoded here
	iv      []Interval
	version byte // of the snapshot's format
}

// Minimum encoded sizes, for count checks.
const (
	minSourceBytes = 1 + 1 + 1 + 1 + 1 + 1 + 8 + 1 + 1
	minTenantBytes = 4 + 4 + 1 + 1 + 1 + 10 + 1
	minSeriesBytes = 8 + 8 + 1
)

func (d *stateDecoder) decode() ([]*tenantState, error) {
	r := &d.r
	d.sigs = make([]sourceSig, r.count(minSourceBytes))
	d.epochs = make([]uint64, len(d.sigs))
	for i := range d.sigs {
		d.sigs[i] = r.source()
		if d.epochs[i] = r.uvarint(); d.epochs[i] >= 1<<62 {
			r.fail("source epoch %d", d.epochs[i])
		}
	}
	d.remap = sourceMap(d.sigs, d.e.sources)
	out := make([]*tenantState, r.count(minTenantBytes))
	seen := make(map[Tenant]bool, len(out))
	for i := range out {
		ts := d.tenant()
		if r.err != nil {
			return nil, r.err
		}
		if seen[ts.id] {
			return nil, fmt.Errorf("tenant %d:%d twice", ts.id.AccountID, ts.id.ProjectID)
		}
		seen[ts.id] = true
		out[i] = ts
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the last tenant", len(r.b))
	}
	return out, r.err
}

// loadedSeries is a decoded series waiting for its target.
type loadedSeries struct {
	s      *series
	target uint64
}

// tenant decodes one tenant. Timestamps are checked against the trailer's
// watermark at the end, since the routes come first.
func (d *stateDecoder) tenant() *tenantState {
	r, e := &d.r, d.e
	ts := newTenantState(Tenant{AccountID: r.u32(), ProjectID: r.u32()}, len(e.sources), len(e.services))
	wm0 := r.ts(0, noData)
	var loaded []loadedSeries
	var maxHead, maxTs int64 = noHead, noData
	for r.err == nil {
		tag := r.u8()
		if tag == 0 {
			break
		}
		if tag != 1 {
			r.fail("route tag %d", tag)
			break
		}
		rt, head, newest := d.route(ts, wm0, &loaded)
		maxHead, maxTs = max(maxHead, head), max(maxTs, newest)
		if rt != nil {
			for _, s := range rt.series {
				if s.n > 0 {
					maxTs = max(maxTs, s.hist[s.n-1].ts)
				}
			}
		}
	}
	if d.version >= 2 {
		for range r.count(3) {
			d.service(ts, wm0)
		}
	}
	ts.wm = r.ts(wm0, noData)
	if ts.wm != noData {
		ts.head = floorDiv64(ts.wm, minuteMs)
	}
	if (maxTs != noData && maxTs > ts.wm) || maxHead > ts.head {
		r.fail("a route is newer than the tenant's watermark")
	}
	st := &ts.stats
	for _, p := range [...]*uint64{&st.SamplesCounted, &st.Duplicates, &st.TooOld, &st.Future, &st.NaN,
		&st.Expired, &st.RoutesRefused, &st.Reorders, &st.FirstValueFixups, &st.RoutesForgotten} {
		*p = r.uvarint()
	}
	for range r.count(9) {
		key := r.u64()
		if _, dup := ts.targets[key]; dup {
			r.fail("target %x twice", key)
		}
		ts.targets[key] = &target{key: key, earliest: r.ts(wm0, math.MaxInt64)}
	}
	if r.err != nil {
		return ts
	}
	d.linkTargets(ts, loaded)
	// Every route joins its services (those of a service that the
	// snapshot did not hold start now).
	for _, routes := range ts.routes {
		for _, rt := range routes {
			rt.svcs = ts.servicesFor(e, rt)
		}
	}
	for _, m := range ts.svcs {
		for _, sv := range m {
			ts.advanceService(sv)
			ts.rebuildServiceRing(sv)
		}
	}
	return ts
}

// service decodes one service SLI into ts, unless its service is gone or
// has other By labels.
func (d *stateDecoder) service(ts *tenantState, wm0 int64) {
	r, e := &d.r, d.e
	name := r.str()
	vals := make([]string, r.count(1))
	for i := range vals {
		vals[i] = r.str()
	}
	newest := r.ts(wm0, noData)
	i := slices.IndexFunc(e.services, func(s Service) bool { return s.Name == name })
	if r.err != nil || i < 0 || len(e.services[i].By) != len(vals) {
		d.decodeBuckets(nil, nil, nil, wm0)
		return
	}
	key := strings.Join(vals, "\xff")
	if ts.svcs[i][key] != nil {
		r.fail("service %s %q twice", name, key)
		return
	}
	def := &e.services[i]
	labels := make([]Label, len(vals))
	for j, v := range vals {
		labels[j] = Label{Name: def.By[j], Value: v}
	}
	obj := serviceObjective(def)
	sv := &svcState{def: i, key: key, labels: labels, obj: obj, windowLabel: obj.Window.Label(),
		newest: newest, forgetAfter: WindowMaxLength(obj.Window).Milliseconds()}
	d.decodeBuckets(&sv.b, layoutFor(obj), nil, wm0)
	ts.svcs[i][key] = sv
}

// linkTargets attaches the series to their targets, drops targets without
// series, and restores the first-value invariant: a target's earliest is
// at most the first point of each of its series of two points or more,
// and a series whose first point
// is later than its target's earliest counted it in full (a fix-up, as
// lowerEarliest makes; it only happens when Ingest ran while the snapshot
// was taken).
func (d *stateDecoder) linkTargets(ts *tenantState, loaded []loadedSeries) {
	for _, l := range loaded {
		tg := ts.targets[l.target]
		if tg == nil { // its target went with a route forgotten while the snapshot was taken
			tg = &target{key: l.target, earliest: math.MaxInt64}
			ts.targets[l.target] = tg
		}
		l.s.target, l.s.tidx = tg, int32(len(tg.series))
		tg.series = append(tg.series, l.s)
		if l.s.n > 1 { // the target's start: see target.earliest
			tg.earliest = min(tg.earliest, l.s.first.ts)
		}
	}
	for k, tg := range ts.targets {
		if len(tg.series) == 0 {
			delete(ts.targets, k)
		}
	}
	for _, l := range loaded {
		s := l.s
		if s.n > 0 && !s.firstFull && s.first.ts > s.target.earliest {
			s.firstFull = true
			ts.stats.FirstValueFixups++
			if s.first.v != 0 {
				ts.addEvents(s, s.first.ts, int64(s.first.v))
			}
		}
	}
}

// route decodes one route into ts, unless its source is dropped or at its
// cap; it returns the route (nil when dropped), its head and its newest
// point.
func (d *stateDecoder) route(ts *tenantState, wm0 int64, loaded *[]loadedSeries) (*route, int64, int64) {
	r, e := &d.r, d.e
	si := r.uvarint()
	if si >= uint64(len(d.sigs)) {
		r.fail("source %d of %d", si, len(d.sigs))
		return nil, noHead, noData
	}
	sig := &d.sigs[si]
	vals := make([]string, len(sig.routeLabels))
	for i := range vals {
		vals[i] = r.str()
	}
	newest := r.ts(wm0, noData)
	var rt *route
	ni := d.remap[si]
	if ni >= 0 && r.err == nil {
		src := &e.sources[ni]
		key := strings.Join(vals, "\xff")
		maxRoutes := src.MaxRoutes
		if maxRoutes <= 0 {
			maxRoutes = defaultMaxRoutes
		}
		switch {
		case ts.routes[ni][key] != nil:
			r.fail("route %q of source %s twice", key, src.Name)
		case len(ts.routes[ni]) < maxRoutes:
			ident := make([]Label, len(vals))
			for i, v := range vals {
				ident[i] = Label{Name: src.RouteLabels[i], Value: v}
			}
			rt = &route{src: src, key: key, labels: ident, name: strings.Join(vals, "/"), newest: newest}
			rt.setObjective(e.objectiveFor(src, ident), d.masks)
			ts.routes[ni][key] = rt
		}
	}
	head := d.buckets(rt, wm0)
	for range r.count(minSeriesBytes) {
		s, tk := d.series(wm0)
		if rt == nil || r.err != nil {
			continue
		}
		if src := rt.src; src.Kind == Availability && s.class > classBad || src.Kind == Latency && s.class == classBad {
			r.fail("series class %d of a %s source", s.class, src.Kind)
		}
		s.route, s.key = rt, seriesKey(s.key, uint16(ni))
		if ts.series[s.key] != nil {
			r.fail("series %x twice", s.key)
		}
		ts.series[s.key] = s
		rt.series = append(rt.series, s)
		*loaded = append(*loaded, loadedSeries{s, tk})
	}
	return rt, head, newest
}

// buckets decodes a route's buckets into rt.b (nil rt: decoded and
// dropped) and returns the ring's head.
func (d *stateDecoder) buckets(rt *route, wm0 int64) int64 {
	if rt == nil {
		return d.decodeBuckets(nil, nil, nil, wm0)
	}
	return d.decodeBuckets(&rt.b, layoutFor(rt.ro.obj), rt.masks, wm0)
}

// decodeBuckets decodes buckets into dst with layout want and exclusions
// from masks (nil dst: decoded and dropped) and returns the ring's head.
// Buckets stored with another ring length or layout are relaid out.
func (d *stateDecoder) decodeBuckets(dst *buckets, want *foldLayout, masks []Mask, wm0 int64) int64 {
	r := &d.r
	hv := r.uvarint()
	if hv == 0 {
		if dst != nil {
			dst.init(d.e.ringLen, want)
		}
		return noHead
	}
	hv--
	head := floorDiv64(wm0, minuteMs) + (int64(hv>>1) ^ -int64(hv&1))
	ringLen := int64(r.uvarint())
	lay := d.layout()
	switch {
	case r.err != nil:
		return noHead
	case head < -maxStateTs/minuteMs || head > maxStateTs/minuteMs:
		r.fail("ring head %d out of range", head)
		return noHead
	case ringLen < minStateRing || ringLen > maxStateRing || lay.n < 1 || lay.n > maxStateUnits:
		r.fail("ring of %d minutes, %d units", ringLen, lay.n)
		return noHead
	}
	wantRing := min(ringLen, d.e.ringLen)
	direct := dst != nil && ringLen == wantRing && storesAlike(lay, *want)
	b := &d.scratch
	if direct {
		b = dst
		b.init(ringLen, want)
	} else {
		b.init(ringLen, internLayout(lay))
	}
	b.head = head
	b.unitHead = b.unitOf(head - ringLen)
	rs := b.ringStart()
	d.runs(ringLen, math.MaxUint32, func(k int64, good, total uint64) {
		b.ring.set(rs+k, good, total)
		hsumAdd(&b.hsum, b.hsumAt(rs+k), good, total)
		b.ringRaw += good + total
	})
	for h := floorDiv64(rs, 60); h <= floorDiv64(head, 60)-2; h++ {
		b.ring.seal(h * 60) // as advance does
	}
	d.runs(lay.n, math.MaxUint64, func(k int64, good, total uint64) {
		b.unitSet(b.unitAt(b.unitHead-lay.n+1+k), good, total)
		b.unitsGood += good
		b.unitsTotal += total
	})
	if lay.sl.len > 0 {
		d.runs(lay.n, math.MaxUint64, func(k int64, sl, excl uint64) {
			j := 3 * b.unitAt(b.unitHead-lay.n+1+k)
			b.sl.set(j+sliceGood, sl&math.MaxUint32)
			b.sl.set(j+sliceBad, sl>>32)
			b.sl.set(j+sliceExcl, excl)
		})
		if pv := r.uvarint(); pv > 0 {
			pv--
			b.pend.start = floorDiv64(wm0, minuteMs) + (int64(pv>>1) ^ -int64(pv&1))
			b.pend.incl = int64(r.uvarint())
			b.pend.good, b.pend.total = r.uvarint(), r.uvarint()
			if b.pend.start > head || b.pend.start < head-ringLen-60 || b.pend.incl > lay.sl.len {
				r.fail("pending slice at %d", b.pend.start)
			}
		}
		b.fin = sliceTally{r.uvarint(), r.uvarint(), r.uvarint()}
	}
	if d.version >= 2 {
		m0 := floorDiv64(wm0, minuteMs)
		b.born, b.origin = m0+r.varint(), m0+r.varint()
		if b.born > head || b.origin > head || b.born < head-maxStateTs/minuteMs || b.origin < head-maxStateTs/minuteMs {
			r.fail("ring born at %d, counting from %d, head %d", b.born, b.origin, head)
		}
	} else {
		b.born, b.origin = head-ringLen+1, head-ringLen+1
	}
	b.foldRawGood, b.foldRawTotal = r.uvarint(), r.uvarint()
	b.foldExclGood, b.foldExclTotal = r.uvarint(), r.uvarint()
	switch {
	case dst == nil || r.err != nil:
	case direct:
		b.recomputeExclusion(masks, &d.iv)
	default:
		b.recomputeExclusion(masks, &d.iv) // relayout may fold: it needs the bits
		*dst = b.relayout(wantRing, want, masks, &d.iv)
	}
	return head
}

// layout decodes a bucket layout (version 1: an hour ring's length).
func (d *stateDecoder) layout() foldLayout {
	r := &d.r
	if d.version == 1 {
		return foldLayout{unit: 60, n: int64(r.uvarint())}
	}
	var l foldLayout
	switch u := r.uvarint(); u {
	case 0:
		name := r.str()
		loc, err := slo.LoadLocation(name)
		if err != nil {
			r.fail("unit time zone %q", name)
			return foldLayout{}
		}
		l.loc = loc
	case 60, 1440:
		l.unit = int64(u)
	default:
		r.fail("unit of %d minutes", u)
		return foldLayout{}
	}
	l.n = int64(r.uvarint())
	if sl := r.uvarint(); sl > 0 {
		if sl > 60 || 60%sl != 0 {
			r.fail("slice of %d minutes", sl)
			return foldLayout{}
		}
		l.sl.len = int64(sl)
		if l.sl.phase = int64(r.uvarint()); l.sl.phase >= 60 {
			r.fail("slice phase %d", l.sl.phase)
		}
	}
	return l
}

// runs decodes n run-coded elements, calling put for each non-zero one.
func (d *stateDecoder) runs(n int64, maxVal uint64, put func(k int64, good, total uint64)) {
	r := &d.r
	var prev uint64
	for k := int64(0); k < n && r.err == nil; {
		zeros, nz := r.uvarint(), r.uvarint()
		if zeros+nz == 0 || zeros > uint64(n-k) || nz > uint64(n-k)-zeros {
			r.fail("run of %d+%d elements, %d left", zeros, nz, n-k)
			return
		}
		if zeros > 0 {
			prev = 0
		}
		k += int64(zeros)
		for end := k + int64(nz); k < end && r.err == nil; k++ {
			total := prev + uint64(r.varint())
			good := total - uint64(r.varint())
			prev = total
			if total > maxVal || good > maxVal {
				r.fail("count %d/%d out of range", good, total)
			}
			put(k, good, total)
		}
	}
}

// series decodes a series; its key is the hash (without the source), and
// the target's key is returned.
func (d *stateDecoder) series(wm0 int64) (*series, uint64) {
	r := &d.r
	s := &series{key: r.u64()}
	tk := r.u64()
	flags := r.u8()
	s.class, s.firstFull, s.n = seriesClass(flags&3), flags&4 != 0, flags>>4
	inHist := flags&8 != 0
	if s.n > historyLen || s.n == 0 && (s.firstFull || inHist) {
		r.fail("series flags %#x", flags)
		return s, tk
	}
	if s.n == 0 {
		return s, tk
	}
	p := point{ts: r.ts(wm0, 0), v: r.uvarint()}
	s.hist[0] = p
	for j := 1; j < int(s.n); j++ {
		dt, dv := r.uvarint(), r.varint()
		if dt == 0 || dt > 2*maxStateTs {
			r.fail("series points not ascending")
		}
		p = point{ts: p.ts + int64(dt), v: p.v + uint64(dv)}
		s.hist[j] = p
	}
	s.first = s.hist[0]
	if !inHist {
		dt := r.uvarint()
		if dt == 0 || dt > 2*maxStateTs {
			r.fail("first point not before the history")
		}
		s.first = point{ts: s.hist[0].ts - int64(dt), v: r.uvarint()}
	}
	if s.first.ts < -maxStateTs || s.hist[s.n-1].ts > maxStateTs {
		r.fail("series timestamps out of range")
	}
	for _, q := range s.hist[:s.n] {
		if q.v > 1<<62 || s.first.v > 1<<62 {
			r.fail("counter value %d out of range", max(q.v, s.first.v))
		}
	}
	return s, tk
}
