package ui

import (
	"context"
	"fmt"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"
)

// maxSliceCells bounds the slices one report keeps counts for (16 bytes
// each): a year of 5-minute slices is 105,120 per route or service SLI.
const maxSliceCells = 16 << 20

// sliceAcc gathers the minute counts of one time-slice objective (a route
// or a service SLI) over a period and judges its slices.
type sliceAcc struct {
	sl    slo.Slices
	l     int64 // slice length in minutes
	first int64 // start minute of the first slice (on the grid)
	// The period is the minutes [lo, end); counts exist before hi.
	lo, hi, end int64
	good, total []float64 // per slice judged so far
	// excl are the minutes in maintenance for this SLI (a service's: on
	// every one of its routes).
	excl []span
}

// sliceFeed sends a route's minutes, except its own maintenance, into an
// accumulator.
type sliceFeed struct {
	acc  *sliceAcc
	excl []span // the route's minutes in maintenance
}

// newSliceAcc returns an accumulator of the slices on the grid of phase
// that overlap [lo, end); those starting before hi are judged. It holds
// no counts until alloc.
func newSliceAcc(sl slo.Slices, phase, lo, hi, end int64, excl []span) *sliceAcc {
	l := sl.Minutes()
	first := floorDiv(lo+phase, l)*l - phase
	return &sliceAcc{sl: sl, l: l, first: first, lo: lo, hi: hi, end: end, excl: excl}
}

// judged is the number of slices that start before hi.
func (a *sliceAcc) judged() int64 { return max(ceilDivInt(min(a.hi, a.end)-a.first, a.l), 0) }

// alloc makes room for the counts of the judged slices.
func (a *sliceAcc) alloc() {
	a.good, a.total = make([]float64, a.judged()), make([]float64, a.judged())
}

// add counts good and total events in minute m.
func (a *sliceAcc) add(m int64, good, total float64) {
	if m < a.lo || m >= a.hi || m >= a.end {
		return
	}
	i := (m - a.first) / a.l
	a.good[i] += good
	a.total[i] += total
}

// counts judges the slices (see the top of report.go) and returns them
// with the number of slices in the whole period.
func (a *sliceAcc) counts() (c slo.SliceCounts, total int64) {
	total = ceilDivInt(a.end-a.first, a.l)
	for i := range a.good {
		s := a.first + int64(i)*a.l
		from, to := max(s, a.lo), min(s+a.l, a.hi, a.end)
		if covered(a.excl, from, to) {
			c.Excluded++
			continue
		}
		g, t := toCount(a.good[i]), toCount(a.total[i])
		switch {
		case t == 0 && a.sl.SkipEmpty:
			c.Excluded++
		case a.sl.Good(min(g, t), t):
			c.Good++
		default:
			c.Bad++
		}
	}
	return c, total
}

// covered reports whether every minute of [from, to) lies in the sorted,
// merged spans.
func covered(spans []span, from, to int64) bool {
	for _, s := range spans {
		if s.from <= from && to <= s.to {
			return true
		}
	}
	return from >= to
}

// sliceCounts reads the raw samples of the period's counters and feeds
// each route's minute counts [lo, hi) to its accumulators (see the top of
// report.go for the rule).
func (r *Report) sliceCounts(t budget.Tenant, sel, customer string, start, until time.Time, lo, hi int64, accs []*sliceAcc, feeds map[string][]sliceFeed) error {
	cells := int64(0)
	for _, a := range accs {
		cells += a.judged()
	}
	if cells > maxSliceCells {
		return fmt.Errorf("cannot report time slices: %d slices of routes and services in the period, at most %d; report a shorter period or for one customer: %w", cells, maxSliceCells, errBadRequest)
	}
	for _, a := range accs {
		a.alloc()
	}
	from, to := start.Add(boundaryLag), until.Add(boundaryLag)
	base, err := r.base(t, sel, from, nil)
	if err != nil {
		return err
	}
	const minute = int64(time.Minute / time.Millisecond)
	_, err = r.cfg.Client.Export(context.Background(), t, []string{"slo_requests_total"}, from.UnixMilli()+1, to.UnixMilli(),
		func(labels []budget.Label, samples []budget.Sample) {
			m := make(map[string]string, len(labels))
			for _, l := range labels {
				if l.Name != "__name__" {
					m[l.Name] = l.Value
				}
			}
			if m["route"] == "" || customer != "" && m["customer"] != customer {
				return
			}
			key, result := routeKey(sortedLabels(m))
			fs := feeds[key]
			if len(fs) == 0 || result != "good" && result != "bad" {
				return
			}
			prev := base[seriesKey(m)].value
			for _, s := range samples {
				if s.Timestamp <= from.UnixMilli() || s.Timestamp > to.UnixMilli() {
					continue
				}
				d := counterStep(prev, s.Value)
				prev = s.Value
				if !(d > 0) {
					continue
				}
				// A sample counts the minutes before its own.
				mm := floorDiv(s.Timestamp, minute) - 1
				if mm < lo || mm >= hi {
					continue
				}
				good := 0.0
				if result == "good" {
					good = d
				}
				for _, f := range fs {
					if !inSpans(f.excl, mm) {
						f.acc.add(mm, good, d)
					}
				}
			}
		})
	if err != nil {
		return fmt.Errorf("cannot read the slices' counts: %w", err)
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ceilDivInt(a, b int64) int64 { return -floorDiv(-a, b) }
