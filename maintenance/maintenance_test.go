package maintenance

import (
	"github.com/slogate/slogate/budget"

	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestNewErrors(t *testing.T) {
	f := func(spec Spec, wantField, want string) {
		t.Helper()
		_, err := New(spec, time.Time{})
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%+v: want a *FieldError, got %v", spec, err)
		}
		if fe.Field != wantField || err.Error() != want {
			t.Fatalf("%+v:\ngot  %s (field %s)\nwant %s (field %s)", spec, err, fe.Field, want, wantField)
		}
	}
	const s, e = "2026-11-24T02:00:00Z", "2026-11-24T03:00:00Z"
	f(Spec{End: e}, "start", "start: required")
	f(Spec{Start: "tomorrow", End: e}, "start", `start: want an RFC 3339 time such as 2026-11-24T02:00:00Z, got "tomorrow"`)
	f(Spec{Start: "2026-11-24T02:00:00", End: e}, "start", `start: "2026-11-24T02:00:00" has no UTC offset; add one (e.g. 2026-11-24T02:00:00Z) or set timezone`)
	const outOfRange = "is out of range: times must be from 1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z"
	f(Spec{Start: "0001-01-01T00:00:00Z", End: e}, "start", "start: 0001-01-01T00:00:00Z "+outOfRange)
	f(Spec{Start: "1970-01-01T00:30:00+01:00", End: e}, "start", "start: 1969-12-31T23:30:00Z "+outOfRange)
	// The repro of a window that bricked the start: its end, one hour into
	// the year 10000, could be stored but not read back.
	f(Spec{Start: "9999-12-31T23:00:00Z", Duration: "2h"}, "start", "start: 9999-12-31T23:00:00Z "+outOfRange)
	f(Spec{Start: "2199-12-31T23:00:00Z", Duration: "2h"}, "duration", "duration: start plus duration: 2200-01-01T01:00:00Z "+outOfRange)
	f(Spec{Start: "2199-12-31T23:00:00Z", End: "2200-01-01T00:00:00Z"}, "end", "end: 2200-01-01T00:00:00Z "+outOfRange)
	f(Spec{Start: s, Duration: "2562047h"}, "duration", "duration: start plus duration: 2319-03-06T01:00:00Z "+outOfRange)
	f(Spec{Start: s}, "end", "end: required (or duration, or rrule with duration)")
	f(Spec{Start: s, End: s}, "end", "end: must be after start")
	f(Spec{Start: e, End: s}, "end", "end: must be after start")
	f(Spec{Start: s, End: e, Duration: "1h"}, "duration", "duration: give end or duration, not both")
	f(Spec{Start: s, Duration: "-1h"}, "duration", `duration: want a positive Go duration such as 2h or 90m, got "-1h"`)
	f(Spec{Start: s, Duration: "1.5s"}, "duration", "duration: must be whole seconds, got 1.5s")
	f(Spec{Start: s, End: e, Match: map[string]string{"host": "shop(\\.acme"}}, "match.host", `match.host: invalid regexp "shop(\\.acme": missing closing )`)
	f(Spec{Start: s, End: e, Match: map[string]string{"1host": "x"}}, "match", `match: "1host" is not a valid label name`)
	f(Spec{Start: s, End: e, Timezone: "Europe/Paris2"}, "timezone", `timezone: unknown time zone "Europe/Paris2"; want an IANA name such as Europe/Berlin`)
	f(Spec{Start: s, End: e, Reason: string(make([]byte, 2000))}, "reason", "reason: too long: 2000 bytes, at most 1024")
	// Recurring windows.
	rec := func(rrule, start, dur, tz string) Spec {
		return Spec{RRule: rrule, Start: start, Duration: dur, Timezone: tz}
	}
	f(rec("FREQ=WEEKLY;BYDAY=TU", "2026-01-06T02:00:00", "", "Europe/Berlin"), "duration", "duration: required with rrule")
	f(rec("FREQ=WEEKLY;BYDAY=TU", "2026-01-06T02:00:00", "2h", ""), "timezone", "timezone: required with rrule: occurrences keep their local wall time (use UTC to opt out)")
	f(rec("FREQ=WEEKLY;BYDAY=TU", "2026-01-06T02:00:00", "800h", "UTC"), "duration", "duration: at most 744h0m0s for a recurring window, got 800h")
	f(rec("FREQ=HOURLY", "2026-01-06T02:00:00", "1h", "UTC"), "rrule", "rrule: FREQ=HOURLY is not supported; want DAILY, WEEKLY or MONTHLY")
	f(rec("FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31", "2026-02-01T02:00:00", "1h", "UTC"), "rrule", "rrule: selects no day within 120 years of start")
	f(rec("FREQ=DAILY;UNTIL=20260101T000000Z", "2026-01-06T02:00:00", "1h", "UTC"), "rrule", "rrule: UNTIL is before the first occurrence")
	f(rec("FREQ=DAILY", "2026-01-06T02:00:00.5", "1h", "UTC"), "start", `start: must be whole seconds for a recurring window, got "2026-01-06T02:00:00.5"`)
	spec := rec("FREQ=DAILY", "2026-01-06T02:00:00", "1h", "UTC")
	spec.End = "2026-02-01T00:00:00Z"
	f(spec, "end", "end: not used with rrule; bound the series with COUNT or UNTIL in rrule")
}

func TestMaintenanceOneOff(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	m, err := New(Spec{
		Start: "2026-11-24T03:00:00+01:00", End: "2026-11-24T03:00:00Z",
		Match: map[string]string{"host": `shop\.acme\.com`, "customer": "acme|globex"}, Reason: "db upgrade", Author: "ops",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Created.Equal(now) || m.RRule != "" || m.Duration != time.Hour || m.ID != "" || m.Source != "" {
		t.Fatalf("unexpected window: %+v", m)
	}
	s, e := msOf(t, "2026-11-24T02:00:00Z"), msOf(t, "2026-11-24T03:00:00Z")
	f := func(from, to int64, want ...budget.Interval) {
		t.Helper()
		if got := m.AppendIntervals(nil, from, to); !slices.Equal(got, want) {
			t.Fatalf("AppendIntervals(%d, %d) = %v, want %v", from, to, got, want)
		}
	}
	f(s-1000, s)
	f(s-1000, s+1, budget.Interval{Start: s, End: e})
	f(e-1, e+1000, budget.Interval{Start: s, End: e})
	f(e, e+1000)
	f(s+10, s+20, budget.Interval{Start: s, End: e})

	g := func(want bool, labels ...budget.Label) {
		t.Helper()
		if m.Matches(labels) != want {
			t.Fatalf("Matches(%v) != %v", labels, want)
		}
	}
	g(true, budget.Label{Name: "host", Value: "shop.acme.com"}, budget.Label{Name: "customer", Value: "acme"})
	g(true, budget.Label{Name: "source", Value: "istio"}, budget.Label{Name: "customer", Value: "globex"}, budget.Label{Name: "host", Value: "shop.acme.com"})
	g(false, budget.Label{Name: "host", Value: "shop.acme.com"})                                                     // customer absent matches as ""
	g(false, budget.Label{Name: "host", Value: "shopXacme.com"}, budget.Label{Name: "customer", Value: "acme"})      // the dot is escaped
	g(false, budget.Label{Name: "host", Value: "shop.acme.com.evil"}, budget.Label{Name: "customer", Value: "acme"}) // anchored
	g(false, budget.Label{Name: "host", Value: "shop.acme.com"}, budget.Label{Name: "customer", Value: "acme-2"})    // anchored alternation

	all, err := New(Spec{Start: "2026-11-24T02:00:00Z", Duration: "30m"}, now)
	if err != nil || !all.Matches(nil) || all.End.Sub(all.Start) != 30*time.Minute {
		t.Fatalf("window without match must match every route: %v %+v", err, all)
	}
}

func TestMaintenanceSpecRoundTrip(t *testing.T) {
	for _, spec := range []Spec{
		{Start: "2026-11-24T03:00:00+01:00", Duration: "90m", Match: map[string]string{"host": `a\.b`}, Reason: "r", Author: "a"},
		{Start: "2026-01-06T02:00:00", RRule: "rrule:freq=weekly;byday=tu", Duration: "2h", Timezone: "Europe/Berlin", Match: map[string]string{"customer": "acme"}},
		{Start: "2026-01-06T01:00:00Z", RRule: "FREQ=WEEKLY;BYDAY=TU;COUNT=4", Duration: "2h", Timezone: "Europe/Berlin"},
	} {
		m1, err := New(spec, time.Time{})
		if err != nil {
			t.Fatalf("%+v: %v", spec, err)
		}
		// Through JSON, as the API and snapshots carry it.
		data, err := json.Marshal(m1.Spec())
		if err != nil {
			t.Fatal(err)
		}
		var back Spec
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		m2, err := New(back, time.Time{})
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if !reflect.DeepEqual(m1.Spec(), m2.Spec()) {
			t.Fatalf("round trip changed the window:\n%+v\n%+v", m1.Spec(), m2.Spec())
		}
		from, to := msOf(t, "2026-01-01T00:00:00Z"), msOf(t, "2027-01-01T00:00:00Z")
		if !slices.Equal(m1.AppendIntervals(nil, from, to), m2.AppendIntervals(nil, from, to)) {
			t.Fatalf("round trip changed the occurrences of %s", data)
		}
	}
	m, _ := New(Spec{Start: "2026-01-06T01:00:00Z", RRule: "freq=weekly", Duration: "2h", Timezone: "Europe/Berlin"}, time.Time{})
	if got := m.Spec(); got.Start != "2026-01-06T02:00:00" || got.RRule != "FREQ=WEEKLY" || got.Duration != "2h0m0s" {
		t.Fatalf("normalized spec: %+v", got)
	}
}

func TestMaintenanceAppendIntervalsAllocs(t *testing.T) {
	m, err := New(Spec{Start: "2026-01-06T02:00:00", RRule: "FREQ=WEEKLY;BYDAY=TU", Duration: "2h", Timezone: "Europe/Berlin"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	from := msOf(t, "2026-02-01T00:00:00Z")
	to := from + 90*24*3600*1000
	dst := make([]budget.Interval, 0, 64)
	if n := len(m.AppendIntervals(dst, from, to)); n != 13 {
		t.Fatalf("90 days of Tuesdays: got %d occurrences, want 13", n)
	}
	if allocs := testing.AllocsPerRun(100, func() { dst = m.AppendIntervals(dst[:0], from, to) }); allocs != 0 {
		t.Fatalf("AppendIntervals allocates %v times per call", allocs)
	}
}
