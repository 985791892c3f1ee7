package slo

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window periods of calendar windows.
const (
	PeriodMonth   = "month"
	PeriodWeek    = "week"
	PeriodQuarter = "quarter"
	PeriodYear    = "year"
)

// MaxRollingDays bounds rolling windows: a year, leap years included.
// Rolling windows up to 100 days keep hour buckets beyond the minute
// horizon, longer ones day buckets (see package budget).
const MaxRollingDays = 366

// Bounds returns the window that an evaluation at t looks at, as the
// half-open range [start, end).
//
// A rolling window is (t-Length, t]: it ends at t and slides with it, so it
// is returned as start = t-Length, end = t. A calendar window is the whole
// period (month, ISO week starting Monday, quarter, year) containing t, with both
// boundaries at local midnight in w.Location (UTC when nil). Boundaries are
// computed on the wall clock, so a period spanning a DST change is 1 h
// shorter or longer than its days times 24 h.
func (w Window) Bounds(t time.Time) (start, end time.Time) {
	if w.Kind != Calendar {
		return t.Add(-w.Length), t
	}
	loc := w.loc()
	y, m, d := t.In(loc).Date()
	switch w.Period {
	case PeriodWeek:
		// ISO weeks start on Monday; time.Weekday has Sunday = 0.
		back := (int(t.In(loc).Weekday()) + 6) % 7
		start = time.Date(y, m, d-back, 0, 0, 0, 0, loc)
		end = time.Date(y, m, d-back+7, 0, 0, 0, 0, loc)
	case PeriodYear:
		start = time.Date(y, 1, 1, 0, 0, 0, 0, loc)
		end = time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
	case PeriodQuarter:
		qm := time.Month((int(m)-1)/3*3 + 1)
		start = time.Date(y, qm, 1, 0, 0, 0, 0, loc)
		end = time.Date(y, qm+3, 1, 0, 0, 0, 0, loc)
	default: // PeriodMonth; ParseWindow admits no other period.
		start = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		end = time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	}
	return start, end
}

// LengthAt returns the full length of the window that contains t: Length
// for a rolling window, end - start of the calendar period containing t
// (e.g. 31*24h+1h for October 2026 in Europe/Berlin). The error budget in
// seconds is computed over this length. (It cannot be called Length: that
// is the field of rolling windows.)
func (w Window) LengthAt(t time.Time) time.Duration {
	if w.Kind != Calendar {
		return w.Length
	}
	start, end := w.Bounds(t)
	return end.Sub(start)
}

// Label returns the value of the synthetic label `window` for the window:
// "30d" for rolling windows of whole days, a Go duration ("36h0m0s")
// otherwise, and the period ("month", "week", "quarter", "year") for calendar
// windows.
func (w Window) Label() string {
	if w.Kind == Calendar {
		return w.Period
	}
	const day = 24 * time.Hour
	if w.Length > 0 && w.Length%day == 0 {
		return strconv.FormatInt(int64(w.Length/day), 10) + "d"
	}
	return w.Length.String()
}

func (w Window) loc() *time.Location {
	if w.Location == nil {
		return time.UTC
	}
	return w.Location
}

// ParseWindow parses a compliance window: "<n>d" (rolling, n whole days,
// 1 to 366) or a Go duration of whole minutes between 1h and 366 days
// (rolling), or "month", "week", "quarter", "year" (calendar, boundaries in time
// zone tz; "" means UTC). tz is validated for rolling windows too, but only
// calendar windows keep a Location.
func ParseWindow(s, tz string) (Window, error) {
	loc, err := LoadLocation(tz)
	if err != nil {
		return Window{}, err
	}
	switch s {
	case PeriodMonth, PeriodWeek, PeriodQuarter, PeriodYear:
		return Window{Kind: Calendar, Period: s, Location: loc}, nil
	case "":
		return Window{}, fmt.Errorf("empty window; want <n>d (e.g. 30d), month, week, quarter or year")
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > MaxRollingDays {
			return Window{}, fmt.Errorf("invalid window %q; want <n>d with n in 1..%d, month, week, quarter or year", s, MaxRollingDays)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return Window{}, fmt.Errorf("invalid window %q; want <n>d (e.g. 30d), month, week, quarter or year", s)
		}
		if d < time.Hour || d > MaxRollingDays*24*time.Hour || d%time.Minute != 0 {
			return Window{}, fmt.Errorf("invalid window %q; a rolling window is whole minutes between 1h and %dd", s, MaxRollingDays)
		}
	}
	return Window{Kind: Rolling, Length: d}, nil
}

// LoadLocation loads an IANA time zone; "" is UTC. "Local" is refused: a
// contract's boundaries must not depend on the host slogate runs on.
func LoadLocation(tz string) (*time.Location, error) {
	if tz == "" || tz == "UTC" {
		return time.UTC, nil
	}
	if tz == "Local" || len(tz) > 64 {
		return nil, fmt.Errorf("unknown time zone %q; want an IANA name such as Europe/Berlin", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; want an IANA name such as Europe/Berlin", tz)
	}
	return loc, nil
}
