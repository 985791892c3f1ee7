package budget

// seriesHash is hand-written rather than xxhash (see "Series identity"
// below): with ingress-nginx's 13 hashed labels it takes 76 ns, xxhash of
// each name and value read in place 113 ns, xxhash of each label copied
// into a buffer 321 ns; Traefik's 6: 35, 51 and 149 ns. Medians of 6 runs
// on the 2-core machine of hash_compare_test.go:
//
//	go test ./budget -run '^$' -bench BenchmarkSeriesHashVsXxhash -benchmem
//
// Snapshots store the hash and the target keys built with hashString
// (targetFor), not the labels: another hash would drop the counting state
// of every snapshot taken before it.

import (
	"math"

	"github.com/slogate/slogate/internal/wyhash"
)

// Counting rules (the exact semantics of design.md, "Semantics that make the
// numbers exact"), applied per series to its TIME-SORTED points:
//
//   - Event time: a point's contribution counts in the minute of its own
//     timestamp, floor(ts / 60000).
//   - Delta: the contribution of a point is v - prev, prev being the value
//     of the point just before it in time; v < prev is a counter reset and
//     the contribution is v.
//   - First value: the series' earliest point contributes v in full iff it
//     is later than its target's start (a status code seen for the first
//     time at the start of an outage: those requests happened); otherwise
//     it is a baseline and contributes 0 (cold start, new target: a
//     long-running counter must not dump its history into one minute). The
//     target is the series' job and instance labels (absent = ""); its
//     start is the earliest first point of its series that have at least
//     two points (at distinct timestamps), of every source of the tenant;
//     refused (NaN, out of the time bounds) and too-old points do not
//     count. A series of one point does not set the start: one stray
//     sample of a new series, at whatever timestamp, is a baseline or
//     counted in full itself and changes nothing for the other series.
//     The rule is order-independent: when a reordered point (or a
//     series' second point) moves a target's start earlier, series of that
//     target whose first point was a baseline and is now later than the
//     target's start are re-counted in full.
//   - Duplicates: a point whose timestamp the series already has counts
//     zero, whatever its value (retried blocks count zero).
//   - Reordering: a point older than the series' newest but within its
//     history of the last historyLen points is inserted in place; its
//     successor's delta is recomputed and the difference moves between the
//     two minutes. A point older than the whole history counts zero and
//     changes nothing (EngineStats.TooOld): the later points' deltas
//     already include its increments. While the history still holds the
//     series' first point, an older point becomes the new first point.
//
// Class: an availability series is good or bad by its status label; its
// contributions go to total, and to good unless bad. A latency series is
// the bucket le=LE (contributions are good) or le=+Inf (total); le is
// compared as a number ("0.50" is 0.5), other buckets are not counted.
//
// Values: NaN (staleness markers included), ±Inf and negative values are
// ignored (EngineStats.NaN). Event time is bounded by the clock: samples
// later than Now()+MaxFuture (EngineStats.Future) or older than
// Now()-LongestWindow-MinuteHorizon (EngineStats.Past) are refused. None of
// them moves the watermark or a target's start, and a series is created
// (and its route) only by an accepted sample: one sample at timestamp 0
// must not make a target's start the epoch and have the first values of
// its other series re-counted in full, nor a flood of strays fill the
// route table.

// historyLen is K, the number of most recent points a series keeps for
// reordering.
const historyLen = 8

// point is one accepted sample: ts in Unix ms, v a whole counter value.
type point struct {
	ts int64
	v  uint64
}

// seriesClass says where a series' contributions go.
type seriesClass uint8

const (
	classGood         seriesClass = iota // availability, good status: good and total
	classBad                             // availability, bad status: total only
	classLatencyGood                     // le = LE: good only
	classLatencyTotal                    // le = +Inf: total only
)

// split turns a contribution d into good and total increments.
func (c seriesClass) split(d int64) (good, total int64) {
	switch c {
	case classGood:
		return d, d
	case classBad:
		return 0, d
	case classLatencyGood:
		return d, 0
	}
	return 0, d
}

// series is the state of one series for one source. It holds no strings:
// labels are only read when the series is created.
type series struct {
	route  *route
	target *target
	key    uint64 // key in tenantState.series
	tidx   int32  // index in target.series
	class  seriesClass
	n      uint8 // points in hist
	// firstFull records whether first contributed its value in full (true)
	// or was a baseline.
	firstFull bool
	// first is the series' earliest point; hist holds the newest n points,
	// ascending by ts. hist[0] == first while the history holds it.
	first point
	hist  [historyLen]point
}

// target is a scrape target, job and instance, of one tenant: the scope of
// the first-value rule.
type target struct {
	key uint64
	// earliest is the target's start: the earliest first point of its
	// series that have two points or more (math.MaxInt64 when none). It
	// only moves earlier.
	earliest int64
	series   []*series
}

// counterDelta is the contribution of a point of value v after a point of
// value prev.
func counterDelta(prev, v uint64) uint64 {
	if v >= prev {
		return v - prev
	}
	return v // reset
}

// ingestPoint applies one accepted point of series s. The common case, a
// point newer than every point the series has, is the fast path.
func (t *tenantState) ingestPoint(s *series, p point) {
	if p.ts > t.wm {
		t.wm = p.ts
		if h := floorDiv64(p.ts, minuteMs); h != t.head {
			if floorDiv64(h, pendMinutes) != floorDiv64(t.head, pendMinutes) {
				t.flushPending() // the head leaves the block: see deferEvents
			}
			t.head = h
		}
	}
	if p.ts > s.route.newest {
		s.route.newest = p.ts
	}
	n := int(s.n)
	if n > 0 && p.ts > s.hist[n-1].ts {
		d := counterDelta(s.hist[n-1].v, p.v)
		if n < historyLen {
			s.hist[n] = p
			s.n++
		} else {
			copy(s.hist[:], s.hist[1:])
			s.hist[historyLen-1] = p
		}
		t.stats.SamplesCounted++
		if d != 0 {
			t.addEvents(s, p.ts, int64(d))
		}
		if n == 1 { // a second point: the series' first now counts for its target's start
			t.lowerEarliest(s.target, s.first.ts)
		}
		return
	}
	t.ingestOutOfOrder(s, p)
}

// ingestOutOfOrder handles a series' first point, duplicates, and points
// older than the series' newest.
func (t *tenantState) ingestOutOfOrder(s *series, p point) {
	n := int(s.n)
	if n == 0 {
		s.first, s.hist[0], s.n = p, p, 1
		t.stats.SamplesCounted++
		s.firstFull = s.target.earliest < p.ts
		if s.firstFull && p.v != 0 {
			t.addEvents(s, p.ts, int64(p.v))
		}
		return
	}
	if p.ts == s.first.ts {
		t.stats.Duplicates++
		return
	}
	i := 0 // index of the first history point newer than p
	for i < n && s.hist[i].ts < p.ts {
		i++
	}
	if i < n && s.hist[i].ts == p.ts {
		t.stats.Duplicates++
		return
	}
	if i == 0 {
		if s.hist[0].ts != s.first.ts {
			t.stats.TooOld++
			return
		}
		t.stats.SamplesCounted++
		t.stats.Reorders++
		t.prependFirst(s, p)
		s.insert(0, p)
		return
	}
	// pred < p < succ: p gets delta(pred, p); succ's delta changes from
	// delta(pred, succ) to delta(p, succ).
	pred, succ := s.hist[i-1], s.hist[i]
	t.stats.SamplesCounted++
	t.stats.Reorders++
	d := int64(counterDelta(pred.v, p.v))
	fix := int64(counterDelta(p.v, succ.v)) - int64(counterDelta(pred.v, succ.v))
	if floorDiv64(p.ts, minuteMs) == floorDiv64(succ.ts, minuteMs) {
		// One minute takes both changes: their sum, which is zero unless
		// the counter reset between pred and succ. (Apart, the minute
		// would saturate at the 32-bit count in between: at over 4
		// billion events a minute per route.)
		d, fix = d+fix, 0
	}
	if d != 0 {
		t.addEvents(s, p.ts, d)
	}
	if fix != 0 {
		t.addEvents(s, succ.ts, fix)
	}
	s.insert(i, p)
}

// prependFirst makes p, older than the series' first point, the new first
// point: the old first point's contribution changes from its first-value
// contribution to delta(p, old), and p is counted by the first-value rule.
// The series has two points or more now: p counts for its target's start.
func (t *tenantState) prependFirst(s *series, p point) {
	old := s.first
	was := int64(0)
	if s.firstFull {
		was = int64(old.v)
	}
	if now := int64(counterDelta(p.v, old.v)); now != was {
		t.addEvents(s, old.ts, now-was)
	}
	// s is a baseline until the target is updated: lowerEarliest then skips
	// it (its first.ts is not later than the new earliest).
	s.first, s.firstFull = p, false
	t.lowerEarliest(s.target, p.ts)
	s.firstFull = s.target.earliest < p.ts
	if s.firstFull && p.v != 0 {
		t.addEvents(s, p.ts, int64(p.v))
	}
}

// insert puts p at index i of the history, keeping the newest historyLen
// points: a full history drops its oldest point (p itself when i == 0).
func (s *series) insert(i int, p point) {
	n := int(s.n)
	if n < historyLen {
		copy(s.hist[i+1:n+1], s.hist[i:n])
		s.hist[i] = p
		s.n++
		return
	}
	if i == 0 {
		return
	}
	copy(s.hist[:i-1], s.hist[1:i])
	s.hist[i-1] = p
}

// lowerEarliest records a point at ts for target tg. When ts is earlier than
// the target's start, series of the target whose first point was a
// baseline and is later than ts are re-counted in full (rare: a reordered
// block at a target's start).
func (t *tenantState) lowerEarliest(tg *target, ts int64) {
	if ts >= tg.earliest {
		return
	}
	tg.earliest = ts
	for _, o := range tg.series {
		if o.firstFull || o.n == 0 || o.first.ts <= ts {
			continue
		}
		o.firstFull = true
		t.stats.FirstValueFixups++
		if o.first.v != 0 {
			t.addEvents(o, o.first.ts, int64(o.first.v))
		}
	}
}

// addEvents adds contribution d (negative to move events away) of series s
// to the minute of ts.
func (t *tenantState) addEvents(s *series, ts int64, d int64) {
	g, n := s.class.split(d)
	r := s.route
	m := floorDiv64(ts, minuteMs)
	if len(r.svcs) == 0 && r.b.head != noHead && r.b.ringLen > 2*pendMinutes &&
		floorDiv64(m, pendMinutes) == floorDiv64(t.head, pendMinutes) {
		if d > 0 {
			t.deferEvents(r, m, g, n)
			return
		}
		if t.cancelDeferred(r, m, g, n) {
			return
		}
	}
	t.flushRoute(r)
	t.applyEvents(r, m, g, n)
}

// Deferred contributions. Most points are in order and count in the
// tenant's head minute, where a route's counts take several cache lines
// that are cold by the route's next point (the ring's meta word and
// minute words, the hour sums). So addEvents keeps a route's positive
// contributions to the minutes of the head's block of pendMinutes
// minutes in the route itself (route.pend), and applies them once: when
// the head leaves the block (ingestPoint), before any other change of the
// route's counts (addEvents), and before anyone else reads or changes
// them (tenantState.lock). Applied then, they give exactly the counts that
// applying them one by one gives:
//   - A minute's count saturates at 2^32-1 whether positive contributions
//     are added one by one or summed first (addSat32), so the deferred sums
//     saturate there too (addSat32 of a count and 2^32-1 is 2^32-1), and
//     the hour sums get the same change.
//   - The route's ring is advanced to the tenant's head first, as it would
//     have been, at the latest, by the next contribution: advancing is
//     the same in one step or several, and the block's minutes are still
//     in the ring (ringLen > 2*pendMinutes), where their exclusion bits
//     were set when the head reached them.
//   - A route whose ring has not advanced yet, which sets where it
//     starts, and routes of services, whose minutes sum the changes of
//     their routes in the order they come, are not deferred.
//
//   - A negative change (a reordered point moving events from its
//     successor's minute to its own) is taken off the deferred sums only
//     where that gives the same counts (cancelDeferred); otherwise the
//     route's sums are applied first and the change with them.
//
// The deferred minutes are always those of the head's block, so the route
// does not keep which they are; whether it has any is whether its sums
// are non-zero, so it keeps no flag either. Both would take the route into
// a larger size class of the Go heap. (A route whose sums were cancelled
// to zero may be listed in pending twice; its second flush applies
// nothing.)

// pendMinutes is the length of a block of deferred minutes.
const pendMinutes = 2

// maxPending bounds tenantState.pending; when full it is flushed.
const maxPending = 1 << 16

// pendBase returns the first minute of the block of deferred minutes.
func (t *tenantState) pendBase() int64 {
	return floorDiv64(t.head, pendMinutes) * pendMinutes
}

// deferEvents adds the positive contribution g, n to minute m, of the
// head's block, of route r for later.
func (t *tenantState) deferEvents(r *route, m, g, n int64) {
	if r.pend == [pendMinutes][2]uint32{} {
		if len(t.pending) >= maxPending {
			t.flushPending()
		}
		t.pending = append(t.pending, r)
	}
	p := &r.pend[m-t.pendBase()]
	p[0] = uint32(addSat32(uint64(p[0]), g))
	p[1] = uint32(addSat32(uint64(p[1]), n))
}

// cancelDeferred takes the negative contribution g, n to minute m, of the
// head's block, of route r off the deferred sums of that minute, and
// reports whether it could: a reordered point moves events from its
// successor's minute to its own, and the successor's contribution is
// usually still deferred. It can when the deferred sums cover the change
// and neither the sums nor the minute's counts plus the sums reach
// 2^32-1: applying the sums and then the change one by one never clamps
// or saturates then, so taking the change off the sums gives the same
// counts. A minute the route's ring has not reached yet holds nothing.
func (t *tenantState) cancelDeferred(r *route, m, g, n int64) bool {
	p := &r.pend[m-t.pendBase()]
	pg, pn := int64(p[0]), int64(p[1])
	if pg+g < 0 || pn+n < 0 || pg == math.MaxUint32 || pn == math.MaxUint32 {
		return false
	}
	if m <= r.b.head && m >= r.b.ringStart() {
		cg, cn := r.b.ring.get(m)
		if cg+uint64(pg) >= math.MaxUint32 || cn+uint64(pn) >= math.MaxUint32 {
			return false
		}
	}
	p[0], p[1] = uint32(pg+g), uint32(pn+n)
	t.cancels++
	return true
}

// flushRoute applies the deferred contributions of r.
func (t *tenantState) flushRoute(r *route) {
	base := t.pendBase()
	for i := range r.pend {
		if p := &r.pend[i]; p[0]|p[1] != 0 {
			g, n := int64(p[0]), int64(p[1])
			*p = [2]uint32{}
			t.applyEvents(r, base+int64(i), g, n)
		}
	}
}

// flushPending applies the deferred contributions of every route.
func (t *tenantState) flushPending() {
	for _, r := range t.pending {
		t.flushRoute(r)
	}
	clear(t.pending)
	t.pending = t.pending[:0]
}

// applyEvents adds g, n to minute m of route r's counts.
func (t *tenantState) applyEvents(r *route, m, g, n int64) {
	if r.b.head < t.head {
		r.b.advance(t.head, r.masks, &t.scratch, nil)
	}
	dg, dn, ok := r.b.add(m, g, n, r.masks, &t.scratch)
	if !ok {
		t.stats.Expired++
		return
	}
	if len(r.svcs) > 0 {
		t.propagate(r, m, dg, dn)
	}
}

// Series identity. seriesHash hashes the tenant and the set of labels,
// except __name__: a source reads one metric, and the series key adds the
// source (seriesKey). The label order does not matter: each label is
// hashed on its own and the label hashes are summed. Remote write senders
// sort labels, but VictoriaMetrics' export (the replay after a restart)
// and other senders need not keep the same order, and a series must keep
// its identity across them or its counter would be counted twice.
// Collisions of 64-bit hashes are ignored.
//
// The hash is wyhash-style (the construction of wyhash v4 and of Go's
// runtime fallback hash): each string is read in place, 4, 8 or 16 bytes
// at a time, and folded into the state with a 64x64->128-bit multiply,
// its length included. It reads the strings where they are (see the
// figures at the top of the file). It is not meant to resist crafted
// collisions (nor is xxhash). Its values are stable across processes and
// platforms: they may be persisted (TestSeriesHashStable pins them).
func seriesHash(t Tenant, labels []Label) uint64 {
	var sum uint64
	n := 0
	for i := range labels {
		if len(labels[i].Name) == len("__name__") && labels[i].Name == "__name__" {
			continue
		}
		h := hashString(wyhash.P2, labels[i].Name)
		h = hashString(h^wyhash.P3, labels[i].Value) // P3 marks a value
		sum += wyhash.Mix(h^wyhash.P0, wyhash.P1)
		n++
	}
	tenant := uint64(t.AccountID)<<32 | uint64(t.ProjectID)
	return wyhash.Mix(sum^tenant^wyhash.P0, uint64(n)^wyhash.P1)
}

// hashString folds s, with its length, into state h. The result also
// depends on h directly (feed-forward), so a product of zero does not
// erase what came before.
func hashString(h uint64, s string) uint64 {
	n := len(s)
	var a, b uint64
	switch {
	case n == 0:
	case n < 4:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	case n <= 8:
		a, b = load32(s), load32(s[n-4:])
	case n <= 16:
		a, b = load64(s), load64(s[n-8:])
	default:
		for t := s; len(t) > 16; t = t[16:] {
			h = wyhash.Mix(load64(t)^wyhash.P1, load64(t[8:])^h)
		}
		a, b = load64(s[n-16:]), load64(s[n-8:])
	}
	// The length goes through its own multiply: xored into the data word
	// it would collide strings whose data words differ by the same bits
	// as their lengths ("ab" and "abb" read the same three bytes).
	return wyhash.Mix(a^wyhash.P1, b^wyhash.Mix(h^uint64(n), wyhash.P2)^wyhash.P0) ^ h
}

// load32 and load64 read little-endian words; the compiler turns them into
// single loads.
func load32(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
