package budget

import (
	"math"
	"time"

	"github.com/slogate/slogate/slo"
)

// The reference's windows, budgets and time slices of one SLI: a route, or
// the sum of a service's routes. Brute force from the documented rules
// (spec of issue 11); package slo's formulas (NewWindow, SliceWindow,
// SliceBudgetOf, CreditFor, Bounds) are the shared math, not the engine.
//
// Storage beyond the minute ring shows through the contract, by the
// compliance window: a folded minute, or a final slice by its start
// minute, lies in a bucket [bs, be) — a UTC hour for rolling windows up to
// 100 days, a UTC day for longer rolling windows, a day in the window's
// time zone for calendar windows — and counts in a window [a, e) when
// bs >= a and min(be, ringStart) <= e. Hours are kept for the window's
// longest length plus 2 hours; the streams are far shorter than any
// window with day buckets, so days are kept for ever here.

// refSLI is one SLI as its windows see it.
type refSLI struct {
	obj Objective
	// cnt holds the minutes with events: good and total without the
	// events of excluded minutes (good not yet capped at total).
	cnt map[int64][2]int64
	// excl reports whether a minute is excluded (final for folded
	// minutes); for a service: excluded by every route.
	excl func(mi int64) bool
	// first is the first minute of the SLI's first ring (when its ring
	// first started): the slices before it were never judged, and count
	// in windows as empty slices (good, or left out with SkipEmpty).
	first int64
	// origin is the first minute the SLI counts from: the head when its
	// ring first started, or an earlier minute with events. The
	// cumulative slices (slo_slices_total) are those ending after it.
	origin int64
}

type refResult struct {
	windows              [slo.NumWindows]slo.WindowStatus
	slo, sla             slo.BudgetStatus
	hasSLA               bool
	release              slo.ReleaseState
	slices, windowSlices slo.SliceCounts
	credit               float64
	hasCredit            bool
}

// refBucket returns the storage bucket [bs, be) (Unix minutes) of folded
// minute mi under compliance window w.
func refBucket(w slo.Window, mi int64) (bs, be int64) {
	switch {
	case w.Kind == slo.Calendar:
		loc := w.Location
		if loc == nil {
			loc = time.UTC
		}
		lt := time.Unix(mi*60, 0).In(loc)
		d0 := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
		d1 := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
		return refCeilDiv(d0.Unix(), 60), refCeilDiv(d1.Unix(), 60)
	case w.Length > 100*24*time.Hour:
		d := refFloorDiv(mi, 1440)
		return d * 1440, d*1440 + 1440
	}
	h := refFloorDiv(mi, 60)
	return h * 60, h*60 + 60
}

func refCeilDiv(a, b int64) int64 { return -refFloorDiv(-a, b) }

// refCompliance returns the compliance window's first minute and full
// length at eval time at (minute mT).
func refCompliance(w slo.Window, at, mT int64) (start int64, length time.Duration) {
	if w.Kind != slo.Calendar {
		return mT - int64(w.Length/time.Minute), w.Length
	}
	ps, pe := w.Bounds(time.UnixMilli(at))
	return refCeilDiv(ps.UnixMilli(), 60000), pe.Sub(ps)
}

func refSLIStatus(s *refSLI, at, mT, ringStart int64) refResult {
	obj := s.obj
	w := obj.Window
	hourHead := refFloorDiv(ringStart-1, 60)
	maxHours := int64(math.Ceil(w.Length.Hours())) + 2
	// folded reports whether a folded minute (or a final slice starting
	// at mi) counts in [a, e).
	folded := func(mi, a, e int64) bool {
		if w.Kind == slo.Rolling && w.Length <= 100*24*time.Hour && refFloorDiv(mi, 60) <= hourHead-maxHours {
			return false
		}
		bs, be := refBucket(w, mi)
		return bs >= a && min(be, ringStart) <= e
	}
	cStart, cLen := refCompliance(w, at, mT)
	var starts [slo.NumWindows]int64
	var names [slo.NumWindows]string
	for i, sw := range slo.ShortWindows {
		starts[i], names[i] = mT-sw.Minutes, sw.Name
	}
	starts[slo.WindowCompliance], names[slo.WindowCompliance] = cStart, w.Label()

	var res refResult
	if !obj.Slices.Enabled() {
		for i := range res.windows {
			var g, n int64
			for mi, c := range s.cnt {
				if mi >= ringStart && starts[i] <= mi && mi < mT || mi < ringStart && folded(mi, starts[i], mT) {
					g, n = g+c[0], n+c[1]
				}
			}
			g = min(g, n)
			ws := slo.WindowStatus{Name: names[i], Good: uint64(g), Total: uint64(n)}
			if n > 0 {
				ws.SLI, ws.HasSLI = float64(g)/float64(n), true
				ws.BurnRate = (float64(n-g) / float64(n)) / (1 - obj.SLO)
			}
			res.windows[i] = ws
		}
		cw, w5 := res.windows[slo.WindowCompliance], res.windows[slo.Window5m]
		budget := func(kind string, o float64) slo.BudgetStatus {
			b := slo.BudgetStatus{Kind: kind, Objective: o, RemainingRatio: 1}
			if cw.Total > 0 {
				b.RemainingRatio = 1 - float64(cw.Total-cw.Good)/((1-o)*float64(cw.Total))
			}
			b.RemainingSeconds = b.RemainingRatio * (1 - o) * cLen.Seconds()
			if b.RemainingRatio <= 0 {
				b.HasExhaustion = true
			} else if w5.Total > w5.Good {
				b.HasExhaustion = true
				b.ExhaustionSeconds = b.RemainingSeconds / (float64(w5.Total-w5.Good) / float64(w5.Total))
			}
			return b
		}
		res.slo = budget("slo", obj.SLO)
		if obj.SLA > 0 {
			res.sla, res.hasSLA = budget("sla", obj.SLA), true
		}
	} else {
		var counts [slo.NumWindows]slo.SliceCounts
		add := func(c *slo.SliceCounts, v int) {
			switch v {
			case refSliceGood:
				c.Good++
			case refSliceBad:
				c.Bad++
			default:
				c.Excluded++
			}
		}
		L := obj.Slices.Minutes()
		var phase int64
		if w.Kind == slo.Calendar {
			phase = slo.SlicePhase(w.Location)
		}
		firstSlice := refFloorDiv(s.first+phase, L)*L - phase
		// Slices before the first ring: empty, in every window they
		// overlap. The slice starts in [x, y): ceil((x+phase)/L) ..
		// ceil((y+phase)/L) - 1 in grid units.
		empty := refSliceGood
		if obj.Slices.SkipEmpty {
			empty = refSliceExcluded
		}
		for i := range counts {
			x, y := starts[i]-L+1, min(firstSlice, mT)
			for n := refCeilDiv(y+phase, L) - refCeilDiv(x+phase, L); n > 0; n-- {
				add(&counts[i], empty)
			}
		}
		for st := firstSlice; st < mT; st += L {
			final := st+L-1 < ringStart
			v := refJudge(s, st, min(st+L, mT))
			if final {
				v = refJudge(s, st, st+L)
			}
			if (final || st+L <= mT) && st+L > s.origin {
				add(&res.slices, v)
			}
			for i := range counts {
				if final && folded(st, starts[i], mT) || !final && st+L > starts[i] {
					add(&counts[i], v)
				}
			}
		}
		for i := range res.windows {
			res.windows[i] = slo.SliceWindow(names[i], counts[i], obj.SLO)
		}
		res.windowSlices = counts[slo.WindowCompliance]
		total := int64(cLen / obj.Slices.Length)
		w5 := res.windows[slo.Window5m]
		res.slo = slo.SliceBudgetOf("slo", obj.SLO, res.windowSlices, total, float64(L*60), w5)
		if obj.SLA > 0 {
			res.sla, res.hasSLA = slo.SliceBudgetOf("sla", obj.SLA, res.windowSlices, total, float64(L*60), w5), true
		}
	}
	switch {
	case res.slo.RemainingRatio <= 0 || res.windows[slo.Window1h].BurnRate >= 14.4:
		res.release = slo.ReleaseFreeze
	case res.slo.RemainingRatio < 0.25:
		res.release = slo.ReleaseCaution
	}
	if cw := res.windows[slo.WindowCompliance]; obj.SLA > 0 && len(obj.Credits) > 0 && cw.HasSLI {
		res.hasCredit = true
		res.credit = slo.CreditFor(obj.Credits, cw.SLI)
	}
	return res
}

// Slice verdicts.
const (
	refSliceGood = iota
	refSliceBad
	refSliceExcluded
)

// refJudge judges the slice starting at st on its minutes before end: all
// excluded -> excluded; no events -> good (excluded with SkipEmpty); else
// good iff good/total >= target, good capped at total.
func refJudge(s *refSLI, st, end int64) int {
	var g, n int64
	all := true
	for mi := st; mi < end; mi++ {
		if s.excl(mi) {
			continue
		}
		all = false
		c := s.cnt[mi]
		g, n = g+c[0], n+c[1]
	}
	switch {
	case all:
		return refSliceExcluded
	case n == 0 && s.obj.Slices.SkipEmpty:
		return refSliceExcluded
	case n == 0 || float64(min(g, n))/float64(n) >= s.obj.Slices.Target:
		return refSliceGood
	}
	return refSliceBad
}
