package budget

import (
	"sync"
	"time"

	"github.com/slogate/slogate/slo"
)

// foldLayout says what the folded units of a route or service are and
// whether it judges time slices. Buckets share one (see internLayout).
type foldLayout struct {
	// unit is the minutes per unit on the UTC grid (60: hours, 1440:
	// days); 0 means local days in loc.
	unit int64
	loc  *time.Location
	// n is the number of units kept.
	n  int64
	sl sliceSpec
}

// sliceSpec is slo.Slices in minutes: slices start at the minutes m with
// (m + phase) mod len = 0; len 0 means no time slices.
type sliceSpec struct {
	len, phase int64
	target     float64
	skipEmpty  bool
}

// layoutFor returns the folded units for objective o: UTC hours for
// rolling windows up to 100 days, UTC days for longer ones, local days in
// the window's time zone for calendar windows; as many as the window's
// longest instance spans, plus 2.
func layoutFor(o Objective) *foldLayout {
	var l foldLayout
	w := o.Window
	switch {
	case w.Kind == slo.Calendar:
		l.loc = w.Location
		if l.loc == nil {
			l.loc = time.UTC
		}
		l.n = int64(WindowMaxLength(w)/(24*time.Hour)) + 2
	case w.Length > 100*24*time.Hour:
		l.unit = 1440
		l.n = int64((w.Length+24*time.Hour-1)/(24*time.Hour)) + 2
	default:
		l.unit = 60
		l.n = int64(WindowMaxLength(w)/time.Hour) + 2
	}
	if o.Slices.Enabled() {
		l.sl = sliceSpec{len: o.Slices.Minutes(), target: o.Slices.Target, skipEmpty: o.Slices.SkipEmpty}
		if w.Kind == slo.Calendar {
			l.sl.phase = slo.SlicePhase(l.loc)
		}
	}
	return internLayout(l)
}

// layouts holds the layouts in use, one copy of each, so that each route
// holds a pointer and not its own copy. Layouts come from the objectives
// (a few) and from snapshots: beyond maxLayouts (a corrupt snapshot)
// each gets its own copy.
var layouts struct {
	sync.Mutex
	m map[foldLayout]*foldLayout
}

const maxLayouts = 256

// internLayout returns the shared copy of l.
func internLayout(l foldLayout) *foldLayout {
	layouts.Lock()
	defer layouts.Unlock()
	if p := layouts.m[l]; p != nil {
		return p
	}
	p := &l
	if layouts.m == nil {
		layouts.m = make(map[foldLayout]*foldLayout)
	}
	if len(layouts.m) < maxLayouts {
		layouts.m[l] = p
	}
	return p
}

// same reports whether two layouts are the same.
func (l *foldLayout) same(o *foldLayout) bool {
	return l == o || storesAlike(*l, *o) && l.sl == o.sl
}

// storesAlike reports whether two layouts store alike: the same units and
// the same slice grid (the slice target and the empty-slice rule only
// decide future verdicts).
func storesAlike(a, b foldLayout) bool {
	return a.unit == b.unit && a.n == b.n && sameLoc(a.loc, b.loc) &&
		a.sl.len == b.sl.len && a.sl.phase == b.sl.phase
}

func sameLoc(a, b *time.Location) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.String() == b.String()
}

// localDay is a day in a time zone: its number (days since 1970-01-01 of
// its date) and its minutes [start, end).
type localDay struct{ num, start, end int64 }

// unitOf returns the unit of minute m.
func (b *buckets) unitOf(m int64) int64 {
	if b.lay.unit > 0 {
		return floorDiv64(m, b.lay.unit)
	}
	if b.day.num != noHead && m >= b.day.start && m < b.day.end {
		return b.day.num
	}
	t := time.Unix(m*60, 0).In(b.lay.loc)
	y, mo, d := t.Date()
	b.day = dayOf(y, mo, d, b.lay.loc)
	return b.day.num
}

// unitStart returns the first minute of unit u.
func (b *buckets) unitStart(u int64) int64 {
	if b.lay.unit > 0 {
		return u * b.lay.unit
	}
	if u == b.day.num {
		return b.day.start
	}
	y, mo, d := time.Unix(u*86400, 0).UTC().Date()
	return dayOf(y, mo, d, b.lay.loc).start
}

// dayOf returns the local day of a date in loc. A midnight that does not
// exist (a DST change at midnight) starts the day when the clock jumps.
func dayOf(y int, mo time.Month, d int, loc *time.Location) localDay {
	num := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	start := ceilDiv64(time.Date(y, mo, d, 0, 0, 0, 0, loc).Unix(), 60)
	end := ceilDiv64(time.Date(y, mo, d+1, 0, 0, 0, 0, loc).Unix(), 60)
	return localDay{num: num, start: start, end: end}
}

// pendingSlice is the slice whose minutes are being folded: start is its
// first minute (noHead: none), incl its minutes not excluded so far, good
// and total their events.
type pendingSlice struct {
	start, incl int64
	good, total uint64
}

// sliceTally counts slices by verdict.
type sliceTally struct{ good, bad, excl uint64 }

func (t *sliceTally) counts() slo.SliceCounts {
	return slo.SliceCounts{Good: t.good, Bad: t.bad, Excluded: t.excl}
}

// verdicts of a slice.
const (
	sliceGood = iota
	sliceBad
	sliceExcl
)

// verdict judges a slice: incl minutes not excluded, with good and total
// events among them.
func (sp *sliceSpec) verdict(incl int64, good, total uint64) int {
	switch {
	case incl == 0:
		return sliceExcl
	case total == 0 && sp.skipEmpty:
		return sliceExcl
	case total == 0:
		return sliceGood
	}
	good = min(good, total)
	if float64(good)/float64(total) >= sp.target {
		return sliceGood
	}
	return sliceBad
}

func (t *sliceTally) add(v int, n uint64) {
	switch v {
	case sliceGood:
		t.good += n
	case sliceBad:
		t.bad += n
	default:
		t.excl += n
	}
}

// sliceStart returns the first minute of the slice of minute m.
func (sp *sliceSpec) sliceStart(m int64) int64 { return m - floorMod64(m+sp.phase, sp.len) }

// sliceMinute folds minute m (excluded or not, with g good and n total
// events) into the pending slice, judging the slice at its last minute.
// Minutes of the slice before m that were never folded (before the ring
// existed) count as empty and not excluded.
func (b *buckets) sliceMinute(m int64, ex bool, g, n uint64) {
	sp := &b.lay.sl
	s := sp.sliceStart(m)
	if b.pend.start != s {
		if b.pend.start != noHead {
			b.finishSlice()
		}
		b.pend = pendingSlice{start: s, incl: m - s}
	}
	if !ex {
		b.pend.incl++
		b.pend.good += g
		b.pend.total += n
	}
	if m == s+sp.len-1 {
		b.finishSlice()
	}
}

// emptyMinutes folds the minutes [from, to), which hold no events and are
// not excluded, into the slices: slice by slice, not minute by minute.
func (b *buckets) emptyMinutes(from, to int64) {
	sp := &b.lay.sl
	if sp.len == 0 {
		return
	}
	for m := from; m < to; {
		s := sp.sliceStart(m)
		if b.pend.start != s {
			if b.pend.start != noHead {
				b.finishSlice()
			}
			b.pend = pendingSlice{start: s, incl: m - s}
		}
		e := min(to, s+sp.len)
		b.pend.incl += e - m
		if m = e; m == s+sp.len {
			b.finishSlice()
		}
	}
}

// finishSlice judges the pending slice and adds its verdict to the unit of
// its first minute and to the cumulative tally.
func (b *buckets) finishSlice() {
	p := &b.pend
	v := b.lay.sl.verdict(p.incl, p.good, p.total)
	if p.start+b.lay.sl.len > b.origin {
		b.fin.add(v, 1)
	}
	if u := b.unitOf(p.start); u > b.unitHead-b.unitLen && u <= b.unitHead {
		b.sl.add(3*b.unitAt(u)+v, 1)
	}
	*p = pendingSlice{start: noHead}
}

// unitSlices sums the slice verdicts of the folded units [from, to].
func (b *buckets) unitSlices(from, to int64) sliceTally {
	var t sliceTally
	if b.head == noHead {
		return t
	}
	for u := from; u <= to; u++ {
		j := 3 * b.unitAt(u)
		t.good += b.sl.get(j + sliceGood)
		t.bad += b.sl.get(j + sliceBad)
		t.excl += b.sl.get(j + sliceExcl)
	}
	return t
}

// sliceWindows counts the slices of the windows [starts[i], mT) into win
// and returns the cumulative tally (every slice judged before mT). A final
// slice (folded: its last minute left the ring) counts by its unit, as
// events do (unitSpan); a slice still in the ring counts when it overlaps
// the window, judged on its minutes before mT. Minutes after the head and
// minutes that were never in the ring count as empty and not excluded,
// and so do the slices before the ring's first start (born) in windows.
// Minutes after the head hold no events yet; they are excluded when masks
// (a route's) or sv (a service whose routes have masks) say so. The
// cumulative tally counts the slices from origin on.
func (b *buckets) sliceWindows(sv *svcState, masks []Mask, starts *[slo.NumWindows]int64, mT int64, win *[slo.NumWindows]sliceTally, scratch *[]Interval) sliceTally {
	cum := b.fin
	if b.head == noHead {
		return cum
	}
	sp := &b.lay.sl
	L := sp.len
	rs := b.ringStart()
	// Slices wholly after the head, and slices before the ring first
	// started: empty, not excluded.
	empty := sp.verdict(1, 0, 0)
	tail := sp.sliceStart(b.head) + L
	if tail < mT && (masksOverlap(masks, tail, mT, scratch) || sv != nil && sv.masksOverlap(tail, mT, scratch)) {
		// Maintenance ahead of the watermark: judge those slices one by one.
		for s := tail; s < mT; s += L {
			v := b.judgeSlice(sv, masks, s, mT, scratch)
			for i, a := range starts {
				if s+L > a {
					win[i].add(v, 1)
				}
			}
			if s+L <= mT {
				cum.add(v, 1)
			}
		}
	} else if tail < mT {
		for i, a := range starts {
			win[i].add(empty, uint64(gridCount(sp, max(tail, a-L+1), mT)))
		}
		cum.add(empty, uint64(gridCount(sp, tail, mT-L+1)))
	}
	if first := sp.sliceStart(b.born); b.born != noHead {
		for i, a := range starts {
			win[i].add(empty, uint64(gridCount(sp, a-L+1, min(first, mT))))
		}
	}
	oldest := sp.sliceStart(rs)
	if b.pend.start != noHead {
		oldest = b.pend.start
	}
	for s := min(sp.sliceStart(mT-1), tail-L); s >= oldest; s -= L {
		v := b.judgeSlice(sv, masks, s, mT, scratch)
		for i, a := range starts {
			if s+L > a {
				win[i].add(v, 1)
			}
		}
		if s+L <= mT && s+L > b.origin {
			cum.add(v, 1)
		}
	}
	for i, a := range starts {
		from, to := b.unitSpan(a, mT)
		u := b.unitSlices(from, to)
		win[i].good += u.good
		win[i].bad += u.bad
		win[i].excl += u.excl
	}
	return cum
}

// judgeSlice judges the slice starting at s on its minutes before mT:
// the folded part of the pending slice, then the ring's minutes.
func (b *buckets) judgeSlice(sv *svcState, masks []Mask, s, mT int64, scratch *[]Interval) int {
	sp := &b.lay.sl
	rs := b.ringStart()
	var incl int64
	var g, n uint64
	switch {
	case s == b.pend.start:
		incl, g, n = b.pend.incl, b.pend.good, b.pend.total
	case s < rs:
		incl = rs - s
	}
	hi := min(s+sp.len, mT)
	i := floorMod64(max(s, rs), b.ringLen)
	blk, k := b.ring.block(max(s, rs))
	for m := max(s, rs); m < hi; m, k = m+1, k+1 {
		if k == 60 {
			blk, k = b.ring.block(m)
		}
		if m > b.head { // no events yet
			if len(masks) == 0 && sv == nil {
				incl += hi - m
				break
			}
			if !(len(masks) > 0 && minuteMasked(masks, m, scratch)) && !(sv != nil && sv.excludedAt(m, scratch)) {
				incl++
			}
			continue
		}
		ex := b.anyExcl && b.isExcl(i)
		if !ex && sv != nil {
			ex = sv.excludedAt(m, scratch)
		}
		if !ex {
			mg, mn := blk.get(k)
			incl++
			g += mg
			n += mn
		}
		if i++; i == b.ringLen {
			i = 0
		}
	}
	return sp.verdict(incl, g, n)
}

// gridCount returns the number of slice starts in [x, y).
func gridCount(sp *sliceSpec, x, y int64) int64 {
	if x >= y {
		return 0
	}
	return floorDiv64(y-1+sp.phase, sp.len) - floorDiv64(x-1+sp.phase, sp.len)
}

// masksOverlap reports whether an interval of masks overlaps the minutes
// [from, to).
func masksOverlap(masks []Mask, from, to int64, scratch *[]Interval) bool {
	for _, mk := range masks {
		if *scratch = mk.AppendIntervals((*scratch)[:0], from*minuteMs, to*minuteMs); len(*scratch) > 0 {
			return true
		}
	}
	return false
}
