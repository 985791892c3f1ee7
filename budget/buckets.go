package budget

import "math"

// Time buckets of one route.
//
// Minute ring: raw good/total counts of the last ringLen minutes, ending at
// the tenant watermark's minute (head). Counts are uint32 per minute:
// request counters are whole numbers, and a route would need 71 million
// requests per second to overflow a minute; a count saturates rather than
// wraps. Each ring minute has an exclusion bit (maintenance), and each
// hour of the ring has partial sums (raw, and without excluded minutes),
// so that a 3d window is about 72 additions, not 4320.
//
// Hour ring: counts without excluded minutes (uint64) of older hours, up to
// the route's compliance window. When a minute leaves the minute ring it is
// folded into its hour with its exclusion applied; that is final: masks
// changed later do not reach it. Its raw and excluded counts go to the
// route's cumulative counters. Late contributions older than the minute
// ring go straight to their hour (mask applied at arrival); older than the
// hour ring they are dropped (EngineStats.Expired).

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

// buckets is the time storage of one route. All minute numbers are
// floor(Unix ms / 60000). The four slices share one allocation (a 30d
// route: 6,140 words, 49,120 bytes, where separate slices would waste 7 KB
// to size-class rounding).
type buckets struct {
	ringLen int64    // minutes in the ring (R)
	head    int64    // newest minute of the ring; the ring is (head-R, head]
	ring    []uint64 // minute m at index m mod R: good | total<<32, raw
	excl    []uint64 // exclusion bit of ring minute m at bit m mod R
	anyExcl bool     // some exclusion bit may be set
	ringRaw uint64   // sum of raw good+total over the ring; 0 means empty
	// hsum holds 4 words per ring hour h, at 4*(h mod nHsum): raw good, raw
	// total, good and total without excluded minutes.
	hsum []uint64

	// hours holds 2 words per folded hour h, at 2*(h mod hourLen): good and
	// total without excluded minutes.
	hours    []uint64
	hourLen  int64
	hourHead int64 // newest hour of the hour ring: the hour of head-R
	// hoursGood and hoursTotal are the sums over the hour ring, so that a
	// 30d window subtracts the few hours before its start instead of adding
	// 650.
	hoursGood, hoursTotal uint64

	// Cumulative counts of every folded minute and late contribution.
	foldRawGood, foldRawTotal, foldExclGood, foldExclTotal uint64
}

// Word offsets within an hsum entry.
const (
	hsRawGood = iota
	hsRawTotal
	hsGood
	hsTotal
)

// init sizes the rings: ringLen minutes, and an hour ring of hourLen hours.
func (b *buckets) init(ringLen, hourLen int64) {
	nExcl := (ringLen + 63) / 64
	nHsum := (ringLen+59)/60 + 1 // hours a ring of ringLen minutes can touch
	arena := make([]uint64, ringLen+nExcl+4*nHsum+2*hourLen)
	b.ringLen, b.hourLen = ringLen, hourLen
	b.head, b.hourHead = noHead, noHead
	b.ring, arena = arena[:ringLen:ringLen], arena[ringLen:]
	b.excl, arena = arena[:nExcl:nExcl], arena[nExcl:]
	b.hsum, arena = arena[:4*nHsum:4*nHsum], arena[4*nHsum:]
	b.hours = arena
}

func (b *buckets) ringStart() int64 { return b.head - b.ringLen + 1 }

// hsumAt returns the 4 hsum words of the hour of ring minute m.
func (b *buckets) hsumAt(m int64) []uint64 {
	j := 4 * floorMod64(floorDiv64(m, 60), int64(len(b.hsum)/4))
	return b.hsum[j : j+4 : j+4]
}

// hourAt returns the 2 words of folded hour h.
func (b *buckets) hourAt(h int64) []uint64 {
	j := 2 * floorMod64(h, b.hourLen)
	return b.hours[j : j+2 : j+2]
}

func unpack(w uint64) (good, total uint64) { return w & math.MaxUint32, w >> 32 }

func (b *buckets) isExcl(i int64) bool { return b.excl[i>>6]&(1<<(i&63)) != 0 }

// advance moves the ring's head to newHead (a later minute): minutes that
// leave the ring are folded, minutes that enter get their exclusion bits
// from masks.
func (b *buckets) advance(newHead int64, masks []Mask, scratch *[]Interval) {
	if newHead <= b.head {
		return
	}
	oldHead := b.head
	newStart := newHead - b.ringLen + 1
	if oldHead != noHead {
		b.recycleHours(floorDiv64(newStart-1, 60))
		end := min(newStart, oldHead+1) // fold [oldStart, end)
		if b.ringRaw == 0 && !b.anyExcl {
			end = b.ringStart() // nothing to fold
		}
		for m := b.ringStart(); m < end; m++ {
			b.fold(m)
		}
	} else {
		b.hourHead = floorDiv64(newStart-1, 60)
	}
	b.head = newHead
	if len(masks) > 0 {
		b.markExcluded(masks, max(oldHead+1, newStart), newHead, scratch)
	}
}

// recycleHours moves the hour ring's head to hh, clearing the slots of the
// hours that expire.
func (b *buckets) recycleHours(hh int64) {
	for h := b.hourHead + 1; h <= hh && h <= b.hourHead+b.hourLen; h++ {
		hc := b.hourAt(h)
		b.hoursGood -= hc[0]
		b.hoursTotal -= hc[1]
		hc[0], hc[1] = 0, 0
	}
	b.hourHead = max(b.hourHead, hh)
}

// fold moves ring minute m into its hour (or the excluded counters) and
// clears it.
func (b *buckets) fold(m int64) {
	i := floorMod64(m, b.ringLen)
	ex := b.isExcl(i)
	if ex {
		b.excl[i>>6] &^= 1 << (i & 63)
	}
	if b.ring[i] == 0 {
		return
	}
	g, n := unpack(b.ring[i])
	b.ring[i] = 0
	hs := b.hsumAt(m)
	hs[hsRawGood] -= g
	hs[hsRawTotal] -= n
	b.ringRaw -= g + n
	b.foldRawGood += g
	b.foldRawTotal += n
	if ex {
		b.foldExclGood += g
		b.foldExclTotal += n
		return
	}
	hs[hsGood] -= g
	hs[hsTotal] -= n
	b.addHour(floorDiv64(m, 60), int64(g), int64(n))
}

// addHour adds to folded hour h; it reports false when h is older than the
// hour ring.
func (b *buckets) addHour(h, g, n int64) bool {
	if h <= b.hourHead-b.hourLen {
		return false
	}
	hc := b.hourAt(h)
	og, on := hc[0], hc[1]
	hc[0], hc[1] = addClamp64(og, g), addClamp64(on, n)
	b.hoursGood += hc[0] - og // mod 2^64, as in add
	b.hoursTotal += hc[1] - on
	return true
}

// add adds g good and n total events (negative to move events away) to
// minute m, which must not be newer than head. It reports false when m is
// older than the hour ring and the events were dropped.
func (b *buckets) add(m, g, n int64, masks []Mask, scratch *[]Interval) bool {
	if m >= b.ringStart() {
		i := floorMod64(m, b.ringLen)
		og, on := unpack(b.ring[i])
		ng, nn := addSat32(og, g), addSat32(on, n)
		b.ring[i] = ng | nn<<32
		// Apply the change actually made (saturation, clamping) to the sums.
		dg, dn := ng-og, nn-on // mod 2^64: negative changes wrap, sums wrap back
		hs := b.hsumAt(m)
		hs[hsRawGood] += dg
		hs[hsRawTotal] += dn
		b.ringRaw += dg + dn
		if !b.anyExcl || !b.isExcl(i) {
			hs[hsGood] += dg
			hs[hsTotal] += dn
		}
		return true
	}
	if floorDiv64(m, 60) <= b.hourHead-b.hourLen {
		return false
	}
	b.foldRawGood = addClamp64(b.foldRawGood, g)
	b.foldRawTotal = addClamp64(b.foldRawTotal, n)
	if minuteMasked(masks, m, scratch) {
		b.foldExclGood = addClamp64(b.foldExclGood, g)
		b.foldExclTotal = addClamp64(b.foldExclTotal, n)
		return true
	}
	return b.addHour(floorDiv64(m, 60), g, n)
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
	b.excl[i>>6] |= 1 << (i & 63)
	b.anyExcl = true
	g, n := unpack(b.ring[i])
	hs := b.hsumAt(m)
	hs[hsGood] -= g
	hs[hsTotal] -= n
}

// recomputeExclusion derives every exclusion bit of the ring, and the hour
// sums without excluded minutes, from masks.
func (b *buckets) recomputeExclusion(masks []Mask, scratch *[]Interval) {
	clear(b.excl)
	b.anyExcl = false
	for j := 0; j < len(b.hsum); j += 4 {
		b.hsum[j+hsGood] = b.hsum[j+hsRawGood]
		b.hsum[j+hsTotal] = b.hsum[j+hsRawTotal]
	}
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
		nh := int64(len(b.hsum) / 4)
		j := 4 * floorMod64(floorDiv64(m, 60), nh)
		for ; m+60 <= e; m += 60 {
			hs := b.hsum[j : j+4 : j+4]
			s.rawGood += hs[hsRawGood]
			s.rawTotal += hs[hsRawTotal]
			s.good += hs[hsGood]
			s.total += hs[hsTotal]
			if j += 4; j == int64(len(b.hsum)) {
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
	for m := a; m < e; m++ {
		g, n := unpack(b.ring[i])
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

// hourSumsIn sums the folded hours that start in [a, aEnd) and whose
// stored minutes all lie before e: hour h counts in a window [a, e) iff
// h*60 >= a and min(h*60+60, ringStart) <= e. So the far edge of a long
// window moves hour by hour once it is older than the minute ring. (aEnd
// lets nested windows with the same end add only their difference.)
func (b *buckets) hourSumsIn(a, aEnd, e int64) (good, total uint64) {
	rs := b.ringStart()
	if b.head == noHead || a >= rs {
		return 0, 0
	}
	oldest := b.hourHead - b.hourLen + 1
	first := max(ceilDiv64(a, 60), oldest)
	if aEnd >= rs && e >= rs && first-oldest < b.hourHead-first {
		// Every stored hour from first on counts: subtract the older ones
		// from the ring's sums.
		g, n := b.hourRange(oldest, first, rs, e)
		return b.hoursGood - g, b.hoursTotal - n
	}
	return b.hourRange(first, ceilDiv64(aEnd, 60), rs, e)
}

// hourRange sums the stored hours h in [from, to) with
// min(h*60+60, rs) <= e.
func (b *buckets) hourRange(from, to, rs, e int64) (good, total uint64) {
	to = min(to, b.hourHead+1)
	j := 2 * floorMod64(from, b.hourLen)
	for h := from; h < to && min(h*60+60, rs) <= e; h++ {
		good += b.hours[j]
		total += b.hours[j+1]
		if j += 2; j == int64(len(b.hours)) {
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
