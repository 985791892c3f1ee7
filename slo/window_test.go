package slo

import (
	"testing"
	"time"
	_ "time/tzdata" // the tests need real zones wherever they run
)

func TestWindowBoundsCalendar(t *testing.T) {
	f := func(period, tz, at, wantStart, wantEnd string, wantLen time.Duration) {
		t.Helper()
		w, err := ParseWindow(period, tz)
		if err != nil {
			t.Fatalf("ParseWindow(%q, %q): %v", period, tz, err)
		}
		ts, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		start, end := w.Bounds(ts)
		if got := start.UTC().Format(time.RFC3339); got != wantStart {
			t.Fatalf("%s %s at %s: start %s, want %s", period, tz, at, got, wantStart)
		}
		if got := end.UTC().Format(time.RFC3339); got != wantEnd {
			t.Fatalf("%s %s at %s: end %s, want %s", period, tz, at, got, wantEnd)
		}
		if got := w.LengthAt(ts); got != wantLen {
			t.Fatalf("%s %s at %s: length %s, want %s", period, tz, at, got, wantLen)
		}
		if !start.After(ts) && ts.Before(end) {
			return
		}
		t.Fatalf("%s %s: %s is not inside [%s, %s)", period, tz, at, start, end)
	}
	const day = 24 * time.Hour
	// Europe/Berlin: CET (+1) until 2026-03-29 02:00, CEST (+2) until 2026-10-25 03:00.
	f("month", "Europe/Berlin", "2026-11-15T12:00:00Z", "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z", 30*day)
	f("month", "Europe/Berlin", "2026-10-01T00:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z", 31*day+time.Hour)
	f("month", "Europe/Berlin", "2026-03-10T00:00:00Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z", 31*day-time.Hour)
	// Local midnight, not UTC midnight, starts the month: 23:30Z on Oct 31 is already November in Berlin.
	f("month", "Europe/Berlin", "2026-10-31T23:30:00Z", "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z", 30*day)
	f("month", "Europe/Berlin", "2026-10-31T22:59:59Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z", 31*day+time.Hour)
	f("month", "", "2028-02-10T00:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z", 29*day)
	// ISO weeks start on Monday. 2026-03-29 (a Sunday) has 23 hours in Berlin.
	f("week", "Europe/Berlin", "2026-03-29T12:00:00Z", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z", 167*time.Hour)
	f("week", "Europe/Berlin", "2026-10-25T12:00:00Z", "2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z", 169*time.Hour)
	f("week", "Europe/Berlin", "2026-03-22T23:00:00Z", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z", 167*time.Hour)
	f("week", "Europe/Berlin", "2026-03-22T22:59:59Z", "2026-03-15T23:00:00Z", "2026-03-22T23:00:00Z", 7*day)
	f("week", "UTC", "2026-01-01T00:00:00Z", "2025-12-29T00:00:00Z", "2026-01-05T00:00:00Z", 7*day) // Thursday
	f("week", "UTC", "2026-01-04T23:59:59Z", "2025-12-29T00:00:00Z", "2026-01-05T00:00:00Z", 7*day) // Sunday
	// America/New_York: EST (-5) until 2026-03-08 02:00, EDT (-4) until 2026-11-01 02:00.
	f("week", "America/New_York", "2026-03-08T12:00:00Z", "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z", 167*time.Hour)
	f("week", "America/New_York", "2026-11-01T12:00:00Z", "2026-10-26T04:00:00Z", "2026-11-02T05:00:00Z", 169*time.Hour)
	f("month", "America/New_York", "2026-11-30T12:00:00Z", "2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z", 30*day+time.Hour)
	f("month", "America/New_York", "2026-12-01T04:59:59Z", "2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z", 30*day+time.Hour)
	// Quarters: Q1 loses an hour in both zones, Q4 gains one, Q2 and Q3 are whole days.
	f("quarter", "Europe/Berlin", "2026-02-01T00:00:00Z", "2025-12-31T23:00:00Z", "2026-03-31T22:00:00Z", 90*day-time.Hour)
	f("quarter", "Europe/Berlin", "2026-05-01T00:00:00Z", "2026-03-31T22:00:00Z", "2026-06-30T22:00:00Z", 91*day)
	f("quarter", "Europe/Berlin", "2026-12-31T22:59:59Z", "2026-09-30T22:00:00Z", "2026-12-31T23:00:00Z", 92*day+time.Hour)
	f("quarter", "America/New_York", "2026-08-15T00:00:00Z", "2026-07-01T04:00:00Z", "2026-10-01T04:00:00Z", 92*day)
	f("quarter", "America/New_York", "2027-01-01T04:59:59Z", "2026-10-01T04:00:00Z", "2027-01-01T05:00:00Z", 92*day+time.Hour)
}

func TestWindowRolling(t *testing.T) {
	w, err := ParseWindow("30d", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
	start, end := w.Bounds(now)
	if !end.Equal(now) || now.Sub(start) != 30*24*time.Hour || w.LengthAt(now) != 30*24*time.Hour {
		t.Fatalf("rolling 30d at %s: [%s, %s) %s", now, start, end, w.LengthAt(now))
	}
}

func TestParseWindow(t *testing.T) {
	f := func(s, tz, wantLabel string, wantKind WindowKind, wantLen time.Duration) {
		t.Helper()
		w, err := ParseWindow(s, tz)
		if err != nil {
			t.Fatalf("ParseWindow(%q, %q): %v", s, tz, err)
		}
		if w.Label() != wantLabel || w.Kind != wantKind || w.Length != wantLen {
			t.Fatalf("ParseWindow(%q, %q) = %+v label %q", s, tz, w, w.Label())
		}
	}
	f("30d", "", "30d", Rolling, 30*24*time.Hour)
	f("28d", "Europe/Berlin", "28d", Rolling, 28*24*time.Hour)
	f("7d", "", "7d", Rolling, 7*24*time.Hour)
	f("100d", "", "100d", Rolling, 100*24*time.Hour)
	f("36h", "", "36h0m0s", Rolling, 36*time.Hour)
	f("48h", "", "2d", Rolling, 48*time.Hour)
	f("month", "Europe/Berlin", "month", Calendar, 0)
	f("week", "", "week", Calendar, 0)
	f("quarter", "UTC", "quarter", Calendar, 0)
	if w, _ := ParseWindow("month", ""); w.Location != time.UTC {
		t.Fatalf("calendar window without tz must be UTC, got %v", w.Location)
	}

	bad := func(s, tz, want string) {
		t.Helper()
		_, err := ParseWindow(s, tz)
		if err == nil || err.Error() != want {
			t.Fatalf("ParseWindow(%q, %q): got %v, want %s", s, tz, err, want)
		}
	}
	bad("", "", "empty window; want <n>d (e.g. 30d), month, week, quarter or year")
	bad("0d", "", `invalid window "0d"; want <n>d with n in 1..366, month, week, quarter or year`)
	bad("367d", "", `invalid window "367d"; want <n>d with n in 1..366, month, week, quarter or year`)
	bad("monthly", "", `invalid window "monthly"; want <n>d (e.g. 30d), month, week, quarter or year`)
	bad("30m", "", `invalid window "30m"; a rolling window is whole minutes between 1h and 366d`)
	bad("90m30s", "", `invalid window "90m30s"; a rolling window is whole minutes between 1h and 366d`)
	bad("month", "Mars/Olympus", `unknown time zone "Mars/Olympus"; want an IANA name such as Europe/Berlin`)
	bad("month", "Local", `unknown time zone "Local"; want an IANA name such as Europe/Berlin`)
	bad("month", "../../etc/passwd", `unknown time zone "../../etc/passwd"; want an IANA name such as Europe/Berlin`)
}
