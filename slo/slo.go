// Package slo is the math of objectives, independent of how events are
// counted: objectives as ratios (0.999, never percents), compliance windows
// (rolling, or calendar periods in a time zone), window status (SLI, burn
// rate), error budgets (remaining ratio and seconds, exhaustion time) and
// the release state. Every function is pure and commented with its formula
// (design.md, "Synthetic series").
//
// It imports only the standard library: package budget counts events and
// calls it; so may anything that renders or reports objectives.
package slo

import (
	"math"
	"time"
)

// WindowKind says how a compliance window moves.
type WindowKind uint8

const (
	// Rolling windows end at the evaluation time and have a fixed length.
	Rolling WindowKind = iota
	// Calendar windows start at the period boundary (month, week, quarter) in
	// the contract's time zone and end with the period.
	Calendar
)

// Window is an objective's compliance window.
type Window struct {
	Kind WindowKind
	// Length of a rolling window, e.g. 30*24h.
	Length time.Duration
	// Period of a calendar window: "month", "week" (starting Monday) or
	// "quarter".
	Period string
	// Location of a calendar window's boundaries.
	Location *time.Location
}

// ReleasePolicy turns the internal budget into a release state.
type ReleasePolicy struct {
	// Caution is the remaining-budget ratio below which the state is
	// "caution". Default 0.25.
	Caution float64
	// FreezeBurnRate1h is the 1h burn rate at or above which the state is
	// "freeze" even with budget left. Default 14.4. The state is also
	// "freeze" when the remaining ratio is at or below zero.
	FreezeBurnRate1h float64
}

// ShortWindows are the burn-rate windows of every route, shortest first;
// RouteStatus.Windows holds them in this order, then the compliance window.
var ShortWindows = [...]struct {
	Name    string
	Minutes int64
}{{"5m", 5}, {"30m", 30}, {"1h", 60}, {"2h", 120}, {"6h", 360}, {"1d", 1440}, {"3d", 4320}}

// Indexes into RouteStatus.Windows.
const (
	Window5m         = 0
	Window1h         = 2
	WindowCompliance = len(ShortWindows)
	NumWindows       = len(ShortWindows) + 1
)

// WindowStatus is one window of a route.
type WindowStatus struct {
	// Name is the synthetic label `window`: "5m" ... "3d", or the compliance
	// window's Label() ("30d", "month").
	Name string
	// Good and Total are the events in the window without excluded events.
	// For a latency source Good is capped at Total (a histogram's le
	// bucket and +Inf bucket may be scraped into different minutes).
	Good, Total uint64
	// SLI is Good/Total; absent (HasSLI false, SLI 0) when Total is 0.
	SLI    float64
	HasSLI bool
	// BurnRate is (bad/total)/(1-SLO), 0 when Total is 0.
	BurnRate float64
}

// BudgetStatus is the error budget of one objective over the compliance
// window.
type BudgetStatus struct {
	Kind      string  // "slo" or "sla"
	Objective float64 // e.g. 0.999
	// RemainingRatio is 1 - bad/allowed, allowed = (1-Objective)*total; 1
	// when total is 0; negative when overspent.
	RemainingRatio float64
	// RemainingSeconds is RemainingRatio * (1-Objective) * the compliance
	// window's full length in seconds (a calendar period's whole length).
	RemainingSeconds float64
	// ExhaustionSeconds is RemainingSeconds divided by the 5m error ratio:
	// how long until the budget is gone if the last 5 minutes continue. 0
	// when RemainingRatio <= 0; absent (HasExhaustion false) when nothing
	// failed in the last 5 minutes.
	ExhaustionSeconds float64
	HasExhaustion     bool
}

// ReleaseState is the release recommendation from the internal budget.
type ReleaseState uint8

const (
	ReleaseShip ReleaseState = iota
	ReleaseCaution
	ReleaseFreeze
)

// ReleaseStates lists every state, for rendering one gauge per state.
var ReleaseStates = [...]ReleaseState{ReleaseShip, ReleaseCaution, ReleaseFreeze}

func (s ReleaseState) String() string {
	switch s {
	case ReleaseCaution:
		return "caution"
	case ReleaseFreeze:
		return "freeze"
	}
	return "ship"
}

// ReleaseStateOf: freeze when the remaining ratio is at or below 0 or the
// 1h burn rate at or above FreezeBurnRate1h; caution when the remaining
// ratio is below Caution; ship otherwise.
func ReleaseStateOf(p ReleasePolicy, remaining, burn1h float64) ReleaseState {
	switch {
	case remaining <= 0 || burn1h >= p.FreezeBurnRate1h:
		return ReleaseFreeze
	case remaining < p.Caution:
		return ReleaseCaution
	}
	return ReleaseShip
}

// NewWindow returns the status of a window with good and total events (good
// capped at total) under objective slo.
func NewWindow(name string, good, total uint64, slo float64) WindowStatus {
	good, _ = GoodBad(good, total)
	w := WindowStatus{Name: name, Good: good, Total: total, BurnRate: BurnRate(good, total, slo)}
	if total > 0 {
		w.SLI = float64(good) / float64(total)
		w.HasSLI = true
	}
	return w
}

// GoodBad caps good at total and returns good and bad = total - good.
func GoodBad(good, total uint64) (uint64, uint64) {
	good = min(good, total)
	return good, total - good
}

// BurnRate is the error ratio over the budget ratio: (bad/total)/(1-slo);
// 0 when total is 0. An objective of 1 has no budget: any error burns at
// +Inf.
func BurnRate(good, total uint64, slo float64) float64 {
	if total == 0 || good >= total {
		return 0
	}
	errRatio := float64(total-good) / float64(total)
	if slo >= 1 {
		return math.Inf(1)
	}
	return errRatio / (1 - slo)
}

// BudgetOf computes the budget of objective o from the compliance window
// cw, its full length in seconds, and the 5m window w5.
func BudgetOf(kind string, o float64, cw WindowStatus, seconds float64, w5 WindowStatus) BudgetStatus {
	b := BudgetStatus{Kind: kind, Objective: o, RemainingRatio: 1}
	if cw.Total > 0 {
		bad := float64(cw.Total - cw.Good)
		if allowed := (1 - o) * float64(cw.Total); allowed > 0 {
			b.RemainingRatio = 1 - bad/allowed
		} else if bad > 0 {
			b.RemainingRatio = math.Inf(-1) // an objective of 1 has no budget
		}
	}
	if o < 1 {
		b.RemainingSeconds = b.RemainingRatio * (1 - o) * seconds
	}
	switch {
	case b.RemainingRatio <= 0:
		b.ExhaustionSeconds, b.HasExhaustion = 0, true
	case w5.Total > w5.Good:
		errRatio := float64(w5.Total-w5.Good) / float64(w5.Total)
		b.ExhaustionSeconds, b.HasExhaustion = b.RemainingSeconds/errRatio, true
	}
	return b
}
