package slo

import (
	"fmt"
	"math"
	"time"
)

// Time-slice budgeting. The compliance window is cut into slices of
// Slices.Length on a grid that follows the objective's time zone (see
// SlicePhase); a slice is good when good/total >= Slices.Target over its
// minutes that are not excluded by maintenance. A slice whose minutes are
// all excluded is left out; a slice without events is good, or left out
// with SkipEmpty. The objective then reads "at most (1-objective) of the
// window's slices bad", and the budget is downtime: bad slices times the
// slice length.

// Slices configures time-slice budgeting; the zero value is occurrences
// (request-based) budgeting.
type Slices struct {
	// Length of a slice: a whole number of minutes from 1m to 1h that
	// divides the hour. 0 means occurrences budgeting.
	Length time.Duration
	// Target is the ratio good/total a slice needs to be good, in (0,1].
	Target float64
	// SkipEmpty leaves slices without events out (emptySlices: skip)
	// instead of counting them good (emptySlices: good, the default).
	SkipEmpty bool
}

// Enabled reports whether time-slice budgeting is on.
func (s Slices) Enabled() bool { return s.Length > 0 }

// Minutes is the slice length in minutes (0 when disabled).
func (s Slices) Minutes() int64 { return int64(s.Length / time.Minute) }

// Validate checks the slice length and target.
func (s Slices) Validate() error {
	if !s.Enabled() {
		return nil
	}
	m := s.Minutes()
	if s.Length%time.Minute != 0 || m < 1 || m > 60 || 60%m != 0 {
		return fmt.Errorf("slice %s: want whole minutes from 1m to 1h that divide the hour (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h)", s.Length)
	}
	if !(s.Target > 0 && s.Target <= 1) {
		return fmt.Errorf("sliceTarget %g: want a ratio in (0,1]", s.Target)
	}
	return nil
}

// Good reports whether a slice with good and total events (not excluded)
// is good: good/total >= Target, compared exactly as good >= Target*total
// would be in real numbers.
func (s Slices) Good(good, total uint64) bool {
	if total == 0 {
		return true
	}
	return float64(good)/float64(total) >= s.Target
}

// SlicePhase is the offset in minutes (0..59) of the slice grid of an
// objective in time zone loc: slices start at the Unix minutes m with
// (m + phase) mod length = 0, so that with any length dividing the hour
// the local midnights (and so every calendar boundary) start a slice:
// 30 for Asia/Kolkata (UTC+5:30) and Australia/Adelaide (UTC+9:30 and
// +10:30), 45 for Asia/Kathmandu (UTC+5:45), 0 for whole-hour zones. It is
// taken from the zone's offset on 1 January 2026; a zone whose offset
// changes by other than whole hours (Australia/Lord_Howe) keeps that grid.
func SlicePhase(loc *time.Location) int64 {
	if loc == nil {
		return 0
	}
	_, off := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Zone()
	p := int64(off/60) % 60
	if p < 0 {
		p += 60
	}
	return p
}

// SliceCounts are slices by verdict.
type SliceCounts struct {
	Good, Bad uint64
	// Excluded are the slices left out: wholly in maintenance, or empty
	// with SkipEmpty.
	Excluded uint64
}

// SliceWindow returns the status of a window judged in slices: Good and
// Total are good and judged (good + bad) slices, SLI their ratio, and the
// burn rate the bad share over the budget ratio 1-objective.
func SliceWindow(name string, c SliceCounts, objective float64) WindowStatus {
	return NewWindow(name, c.Good, c.Good+c.Bad, objective)
}

// SliceBudgetOf computes the budget of objective o in time-slice terms.
// The window holds windowSlices slices in all (its full length over the
// slice length), c counts the slices judged so far and sliceSeconds is a
// slice's length. The allowed downtime is (1-o) times the slices that are
// not left out (windowSlices - c.Excluded), in slices; the remaining
// seconds are the allowed minus the bad slices, times sliceSeconds, and
// the remaining ratio is their quotient (1 with nothing allowed and
// nothing bad, -Inf with nothing allowed and something bad). Exhaustion:
// the remaining seconds over the bad share of the slices in w5 (the
// slices overlapping the last 5 minutes); 0 when nothing remains.
func SliceBudgetOf(kind string, o float64, c SliceCounts, windowSlices int64, sliceSeconds float64, w5 WindowStatus) BudgetStatus {
	b := BudgetStatus{Kind: kind, Objective: o, RemainingRatio: 1}
	judged := max(windowSlices-int64(c.Excluded), 0)
	allowed := (1 - o) * float64(judged)
	bad := float64(c.Bad)
	switch {
	case allowed > 0:
		b.RemainingRatio = 1 - bad/allowed
		b.RemainingSeconds = (allowed - bad) * sliceSeconds
	case bad > 0:
		b.RemainingRatio = math.Inf(-1)
		b.RemainingSeconds = -bad * sliceSeconds
	}
	switch {
	case b.RemainingRatio <= 0:
		b.ExhaustionSeconds, b.HasExhaustion = 0, true
	case w5.Total > w5.Good:
		share := float64(w5.Total-w5.Good) / float64(w5.Total)
		b.ExhaustionSeconds, b.HasExhaustion = b.RemainingSeconds/share, true
	}
	return b
}

// Credit is one service-credit tier: when the SLA availability (or
// good-slice ratio) of a period is below Below, Percent of the period's
// fee is credited.
type Credit struct {
	Below   float64
	Percent float64
}

// CreditFor returns the credit due at availability: the largest Percent of
// the tiers whose Below is above it, 0 when none is. A period without
// events (HasSLI false) owes nothing: call it only with an availability.
func CreditFor(tiers []Credit, availability float64) float64 {
	p := 0.0
	for _, t := range tiers {
		if availability < t.Below {
			p = max(p, t.Percent)
		}
	}
	return p
}
