package openslo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/slo"
)

// shorthand is an OpenSLO duration-shorthand: a positive integer and one
// of m h d w M Q Y.
type shorthand struct {
	n    int
	unit byte
}

func parseShorthand(s string) (shorthand, error) {
	if len(s) < 2 || !strings.ContainsRune("mhdwMQY", rune(s[len(s)-1])) {
		return shorthand{}, fmt.Errorf("want a duration-shorthand such as 30d, 4w, 1M, 1Q or 1Y, got %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 1_000_000 {
		return shorthand{}, fmt.Errorf("want a duration-shorthand such as 30d, 4w, 1M, 1Q or 1Y, got %q", s)
	}
	return shorthand{n, s[len(s)-1]}, nil
}

// fixed returns the length of a shorthand in m, h, d or w.
func (d shorthand) fixed() (time.Duration, bool) {
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[d.unit]
	return time.Duration(d.n) * unit, unit > 0
}

// window reads spec.timeWindow: one rolling window (a fixed length that
// slogate's rolling windows take: whole minutes from 1h to 366d) or one
// calendar window of 1w, 1M, 1Q or 1Y whose startTime, if given, is a
// period boundary. Without timeWindow the window is slogate's default, 30d.
func (im *importer) window(r reader, n *yaml.Node, ru *rule) {
	items := r.seq(n, "spec.timeWindow")
	if len(items) == 0 {
		ru.window = "30d"
		return
	}
	if len(items) > 1 {
		r.errf(items[1], "spec.timeWindow", "exactly one time window, got %d", len(items))
		return
	}
	const p = "spec.timeWindow[0]"
	f := r.fields(items[0], p, "duration", "isRolling", "calendar")
	ds, ok := r.str(f["duration"], p+".duration")
	if !ok {
		r.errf(items[0], p+".duration", "required")
		return
	}
	d, err := parseShorthand(ds)
	if err != nil {
		r.errf(f["duration"], p+".duration", "%v", err)
		return
	}
	rolling := f["calendar"] == nil
	if v := f["isRolling"]; v != nil {
		rolling, _ = r.boolean(v, p+".isRolling")
	}
	if rolling {
		if f["calendar"] != nil {
			r.errf(f["calendar"], p+".calendar", "a rolling window has no calendar")
			return
		}
		length, ok := d.fixed()
		if !ok {
			r.errf(f["duration"], p+".duration", "%s has no fixed length: a rolling window is m, h, d or w; for months, quarters and years use a calendar window", ds)
			return
		}
		win := fmtRolling(length)
		if _, err := slo.ParseWindow(win, ""); err != nil {
			r.errf(f["duration"], p+".duration", "%s: a rolling window is whole minutes from 1h to %dd", ds, slo.MaxRollingDays)
			return
		}
		ru.window = win
		return
	}
	period := map[byte]string{'w': slo.PeriodWeek, 'M': slo.PeriodMonth, 'Q': slo.PeriodQuarter, 'Y': slo.PeriodYear}[d.unit]
	if d.n != 1 || period == "" {
		r.errf(f["duration"], p+".duration", "%s: slogate's calendar windows are one week (1w), month (1M), quarter (1Q) or year (1Y)", ds)
		return
	}
	cal := r.fields(f["calendar"], p+".calendar", "startTime", "timeZone")
	tz, _ := r.str(cal["timeZone"], p+".calendar.timeZone")
	loc, err := slo.LoadLocation(tz)
	if err != nil {
		r.errf(cal["timeZone"], p+".calendar.timeZone", "%v", err)
		return
	}
	if v := cal["startTime"]; v != nil {
		s, _ := r.str(v, p+".calendar.startTime")
		if !periodStart(s, period, loc) {
			r.errf(v, p+".calendar.startTime", "%q: slogate's %ss start at midnight of their first day (a Monday, the 1st, a quarter's or the year's first day), e.g. 2024-01-01 00:00:00", s, period)
			return
		}
	}
	ru.window, ru.tz = period, tz
	if tz == "UTC" {
		ru.tz = ""
	}
}

// periodStart reports whether s (2006-01-02 15:04:05, a local time) is the
// start of a period.
func periodStart(s, period string, loc *time.Location) bool {
	var t time.Time
	var err error
	for _, layout := range []string{time.DateTime, "2006-01-02T15:04:05", time.DateOnly} {
		if t, err = time.ParseInLocation(layout, s, loc); err == nil {
			break
		}
	}
	if err != nil || t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 {
		return false
	}
	switch period {
	case slo.PeriodWeek:
		return t.Weekday() == time.Monday
	case slo.PeriodMonth:
		return t.Day() == 1
	case slo.PeriodQuarter:
		return t.Day() == 1 && (t.Month()-1)%3 == 0
	}
	return t.Day() == 1 && t.Month() == time.January
}

// fmtRolling writes a rolling length as config reads it: 30d, 36h or 90m.
func fmtRolling(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
}

// objectives reads budgetingMethod and objectives: one objective is the
// SLO; with two, the higher target is the SLO and the lower the SLA.
func (im *importer) objectives(r reader, spec map[string]*yaml.Node, ru *rule) {
	bm, ok := r.str(spec["budgetingMethod"], "spec.budgetingMethod")
	switch {
	case !ok:
		r.errf(spec["objectives"], "spec.budgetingMethod", "required: Occurrences or Timeslices")
		return
	case bm == "Occurrences":
	case bm == "Timeslices":
		ru.budgeting = "timeslices"
	case bm == "RatioTimeslices":
		r.errf(spec["budgetingMethod"], "spec.budgetingMethod", "RatioTimeslices (the mean of the slices' ratios) is not supported; use Timeslices or Occurrences")
		return
	default:
		r.errf(spec["budgetingMethod"], "spec.budgetingMethod", "want Occurrences or Timeslices, got %q", bm)
		return
	}
	items := r.seq(spec["objectives"], "spec.objectives")
	if len(items) == 0 || len(items) > 2 {
		r.errf(orNode(spec["objectives"], spec["budgetingMethod"]), "spec.objectives", "want one objective (the SLO) or two (SLO and SLA), got %d", len(items))
		return
	}
	var targets [2]float64
	var slices [2]slo.Slices
	for i, it := range items {
		p := fmt.Sprintf("spec.objectives[%d]", i)
		f := r.fields(it, p, "displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow",
			"indicator", "indicatorRef", "compositeWeight")
		for _, k := range [...]string{"indicator", "indicatorRef", "compositeWeight"} {
			if f[k] != nil {
				r.errf(f[k], p+"."+k, "composite SLOs are not supported: one indicator per SLO (a service sums routes instead)")
				return
			}
		}
		if f["value"] != nil {
			r.errf(f["value"], p+".value", "value compares a thresholdMetric; a ratio SLI has only a target")
			return
		}
		switch t, tp := f["target"], f["targetPercent"]; {
		case t != nil && tp != nil:
			r.errf(tp, p+".targetPercent", "give target or targetPercent, not both")
			return
		case t != nil:
			targets[i], ok = r.float(t, p+".target")
		case tp != nil:
			targets[i], ok = r.float(tp, p+".targetPercent")
			// 99.95/100 is not 0.9995 in binary; rounding to 12 digits is.
			targets[i] = math.Round(targets[i]*1e10) / 1e12
		default:
			r.errf(it, p+".target", "required: target or targetPercent")
			return
		}
		if !ok {
			return
		}
		if !(targets[i] > 0 && targets[i] < 1) {
			r.errf(orNode(f["target"], f["targetPercent"]), p+".target", "must be in (0,1) (targetPercent in (0,100)), got %s", strconv.FormatFloat(targets[i], 'g', -1, 64))
			return
		}
		sw, st := f["timeSliceWindow"], f["timeSliceTarget"]
		if ru.budgeting != "timeslices" {
			if v := orNode(sw, st); v != nil {
				r.errf(v, p, "timeSliceTarget and timeSliceWindow only with budgetingMethod: Timeslices")
				return
			}
			continue
		}
		if sw == nil || st == nil {
			r.errf(it, p, "Timeslices need timeSliceTarget and timeSliceWindow")
			return
		}
		s, ok := r.str(sw, p+".timeSliceWindow")
		if !ok {
			return
		}
		if n, err := strconv.Atoi(s); err == nil {
			slices[i].Length = time.Duration(n) * time.Minute // a bare number is minutes
		} else if d, err := parseShorthand(s); err == nil {
			slices[i].Length, _ = d.fixed()
		}
		if slices[i].Target, ok = r.float(st, p+".timeSliceTarget"); !ok {
			return
		}
		if err := slices[i].Validate(); err != nil || !slices[i].Enabled() {
			if slices[i].Length%time.Minute != 0 || slices[i].Minutes() < 1 || slices[i].Minutes() > 60 || 60%slices[i].Minutes() != 0 {
				r.errf(sw, p+".timeSliceWindow", "%q: slogate's slices are whole minutes from 1m to 1h that divide the hour (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h)", s)
			} else {
				r.errf(st, p+".timeSliceTarget", "must be in (0,1], got %s", strconv.FormatFloat(slices[i].Target, 'g', -1, 64))
			}
			return
		}
		if i == 1 && slices[1] != slices[0] {
			r.errf(it, p, "the SLO and the SLA share one slice length and slice target in slogate; objectives[0] has %s and %g", slices[0].Length, slices[0].Target)
			return
		}
	}
	ru.slo = targets[0]
	if len(items) == 2 {
		ru.slo, ru.sla = max(targets[0], targets[1]), min(targets[0], targets[1])
	}
	if ru.budgeting == "timeslices" {
		ru.slice = fmtSlice(slices[0].Length)
		ru.sliceTarget = slices[0].Target
	}
}

func fmtSlice(d time.Duration) string {
	if d == time.Hour {
		return "1h"
	}
	return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
}

// parseCredits reads the credits annotation: below:percent tiers separated
// by commas, e.g. "0.999:10,0.99:25".
func parseCredits(s string) ([]slo.Credit, error) {
	var out []slo.Credit
	for _, tier := range strings.Split(s, ",") {
		b, p, ok := strings.Cut(strings.TrimSpace(tier), ":")
		below, err1 := strconv.ParseFloat(b, 64)
		percent, err2 := strconv.ParseFloat(p, 64)
		if !ok || err1 != nil || err2 != nil || !(below > 0 && below <= 1) || !(percent > 0 && percent <= 100) {
			return nil, fmt.Errorf("want below:percent tiers such as 0.999:10,0.99:25, got %q", tier)
		}
		out = append(out, slo.Credit{Below: below, Percent: percent})
	}
	return out, nil
}
