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

// minuteCount holds the raw counts of one minute.
type minuteCount struct{ good, total uint32 }

// hourSums are the sums over the ring minutes of one hour: raw, and good
// and total without excluded minutes.
type hourSums struct{ rawGood, rawTotal, good, total uint64 }

// hourCount is one hour of the hour ring, without excluded minutes.
type hourCount struct{ good, total uint64 }

// sums are counts over a range of minutes.
type sums struct{ rawGood, rawTotal, good, total uint64 }

// buckets is the time storage of one route. All minute numbers are
// floor(Unix ms / 60000).
type buckets struct {
	ringLen int64         // minutes in the ring (R)
	head    int64         // newest minute of the ring; the ring is (head-R, head]
	ring    []minuteCount // minute m at index m mod R
	excl    []uint64      // exclusion bit of ring minute m at bit m mod R
	anyExcl bool          // some exclusion bit may be set
	ringRaw uint64        // sum of raw good+total over the ring; 0 means empty
	hsum    []hourSums    // ring hour h at index h mod len(hsum)

	hours    []hourCount // folded hour h at index h mod len(hours)
	hourHead int64       // newest hour of the hour ring: the hour of head-R

	// Cumulative counts of every folded minute and late contribution.
	foldRawGood, foldRawTotal, foldExclGood, foldExclTotal uint64
}

// init sizes the rings: ringLen minutes, and an hour ring of hourLen hours.
func (b *buckets) init(ringLen, hourLen int64) {
	b.ringLen = ringLen
	b.head = noHead
	b.hourHead = noHead
	b.ring = make([]minuteCount, ringLen)
	b.excl = make([]uint64, (ringLen+63)/64)
	b.hsum = make([]hourSums, (ringLen+59)/60+1) // hours a ring can touch
	b.hours = make([]hourCount, hourLen)
}

func (b *buckets) ringStart() int64 { return b.head - b.ringLen + 1 }

func (b *buckets) hsumAt(m int64) *hourSums {
	return &b.hsum[floorMod64(floorDiv64(m, 60), int64(len(b.hsum)))]
}

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
	hl := int64(len(b.hours))
	for h := b.hourHead + 1; h <= hh && h <= b.hourHead+hl; h++ {
		b.hours[floorMod64(h, hl)] = hourCount{}
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
	c := b.ring[i]
	if c.good == 0 && c.total == 0 {
		return
	}
	b.ring[i] = minuteCount{}
	g, n := uint64(c.good), uint64(c.total)
	hs := b.hsumAt(m)
	hs.rawGood -= g
	hs.rawTotal -= n
	b.ringRaw -= g + n
	b.foldRawGood += g
	b.foldRawTotal += n
	if ex {
		b.foldExclGood += g
		b.foldExclTotal += n
		return
	}
	hs.good -= g
	hs.total -= n
	b.addHour(floorDiv64(m, 60), int64(g), int64(n))
}

// addHour adds to folded hour h; it reports false when h is older than the
// hour ring.
func (b *buckets) addHour(h, g, n int64) bool {
	hl := int64(len(b.hours))
	if h <= b.hourHead-hl {
		return false
	}
	hc := &b.hours[floorMod64(h, hl)]
	hc.good = addClamp64(hc.good, g)
	hc.total = addClamp64(hc.total, n)
	return true
}

// add adds g good and n total events (negative to move events away) to
// minute m, which must not be newer than head. It reports false when m is
// older than the hour ring and the events were dropped.
func (b *buckets) add(m, g, n int64, masks []Mask, scratch *[]Interval) bool {
	if m >= b.ringStart() {
		i := floorMod64(m, b.ringLen)
		c := &b.ring[i]
		og, on := c.good, c.total
		c.good = addSat32(og, g)
		c.total = addSat32(on, n)
		// Apply the change actually made (saturation, clamping) to the sums.
		dg := uint64(c.good) - uint64(og)
		dn := uint64(c.total) - uint64(on)
		hs := b.hsumAt(m)
		hs.rawGood += dg
		hs.rawTotal += dn
		b.ringRaw += dg + dn
		if !b.anyExcl || !b.isExcl(i) {
			hs.good += dg
			hs.total += dn
		}
		return true
	}
	if floorDiv64(m, 60) <= b.hourHead-int64(len(b.hours)) {
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
			// Minute m is inside iff iv.Start <= m*60000 < iv.End.
			lo := max(ceilDiv64(iv.Start, minuteMs), from)
			hi := min(ceilDiv64(iv.End, minuteMs)-1, to)
			for m := lo; m <= hi; m++ {
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
	c := b.ring[i]
	hs := b.hsumAt(m)
	hs.good -= uint64(c.good)
	hs.total -= uint64(c.total)
}

// recomputeExclusion derives every exclusion bit of the ring, and the hour
// sums without excluded minutes, from masks.
func (b *buckets) recomputeExclusion(masks []Mask, scratch *[]Interval) {
	clear(b.excl)
	b.anyExcl = false
	for i := range b.hsum {
		b.hsum[i].good = b.hsum[i].rawGood
		b.hsum[i].total = b.hsum[i].rawTotal
	}
	if b.head != noHead && len(masks) > 0 {
		b.markExcluded(masks, b.ringStart(), b.head, scratch)
	}
}

// ringSums sums the ring minutes in [a, e).
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
	for ; m+60 <= e; m += 60 {
		hs := b.hsumAt(m)
		s.rawGood += hs.rawGood
		s.rawTotal += hs.rawTotal
		s.good += hs.good
		s.total += hs.total
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
		c := b.ring[i]
		s.rawGood += uint64(c.good)
		s.rawTotal += uint64(c.total)
		if !b.anyExcl || !b.isExcl(i) {
			s.good += uint64(c.good)
			s.total += uint64(c.total)
		}
		if i++; i == b.ringLen {
			i = 0
		}
	}
}

// hourSumsIn sums the folded hours whose stored minutes all lie in [a, e):
// hour h counts iff h*60 >= a and min(h*60+60, ringStart) <= e. So the
// far edge of a long window moves hour by hour once it is older than the
// minute ring.
func (b *buckets) hourSumsIn(a, e int64) (good, total uint64) {
	if b.head == noHead || a >= b.ringStart() {
		return 0, 0
	}
	hl := int64(len(b.hours))
	rs := b.ringStart()
	for h := max(ceilDiv64(a, 60), b.hourHead-hl+1); h <= b.hourHead; h++ {
		if min(h*60+60, rs) > e {
			break
		}
		hc := b.hours[floorMod64(h, hl)]
		good += hc.good
		total += hc.total
	}
	return good, total
}

// addSat32 adds d to c, saturating at 0 and MaxUint32.
func addSat32(c uint32, d int64) uint32 {
	v := int64(c) + d
	if v < 0 {
		return 0
	}
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
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
