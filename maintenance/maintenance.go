// Package maintenance is the maintenance window: its JSON and YAML form
// (Spec), validation, the route selection, and the expansion of one-off and
// recurring windows (an RFC 5545 RRULE subset, DST-exact in any time zone)
// into the intervals the engine masks (budget.Mask).
//
// It is pure like budget: no file, network or clock of its own, and it
// imports only budget and slo of slogate's packages. Storing windows is
// package store's job; serving them is package ui's.
package maintenance

import (
	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"

	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// Where a maintenance window comes from.
const (
	FromConfig = "config"
	FromAPI    = "api"
)

// Bounds on a maintenance window's input: a window is stored, snapshotted
// and shown on every status page, so its size must not be up to the sender.
const (
	maxReasonLen        = 1024
	maxAuthorLen        = 256
	maxRecurringLength  = 31 * 24 * time.Hour
	maxIntervalsPerCall = 100_000
	countHorizonDays    = 100 * 366 // COUNT occurrences are looked for this far
	firstOccurrenceDays = 10 * 366  // a rule must select a day this soon (times INTERVAL)
)

// The range of a window's times (start, and the end of a one-off window,
// also one computed from start and duration): [MinTime, MaxTime). A window
// is written back as RFC 3339 in UTC and read again at every start, so every
// instant it holds must have a four-digit UTC year, and nothing outside
// this range is a plausible maintenance window.
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Spec is a maintenance window as users write it, in the config
// file (`maintenance:` items) and in the JSON API:
//
//	{"start": "2026-11-24T02:00:00Z", "end": "2026-11-24T03:00:00Z",
//	 "match": {"host": "shop\\.example\\.com"}, "reason": "db upgrade",
//	 "author": "ops"}
//
// A one-off window has start and end (or start and duration). A recurring
// window has rrule, duration and timezone; start is the first occurrence
// (DTSTART) as local wall time in timezone, e.g. "2026-01-06T02:00:00".
// Times are RFC 3339; without a UTC offset they are local times in timezone.
// match maps label names to regular expressions, anchored, over the route's
// identity labels, its contract labels and `source`; no match applies the
// window to every route of the tenant.
type Spec struct {
	Start    string            `json:"start" yaml:"start"`
	End      string            `json:"end,omitempty" yaml:"end,omitempty"`
	Match    map[string]string `json:"match,omitempty" yaml:"match,omitempty"`
	Reason   string            `json:"reason,omitempty" yaml:"reason,omitempty"`
	Author   string            `json:"author,omitempty" yaml:"author,omitempty"`
	RRule    string            `json:"rrule,omitempty" yaml:"rrule,omitempty"`
	Duration string            `json:"duration,omitempty" yaml:"duration,omitempty"`
	Timezone string            `json:"timezone,omitempty" yaml:"timezone,omitempty"`
}

// Window is a validated maintenance window; it implements budget.Mask. Build
// it with New: the unexported fields are derived from the
// exported ones there. It is immutable afterwards and safe for concurrent
// use.
type Window struct {
	// ID identifies the window in the API and the audit log; the caller
	// that stores the window assigns it.
	ID string
	// Start and End of a one-off window, [Start, End). For a recurring
	// window Start is DTSTART in Location and End is zero.
	Start, End time.Time
	// RRule, Duration and Location of a recurring window: each occurrence
	// starts at Start's wall-clock time in Location on the days RRule
	// selects and lasts Duration. RRule is "" for a one-off window.
	RRule    string
	Duration time.Duration
	Location *time.Location
	// Match holds anchored regular expressions over label values; a label
	// that is absent matches as "".
	Match map[string]*regexp.Regexp
	// Reason and Author are free text for the audit log and reports.
	Reason, Author string
	// Source is MaintenanceFromConfig or MaintenanceFromAPI; the caller
	// sets it.
	Source string
	// Created is when the window was added.
	Created time.Time

	spec    Spec            // normalized, for Spec
	match   budget.Matchers // Match sorted by name
	rule    RRule
	day0    int   // civil day of DTSTART
	hh, mi  int   // wall clock of DTSTART
	ss      int   //
	startMs int64 // Start in Unix ms
	endMs   int64 // one-off End in Unix ms
	durMs   int64 // Duration in ms
	lastMs  int64 // recurring: latest occurrence start (COUNT, UNTIL), else maxInt64
}

// FieldError is a validation error naming the offending field with a dotted
// path, e.g. "match.host"; the API answers it with 400/422 and the config
// parser adds file and line.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// New validates spec and returns the window it describes, with
// Created = now. ID and Source are left to the caller. Retroactive limits
// are the caller's policy too: New accepts windows in the past.
// Every error is a *FieldError.
//
// A recurring occurrence keeps its local wall time across DST changes
// (02:00 Europe/Berlin is 01:00Z in winter and 00:00Z in summer). On the
// spring-forward day a wall time that does not exist is normalized as
// time.Date does it: 02:30 becomes 03:30 summer time (01:30Z), the instant
// 02:30 winter time would have been. On the fall-back day a repeated wall
// time is the one instant time.Date picks (currently the later,
// standard-time one).
func New(spec Spec, now time.Time) (*Window, error) {
	m := &Window{Reason: spec.Reason, Author: spec.Author, Created: now}
	if len(spec.Reason) > maxReasonLen {
		return nil, fieldErr("reason", "too long: %d bytes, at most %d", len(spec.Reason), maxReasonLen)
	}
	if len(spec.Author) > maxAuthorLen {
		return nil, fieldErr("author", "too long: %d bytes, at most %d", len(spec.Author), maxAuthorLen)
	}
	// Stored as JSON, which would replace invalid bytes: the window would
	// not read back as written.
	if !utf8.ValidString(spec.Reason) {
		return nil, fieldErr("reason", "not valid UTF-8")
	}
	if !utf8.ValidString(spec.Author) {
		return nil, fieldErr("author", "not valid UTF-8")
	}
	loc, err := slo.LoadLocation(spec.Timezone)
	if err != nil {
		return nil, &FieldError{Field: "timezone", Err: err}
	}
	if m.Match, m.match, err = compileMatch(spec.Match); err != nil {
		return nil, err
	}
	if spec.RRule != "" && spec.Timezone == "" {
		return nil, fieldErr("timezone", "required with rrule: occurrences keep their local wall time (use UTC to opt out)")
	}
	if spec.Start == "" {
		return nil, fieldErr("start", "required")
	}
	start, err := parseMaintenanceTime(spec.Start, spec.Timezone, loc)
	if err != nil {
		return nil, &FieldError{Field: "start", Err: err}
	}
	var dur time.Duration
	if spec.Duration != "" {
		if dur, err = time.ParseDuration(spec.Duration); err != nil || dur <= 0 {
			return nil, fieldErr("duration", "want a positive Go duration such as 2h or 90m, got %q", spec.Duration)
		}
		if dur%time.Second != 0 {
			return nil, fieldErr("duration", "must be whole seconds, got %s", spec.Duration)
		}
	}
	if spec.RRule == "" {
		err = m.initOneOff(spec, start, dur, loc)
	} else {
		err = m.initRecurring(spec, start, dur, loc)
	}
	if err != nil {
		return nil, err
	}
	m.spec = m.normalizedSpec(spec)
	return m, nil
}

func (m *Window) initOneOff(spec Spec, start time.Time, dur time.Duration, loc *time.Location) error {
	var end time.Time
	switch {
	case spec.End != "" && spec.Duration != "":
		return fieldErr("duration", "give end or duration, not both")
	case spec.End != "":
		var err error
		if end, err = parseMaintenanceTime(spec.End, spec.Timezone, loc); err != nil {
			return &FieldError{Field: "end", Err: err}
		}
	case spec.Duration != "":
		end = start.Add(dur)
	default:
		return fieldErr("end", "required (or duration, or rrule with duration)")
	}
	if !end.After(start) {
		return fieldErr("end", "must be after start")
	}
	if err := checkRange(end); err != nil {
		// An explicit end is checked when parsed.
		return &FieldError{Field: "duration", Err: fmt.Errorf("start plus duration: %w", err)}
	}
	m.Start, m.End = start, end
	m.startMs, m.endMs = start.UnixMilli(), end.UnixMilli()
	m.durMs = m.endMs - m.startMs
	m.Duration = end.Sub(start)
	return nil
}

func (m *Window) initRecurring(spec Spec, start time.Time, dur time.Duration, loc *time.Location) error {
	if spec.End != "" {
		return fieldErr("end", "not used with rrule; bound the series with COUNT or UNTIL in rrule")
	}
	if spec.Duration == "" {
		return fieldErr("duration", "required with rrule")
	}
	if dur > maxRecurringLength {
		return fieldErr("duration", "at most %s for a recurring window, got %s", maxRecurringLength, spec.Duration)
	}
	rule, err := ParseRRule(spec.RRule)
	if err != nil {
		return &FieldError{Field: "rrule", Err: err}
	}
	if start.Nanosecond() != 0 {
		// Stored as local wall time to the second (normalizedSpec).
		return fieldErr("start", "must be whole seconds for a recurring window, got %q", spec.Start)
	}
	start = start.In(loc)
	y, mo, d := start.Date()
	m.day0 = daysFromCivil(y, int(mo), d)
	m.hh, m.mi, m.ss = start.Clock()
	m.rule, m.RRule, m.Location = rule, rule.String(), loc
	m.Start, m.Duration = start, dur
	m.startMs, m.durMs = start.UnixMilli(), dur.Milliseconds()
	m.lastMs = rule.untilMs(loc)

	first, ok := rule.nextDay(m.day0, m.day0, m.day0+firstOccurrenceDays*rule.interval)
	if !ok {
		return fieldErr("rrule", "selects no day within %d years of start", 10*rule.interval)
	}
	if m.occurrence(first) > m.lastMs {
		return fieldErr("rrule", "UNTIL is before the first occurrence")
	}
	if rule.count > 0 {
		// Turn COUNT into the start of the last occurrence, once, so that
		// AppendIntervals never has to count from DTSTART.
		day, n := first, 1
		for n < rule.count {
			next, ok := rule.nextDay(m.day0, day+1, m.day0+countHorizonDays)
			if !ok {
				break
			}
			day, n = next, n+1
		}
		m.lastMs = m.occurrence(day)
	}
	return nil
}

// occurrence returns the start (Unix ms) of the occurrence on civil day d.
func (m *Window) occurrence(d int) int64 {
	y, mo, dd := civilFromDays(d)
	return time.Date(y, time.Month(mo), dd, m.hh, m.mi, m.ss, 0, m.Location).UnixMilli()
}

// parseMaintenanceTime parses RFC 3339, or a local time without offset
// ("2006-01-02T15:04:05" or "2006-01-02T15:04") when a time zone is given.
func parseMaintenanceTime(s, tz string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, checkRange(t)
	}
	for _, layout := range [...]string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if tz == "" {
				return time.Time{}, fmt.Errorf("%q has no UTC offset; add one (e.g. 2026-11-24T02:00:00Z) or set timezone", s)
			}
			return t, checkRange(t)
		}
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time such as 2026-11-24T02:00:00Z, got %q", s)
}

// checkRange refuses an instant outside [MinTime, MaxTime).
func checkRange(t time.Time) error {
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return fmt.Errorf("%s is out of range: times must be from %s up to (not including) %s",
			t.UTC().Format(time.RFC3339Nano), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}

// compileMatch validates and compiles a match map: label names must be
// valid, patterns are anchored. The slice is sorted by name, so matching
// is deterministic and does not iterate a map.
func compileMatch(src map[string]string) (map[string]*regexp.Regexp, budget.Matchers, error) {
	if len(src) > budget.MaxMatchLabels {
		return nil, nil, fieldErr("match", "too many labels: %d, at most %d", len(src), budget.MaxMatchLabels)
	}
	if len(src) == 0 {
		return nil, nil, nil
	}
	out := make(map[string]*regexp.Regexp, len(src))
	list := make(budget.Matchers, 0, len(src))
	for _, name := range slices.Sorted(maps.Keys(src)) {
		if !budget.ValidLabelName(name) {
			return nil, nil, fieldErr("match", "%q is not a valid label name", name)
		}
		if !utf8.ValidString(src[name]) {
			return nil, nil, fieldErr("match."+name, "not valid UTF-8")
		}
		re, err := budget.CompileAnchored(src[name])
		if err != nil {
			return nil, nil, &FieldError{Field: "match." + name, Err: err}
		}
		out[name] = re
		list = append(list, budget.LabelMatcher{Name: name, Re: re})
	}
	return out, list, nil
}

// Matches implements Mask: labels are the route's identity labels, its
// contract labels and `source`, in one slice.
func (m *Window) Matches(labels []budget.Label) bool {
	return m.match.Match(labels, nil, "")
}

// AppendIntervals implements Mask: it appends the occurrences that overlap
// [from, to) (Unix ms) in ascending order, unclipped; overlapping
// occurrences of a recurring window are merged. At most 100,000 intervals
// are appended per call. It allocates only to grow dst.
func (m *Window) AppendIntervals(dst []budget.Interval, from, to int64) []budget.Interval {
	if to <= from {
		return dst
	}
	if m.RRule == "" {
		if m.startMs < to && m.endMs > from {
			dst = append(dst, budget.Interval{Start: m.startMs, End: m.endMs})
		}
		return dst
	}
	if to <= m.startMs || m.lastMs != maxInt64 && from > m.lastMs+m.durMs {
		return dst
	}
	// An occurrence starting at s overlaps iff s < to and s+dur > from. The
	// civil-day range is widened by a day on each side: a local day and the
	// UTC instants of its wall times differ by up to a day.
	lo := max(from, m.startMs) - m.durMs
	firstDay := civilDay(time.UnixMilli(lo), m.Location) - 1
	lastDay := civilDay(time.UnixMilli(min(to, m.lastMs)), m.Location) + 1
	n0 := len(dst)
	for d := firstDay; ; d++ {
		day, ok := m.rule.nextDay(m.day0, d, lastDay)
		if !ok {
			break
		}
		d = day
		s := m.occurrence(day)
		if s >= to || s > m.lastMs || len(dst)-n0 >= maxIntervalsPerCall {
			break
		}
		e := s + m.durMs
		if e <= from || s < m.startMs {
			continue
		}
		if n := len(dst); n > n0 && s <= dst[n-1].End {
			dst[n-1].End = max(dst[n-1].End, e)
			continue
		}
		dst = append(dst, budget.Interval{Start: s, End: e})
	}
	return dst
}

// Spec returns the window in the shape New takes, normalized
// (times in RFC 3339, rule in upper case), so that New(m.Spec(),
// m.Created) rebuilds the same window: the API shows it and snapshots store
// it.
func (m *Window) Spec() Spec {
	s := m.spec
	s.Match = maps.Clone(m.spec.Match)
	return s
}

func (m *Window) normalizedSpec(in Spec) Spec {
	s := Spec{Reason: m.Reason, Author: m.Author, Timezone: in.Timezone}
	if len(in.Match) > 0 {
		s.Match = maps.Clone(in.Match)
	}
	if m.RRule == "" {
		s.Start = m.Start.UTC().Format(time.RFC3339Nano)
		s.End = m.End.UTC().Format(time.RFC3339Nano)
		return s
	}
	s.Start = m.Start.Format("2006-01-02T15:04:05")
	s.RRule = m.RRule
	s.Duration = m.Duration.String()
	return s
}
