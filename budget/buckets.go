package budget

import (
	"math"

	"github.com/slogate/slogate/internal/arena"
)

// Time buckets of one route.
//
// Minute ring: raw good/total counts of the last ringLen minutes, ending at
// the tenant watermark's minute (head), packed by hour (minuteRing).
// Counts are 32-bit per minute:
// request counters are whole numbers, and a route would need 71 million
// requests per second to overflow a minute; a count saturates rather than
// wraps. Each ring minute has an exclusion bit (maintenance), and each
// hour of the ring has partial sums (raw, and without excluded minutes),
// so that a 3d window is about 72 additions, not 4320.
//
// Folded units: counts without excluded minutes (packed, up to 64 bits)
// of older time,
// up to the compliance window, in units that fit the window (foldLayout):
// UTC hours for rolling windows up to 100 days, UTC days for longer rolling
// windows, and days in the window's time zone for calendar windows, so
// that a calendar boundary (a local midnight) is a unit boundary and the
// window stays minute-exact also at +5:30, +5:45 or across DST. When a
// minute leaves the minute ring it is folded into its unit with its
// exclusion applied; that is final: masks changed later do not reach it.
// Its raw and excluded counts go to the route's cumulative counters. Late
// contributions older than the minute ring go straight to their unit
// (mask applied at arrival); older than the unit ring they are dropped
// (EngineStats.Expired).
//
// Time slices (slices.go): a slice is judged when its last minute is
// folded, and its verdict is added to the unit of its first minute.

const (
	minuteMs = 60_000
	// noHead marks a route (or tenant) without data. It is far from the
	// int64 limits so that minute arithmetic on it cannot overflow.
	noHead = math.MinInt64 / 4
	// noData is the watermark of a tenant without data.
	noData = math.MinInt64
)

// sums are counts over a range of minutes.
type sums struct{ rawGood, rawTotal, good, total uint64 }

// buckets is the time storage of one route or service. All minute numbers
// are floor(Unix ms / 60000). The counts are packed by what they need
// (packed.go): a busy route's 30d ring takes about 7 KB, a quiet one's
// far less.
type buckets struct {
	ringLen int64       // minutes in the ring (R)
	head    int64       // newest minute of the ring; the ring is (head-R, head]
	ring    minuteRing  // raw good and total of the ring's minutes
	excl    arena.Words // exclusion bit of ring minute m at bit m mod R; nil: none yet
	nExcl   int32       // words of excl once needed
	anyExcl bool        // some exclusion bit may be set
	ringRaw uint64      // sum of raw good+total over the ring; 0 means empty
	// hsum holds 2 counts per ring hour h, at 2*(h mod nHour): raw good
	// and raw total; hexcl the same of the hour's excluded minutes, so
	// that the counts without them are the difference. hexcl takes no
	// words until a minute is excluded, and none again once the exclusions
	// are derived afresh without any (recomputeExclusion).
	hsum, hexcl packed
	nHour       int64

	// lay says what a folded unit is; the counts without excluded minutes
	// of unit u are at u mod unitLen: the total in units, total - good in
	// unitsBad (zigzag: good may exceed total); and with time slices the
	// unit's good, bad and excluded slices in sl at 3*(u mod unitLen).
	lay      *foldLayout
	units    packed
	unitsBad packed
	sl       packed
	unitLen  int64
	unitHead int64 // newest unit: the unit of head-R
	// unitsGood and unitsTotal are the sums over the unit ring, so that a
	// 30d window subtracts the few hours before its start instead of adding
	// 650.
	unitsGood, unitsTotal uint64
	// day caches the local day of the last minute unitOf looked up.
	day localDay

	// Cumulative counts of every folded minute and late contribution.
	foldRawGood, foldRawTotal, foldExclGood, foldExclTotal uint64

	// Time slices: pend is the slice being folded, fin the verdicts of
	// the slices folded so far that overlap [origin, ...). born is the
	// ring's start when it first advanced: slices before it were never
	// seen and count in windows as empty. origin is the first minute the
	// buckets count from: the head when they first advanced, or an
	// earlier minute that got events.
	pend         pendingSlice
	fin          sliceTally
	born, origin int64
}

// Word offsets within an hsum or hexcl entry.
const (
	hsGood = iota
	hsTotal
)

// init sizes the rings: ringLen minutes, and the unit ring of lay.
func (b *buckets) init(ringLen int64, lay *foldLayout) {
	nExcl := (ringLen + 63) / 64
	nHour := (ringLen+59)/60 + 1 // hours a ring of ringLen minutes can touch
	*b = buckets{ringLen: ringLen, unitLen: lay.n, lay: lay, head: noHead, unitHead: noHead, nHour: nHour}
	b.ring.init(int(nHour))
	b.nExcl = int32(nExcl)
	b.hsum, b.hexcl = newPacked(int(2*nHour)), newPacked(int(2*nHour))
	b.units, b.unitsBad = newPacked(int(lay.n)), newPacked(int(lay.n))
	if lay.sl.len > 0 {
		b.sl = newPacked(int(3 * lay.n))
	}
	b.pend.start = noHead
	b.day = localDay{num: noHead}
	b.born, b.origin = noHead, noHead
}

func (b *buckets) ringStart() int64 { return b.head - b.ringLen + 1 }

// hsumAt returns the index of the 2 hsum (and hexcl) counts of the hour
// of minute m: 2 times its slot in the ring.
func (b *buckets) hsumAt(m int64) int {
	return int(2 * floorMod64(floorDiv64(m, 60), b.nHour))
}

// hsumAdd adds g and n (mod 2^64) to the counts of entry j of p (hsum or
// hexcl).
func hsumAdd(p *packed, j int, g, n uint64) {
	p.add(j+hsGood, g)
	p.add(j+hsTotal, n)
}

// unitAt returns the index of folded unit u in units (2 counts) and sl
// (3 counts).
func (b *buckets) unitAt(u int64) int { return int(floorMod64(u, b.unitLen)) }

func (b *buckets) isExcl(i int64) bool { return b.excl.W != nil && b.excl.W[i>>6]&(1<<(i&63)) != 0 }

// unitGet returns the good and total counts of the unit at index j.
func (b *buckets) unitGet(j int) (good, total uint64) {
	total = b.units.get(j)
	z := b.unitsBad.get(j)
	return uint64(int64(total) - (int64(z>>1) ^ -int64(z&1))), total
}

// unitSet stores the good and total counts of the unit at index j.
func (b *buckets) unitSet(j int, good, total uint64) {
	d := int64(total - good)
	b.units.set(j, total)
	b.unitsBad.set(j, uint64(d<<1^d>>63))
}

// exclAt reports whether minute m is excluded: its bit when m is in the
// ring, else whether its start lies in an interval of masks.
func (b *buckets) exclAt(m int64, masks []Mask, scratch *[]Interval) bool {
	if b.head != noHead && m >= b.ringStart() && m <= b.head {
		return b.anyExcl && b.isExcl(floorMod64(m, b.ringLen))
	}
	return len(masks) > 0 && minuteMasked(masks, m, scratch)
}

// advance moves the ring's head to newHead (a later minute): minutes that
// leave the ring are folded, minutes that enter get their exclusion bits
// from masks. sv, for a service, tells whether a minute is excluded
// (every route of the service excludes it); nil for a route, whose
// exclusion bits tell, and for a service whose routes have no masks.
func (b *buckets) advance(newHead int64, masks []Mask, scratch *[]Interval, sv *svcState) {
	if newHead <= b.head {
		return
	}
	oldHead := b.head
	newStart := newHead - b.ringLen + 1
	if oldHead != noHead {
		rs := b.ringStart()
		b.recycleUnits(b.unitOf(newStart - 1))
		end := min(newStart, oldHead+1) // fold [rs, end)
		if b.ringRaw == 0 && !b.anyExcl && sv == nil {
			b.emptyMinutes(rs, end) // nothing to fold but empty minutes
		} else {
			for m := rs; m < end; m++ {
				b.fold(m, sv != nil && sv.excludedAt(m, scratch))
			}
		}
		// Minutes the watermark jumped over never were in the ring: they
		// are empty and not excluded.
		if newStart > oldHead+1 {
			b.emptyMinutes(oldHead+1, newStart)
		}
		// Blocks of hours that left the ring go; the hour before the
		// previous one is complete: its block is packed tight.
		startH, oldH, newH := floorDiv64(newStart, 60), floorDiv64(oldHead, 60), floorDiv64(newHead, 60)
		for h := max(floorDiv64(rs, 60), startH-b.nHour); h < startH; h++ {
			b.ring.release(h * 60)
		}
		for h := max(oldH-1, startH); h <= newH-2; h++ {
			b.ring.seal(h * 60)
		}
	} else {
		b.unitHead = b.unitOf(newStart - 1)
		b.born, b.origin = newStart, newHead
	}
	b.head = newHead
	if len(masks) > 0 {
		b.markExcluded(masks, max(oldHead+1, newStart), newHead, scratch)
	}
}

// recycleUnits moves the unit ring's head to uh, clearing the slots of
// the units that expire.
func (b *buckets) recycleUnits(uh int64) {
	for u := b.unitHead + 1; u <= uh && u <= b.unitHead+b.unitLen; u++ {
		j := b.unitAt(u)
		g, n := b.unitGet(j)
		b.unitsGood -= g
		b.unitsTotal -= n
		b.unitSet(j, 0, 0)
		if b.lay.sl.len > 0 {
			for k := range 3 {
				b.sl.set(3*j+k, 0)
			}
		}
	}
	b.unitHead = max(b.unitHead, uh)
}

// fold moves ring minute m into its unit (or the excluded counters) and
// clears it. svcEx says that a service's minute is excluded (every route
// of the service excludes it): it only decides the minute's slice, since a
// service's minutes hold no excluded events.
func (b *buckets) fold(m int64, svcEx bool) {
	i := floorMod64(m, b.ringLen)
	ex := b.anyExcl && b.isExcl(i)
	if ex {
		b.excl.W[i>>6] &^= 1 << (i & 63)
	}
	g, n := b.ring.get(m)
	if b.lay.sl.len > 0 {
		b.sliceMinute(m, ex || svcEx, g, n)
	}
	if g|n == 0 {
		return
	}
	// The minute stays in its block, never read again (minuteRing).
	hs := b.hsumAt(m)
	hsumAdd(&b.hsum, hs, -g, -n)
	b.ringRaw -= g + n
	b.foldRawGood += g
	b.foldRawTotal += n
	if ex {
		hsumAdd(&b.hexcl, hs, -g, -n)
		b.foldExclGood += g
		b.foldExclTotal += n
		return
	}
	b.addUnit(b.unitOf(m), int64(g), int64(n))
}

// addUnit adds to folded unit u; it reports false when u is older than the
// unit ring.
func (b *buckets) addUnit(u, g, n int64) bool {
	if u <= b.unitHead-b.unitLen {
		return false
	}
	j := b.unitAt(u)
	og, on := b.unitGet(j)
	ng, nn := addClamp64(og, g), addClamp64(on, n)
	b.unitSet(j, ng, nn)
	b.unitsGood += ng - og // mod 2^64, as in add
	b.unitsTotal += nn - on
	return true
}

// add adds g good and n total events (negative to move events away) to
// minute m, which must not be newer than head. It returns the change made
// (saturation and clamping applied in the ring) and false when m is older
// than the unit ring and the events were dropped.
func (b *buckets) add(m, g, n int64, masks []Mask, scratch *[]Interval) (dg, dn int64, ok bool) {
	if m < b.origin {
		b.origin = m
	}
	if m >= b.ringStart() {
		s, k := b.ring.slot(m) // the ring's slot s is hsum's entry s
		og, on := b.ring.blockAt(s).get(k)
		ng, nn := addSat32(og, g), addSat32(on, n)
		b.ring.setAt(s, k, ng, nn)
		// Apply the change actually made (saturation, clamping) to the sums.
		ug, un := ng-og, nn-on // mod 2^64: negative changes wrap, sums wrap back
		hs := 2 * s
		hsumAdd(&b.hsum, hs, ug, un)
		b.ringRaw += ug + un
		if b.anyExcl && b.isExcl(floorMod64(m, b.ringLen)) {
			hsumAdd(&b.hexcl, hs, ug, un)
		}
		return int64(ug), int64(un), true
	}
	u := b.unitOf(m)
	if u <= b.unitHead-b.unitLen {
		return 0, 0, false
	}
	b.foldRawGood = addClamp64(b.foldRawGood, g)
	b.foldRawTotal = addClamp64(b.foldRawTotal, n)
	if len(masks) > 0 && minuteMasked(masks, m, scratch) {
		b.foldExclGood = addClamp64(b.foldExclGood, g)
		b.foldExclTotal = addClamp64(b.foldExclTotal, n)
		return g, n, true
	}
	return g, n, b.addUnit(u, g, n)
}

// minuteMasked reports whether the start of minute m lies in an interval
// of one of masks.
func minuteMasked(masks []Mask, m int64, scratch *[]Interval) bool {
	start := m * minuteMs
	for _, mk := range masks {
		*scratch = mk.AppendIntervals((*scratch)[:0], start, start+minuteMs)
		for _, iv := range *scratch {
			if iv.Start <= start && start < iv.End {
				return true
			}
		}
	}
	return false
}

// markExcluded sets the exclusion bits of the ring minutes in [from, to]
// whose start lies in an interval of one of masks, taking their counts out
// of the hour sums.
func (b *buckets) markExcluded(masks []Mask, from, to int64, scratch *[]Interval) {
	from = max(from, b.ringStart())
	to = min(to, b.head)
	if from > to {
		return
	}
	for _, mk := range masks {
		*scratch = mk.AppendIntervals((*scratch)[:0], from*minuteMs, (to+1)*minuteMs)
		for _, iv := range *scratch {
			lo, end := iv.Minutes()
			for m := max(lo, from); m <= min(end-1, to); m++ {
				b.setExcl(m)
			}
		}
	}
}

func (b *buckets) setExcl(m int64) {
	i := floorMod64(m, b.ringLen)
	if b.isExcl(i) {
		return
	}
	if b.excl.W == nil {
		b.excl = arena.New(int(b.nExcl))
	}
	b.excl.W[i>>6] |= 1 << (i & 63)
	b.anyExcl = true
	g, n := b.ring.get(m)
	hsumAdd(&b.hexcl, b.hsumAt(m), g, n)
}

// recomputeExclusion derives every exclusion bit of the ring, and the hour
// sums without excluded minutes, from masks.
func (b *buckets) recomputeExclusion(masks []Mask, scratch *[]Interval) {
	clear(b.excl.W)
	b.anyExcl = false
	b.hexcl.words.Drop()
	b.hexcl = newPacked(int(2 * b.nHour))
	if b.head != noHead && len(masks) > 0 {
		b.markExcluded(masks, b.ringStart(), b.head, scratch)
	}
}

// ringSums sums the ring minutes in [a, e): whole hours from the hour
// sums, the minutes of partial hours one by one.
func (b *buckets) ringSums(a, e int64) sums {
	var s sums
	if b.head == noHead {
		return s
	}
	a = max(a, b.ringStart())
	e = min(e, b.head+1)
	if a >= e {
		return s
	}
	m := a
	if r := floorMod64(m, 60); r != 0 { // leading partial hour
		next := min(e, m+60-r)
		b.addMinutes(&s, m, next)
		m = next
	}
	if m+60 <= e {
		j := b.hsumAt(m)
		for ; m+60 <= e; m += 60 {
			g, n := b.hsum.get(j+hsGood), b.hsum.get(j+hsTotal)
			s.rawGood += g
			s.rawTotal += n
			s.good += g - b.hexcl.get(j+hsGood)
			s.total += n - b.hexcl.get(j+hsTotal)
			if j += 2; j == int(2*b.nHour) {
				j = 0
			}
		}
	}
	if m < e {
		b.addMinutes(&s, m, e)
	}
	return s
}

// addMinutes adds ring minutes [a, e) one by one.
func (b *buckets) addMinutes(s *sums, a, e int64) {
	i := floorMod64(a, b.ringLen)
	for m := a; m < e; {
		blk, k := b.ring.block(m)
		hi := min(e, m+60-int64(k))
		if blk.empty() {
			i = floorMod64(i+hi-m, b.ringLen)
			m = hi
			continue
		}
		for ; m < hi; m, k = m+1, k+1 {
			g, n := blk.get(k)
			s.rawGood += g
			s.rawTotal += n
			if !b.anyExcl || !b.isExcl(i) {
				s.good += g
				s.total += n
			}
			if i++; i == b.ringLen {
				i = 0
			}
		}
	}
}

// unitSpan returns the folded units [from, to] that count in a window
// [a, e): unit u counts iff it starts at or after a and its stored
// minutes (cut at the ring start) all lie before e. So the far edge of a
// long rolling window moves unit by unit once it is older than the minute
// ring, and a calendar window (a starts a local day) takes exactly its
// days.
func (b *buckets) unitSpan(a, e int64) (from, to int64) {
	rs := b.ringStart()
	if a >= rs { // every unit starts before the ring
		return b.unitHead + 1, b.unitHead
	}
	from = b.unitOf(a)
	if b.unitStart(from) < a {
		from++
	}
	from = max(from, b.unitHead-b.unitLen+1)
	to = b.unitHead
	if e < rs {
		to = min(to, b.unitOf(e)-1)
	}
	return from, to
}

// unitSums sums the events of the folded units [from, to].
func (b *buckets) unitSums(from, to int64) (good, total uint64) {
	if b.head == noHead || from > to {
		return 0, 0
	}
	oldest := b.unitHead - b.unitLen + 1
	if to == b.unitHead && from-oldest < to-from {
		// Subtract the older units from the ring's sums.
		g, n := b.unitRange(oldest, from)
		return b.unitsGood - g, b.unitsTotal - n
	}
	return b.unitRange(from, to+1)
}

// unitRange sums the events of units [from, to).
func (b *buckets) unitRange(from, to int64) (good, total uint64) {
	j := b.unitAt(from)
	for u := from; u < to; u++ {
		g, n := b.unitGet(j)
		good += g
		total += n
		if j++; j == int(b.unitLen) {
			j = 0
		}
	}
	return good, total
}

// addSat32 adds d to a 32-bit count c, saturating at 0 and MaxUint32.
func addSat32(c uint64, d int64) uint64 {
	v := int64(c) + d
	if v < 0 {
		return 0
	}
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint64(v)
}

// addClamp64 adds d to c, clamping at 0.
func addClamp64(c uint64, d int64) uint64 {
	if d < 0 && uint64(-d) > c {
		return 0
	}
	return c + uint64(d)
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod64(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func ceilDiv64(a, b int64) int64 { return -floorDiv64(-a, b) }
