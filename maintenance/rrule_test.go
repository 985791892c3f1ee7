package maintenance

import (
	"github.com/slogate/slogate/budget"

	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// occurrences expands a recurring window over [from, to) as RFC 3339 UTC
// start times.
func occurrences(t *testing.T, rrule, start, dur, tz, from, to string) []string {
	t.Helper()
	m, err := New(Spec{Start: start, RRule: rrule, Duration: dur, Timezone: tz}, time.Time{})
	if err != nil {
		t.Fatalf("New(%s, %s): %v", rrule, start, err)
	}
	var out []string
	for _, iv := range m.AppendIntervals(nil, msOf(t, from), msOf(t, to)) {
		out = append(out, time.UnixMilli(iv.Start).UTC().Format(time.RFC3339))
	}
	return out
}

func msOf(t testing.TB, s string) int64 {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UnixMilli()
}

func TestRRuleOccurrences(t *testing.T) {
	f := func(rrule, start, tz, from, to, want string) {
		t.Helper()
		got := strings.Join(occurrences(t, rrule, start, "1h", tz, from, to), " ")
		if got != want {
			t.Fatalf("%s from %s (%s) over [%s, %s):\ngot  %s\nwant %s", rrule, start, tz, from, to, got, want)
		}
	}
	// Weekly Tuesday 02:00 Berlin keeps its wall time: 01:00Z in winter, 00:00Z after 2026-03-29.
	f("FREQ=WEEKLY;BYDAY=TU", "2026-01-06T02:00:00", "Europe/Berlin", "2026-03-15T00:00:00Z", "2026-04-08T00:00:00Z",
		"2026-03-17T01:00:00Z 2026-03-24T01:00:00Z 2026-03-31T00:00:00Z 2026-04-07T00:00:00Z")
	f("FREQ=WEEKLY;BYDAY=TU", "2026-01-06T02:00:00", "Europe/Berlin", "2026-10-19T00:00:00Z", "2026-11-04T00:00:00Z",
		"2026-10-20T00:00:00Z 2026-10-27T01:00:00Z 2026-11-03T01:00:00Z")
	// Nothing before DTSTART; BYDAY defaults to DTSTART's weekday.
	f("FREQ=WEEKLY", "2026-01-06T02:00:00", "Europe/Berlin", "2025-12-01T00:00:00Z", "2026-01-21T00:00:00Z",
		"2026-01-06T01:00:00Z 2026-01-13T01:00:00Z 2026-01-20T01:00:00Z")
	// Every other week, two days; weeks are counted from DTSTART's week.
	f("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", "2026-01-07T12:00:00", "UTC", "2026-01-01T00:00:00Z", "2026-02-03T00:00:00Z",
		"2026-01-09T12:00:00Z 2026-01-19T12:00:00Z 2026-01-23T12:00:00Z 2026-02-02T12:00:00Z")
	// Monthly on the last Friday (New York).
	f("FREQ=MONTHLY;BYDAY=-1FR", "2026-01-01T22:00:00", "America/New_York", "2026-01-01T00:00:00Z", "2026-05-01T00:00:00Z",
		"2026-01-31T03:00:00Z 2026-02-28T03:00:00Z 2026-03-28T02:00:00Z 2026-04-25T02:00:00Z")
	// First Sunday and the 15th; the last day of the month; the 31st skips short months.
	f("FREQ=MONTHLY;BYDAY=1SU", "2026-01-01T03:00:00", "UTC", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z",
		"2026-01-04T03:00:00Z 2026-02-01T03:00:00Z 2026-03-01T03:00:00Z")
	f("FREQ=MONTHLY;BYMONTHDAY=15,-1", "2026-01-15T00:00:00", "UTC", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z",
		"2026-01-15T00:00:00Z 2026-01-31T00:00:00Z 2026-02-15T00:00:00Z 2026-02-28T00:00:00Z")
	f("FREQ=MONTHLY;BYMONTHDAY=31", "2026-01-31T00:00:00", "UTC", "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z",
		"2026-01-31T00:00:00Z 2026-03-31T00:00:00Z 2026-05-31T00:00:00Z")
	f("FREQ=MONTHLY", "2026-01-31T00:00:00", "UTC", "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z",
		"2026-01-31T00:00:00Z 2026-03-31T00:00:00Z 2026-05-31T00:00:00Z")
	// Friday the 13th: BYDAY limits BYMONTHDAY.
	f("FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", "2026-01-01T00:00:00", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"2026-02-13T00:00:00Z 2026-03-13T00:00:00Z 2026-11-13T00:00:00Z")
	// Daily on weekdays, every third day.
	f("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "2026-01-09T06:00:00", "UTC", "2026-01-01T00:00:00Z", "2026-01-14T00:00:00Z",
		"2026-01-09T06:00:00Z 2026-01-12T06:00:00Z 2026-01-13T06:00:00Z")
	f("FREQ=DAILY;INTERVAL=3", "2026-01-01T06:00:00", "UTC", "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z",
		"2026-01-07T06:00:00Z 2026-01-10T06:00:00Z")
	// COUNT and UNTIL bound the series.
	f("FREQ=WEEKLY;BYDAY=TU;COUNT=3", "2026-01-06T02:00:00", "Europe/Berlin", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"2026-01-06T01:00:00Z 2026-01-13T01:00:00Z 2026-01-20T01:00:00Z")
	f("FREQ=WEEKLY;BYDAY=TU,TH;COUNT=3", "2026-01-08T02:00:00", "Europe/Berlin", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"2026-01-08T01:00:00Z 2026-01-13T01:00:00Z 2026-01-15T01:00:00Z")
	f("FREQ=DAILY;UNTIL=20260103T020000Z", "2026-01-01T02:00:00", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"2026-01-01T02:00:00Z 2026-01-02T02:00:00Z 2026-01-03T02:00:00Z")
	f("FREQ=DAILY;UNTIL=20260103T015959Z", "2026-01-01T02:00:00", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"2026-01-01T02:00:00Z 2026-01-02T02:00:00Z")
	f("FREQ=DAILY;UNTIL=20260102", "2026-01-01T23:00:00", "Europe/Berlin", "2025-12-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"2026-01-01T22:00:00Z 2026-01-02T22:00:00Z")
	f("FREQ=DAILY;UNTIL=20260102T230000", "2026-01-01T23:00:00", "Europe/Berlin", "2025-12-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"2026-01-01T22:00:00Z 2026-01-02T22:00:00Z")
	// Spring forward: 02:30 does not exist on 2026-03-29 in Berlin; time.Date makes it 03:30 CEST (01:30Z).
	f("FREQ=DAILY", "2026-03-27T02:30:00", "Europe/Berlin", "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z",
		"2026-03-27T01:30:00Z 2026-03-28T01:30:00Z 2026-03-29T01:30:00Z 2026-03-30T00:30:00Z")
	// A one-hour window still open at `from` is returned (unclipped).
	f("FREQ=DAILY", "2026-01-01T02:00:00", "UTC", "2026-01-02T02:30:00Z", "2026-01-03T00:00:00Z", "2026-01-02T02:00:00Z")
	f("FREQ=DAILY", "2026-01-01T02:00:00", "UTC", "2026-01-02T03:00:00Z", "2026-01-03T00:00:00Z", "")
	// A DTSTART long ago costs nothing extra, and an empty range returns nothing.
	f("FREQ=WEEKLY;BYDAY=SA", "1971-01-02T00:00:00", "UTC", "2026-01-01T00:00:00Z", "2026-01-11T00:00:00Z",
		"2026-01-03T00:00:00Z 2026-01-10T00:00:00Z")
	f("FREQ=DAILY", "2026-01-01T02:00:00", "UTC", "2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z", "")
}

func TestRRuleOverlappingOccurrencesMerge(t *testing.T) {
	m, err := New(Spec{Start: "2026-01-01T00:00:00", RRule: "FREQ=DAILY", Duration: "36h", Timezone: "UTC"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := m.AppendIntervals([]budget.Interval{{Start: 1, End: 2}}, msOf(t, "2026-01-02T00:00:00Z"), msOf(t, "2026-01-04T00:00:00Z"))
	want := []budget.Interval{{Start: 1, End: 2}, {Start: msOf(t, "2026-01-01T00:00:00Z"), End: msOf(t, "2026-01-04T12:00:00Z")}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseRRuleErrors(t *testing.T) {
	f := func(rule, want string) {
		t.Helper()
		_, err := ParseRRule(rule)
		if err == nil || err.Error() != want {
			t.Fatalf("ParseRRule(%q): got %v, want %s", rule, err, want)
		}
	}
	f("", "empty rule; want e.g. FREQ=WEEKLY;BYDAY=TU")
	f("BYDAY=TU", "FREQ is missing; want FREQ=DAILY, WEEKLY or MONTHLY")
	f("FREQ=YEARLY", "FREQ=YEARLY is not supported; want DAILY, WEEKLY or MONTHLY")
	f("FREQ=SOMETIMES", "FREQ=SOMETIMES is unknown; want DAILY, WEEKLY or MONTHLY")
	f("FREQ=WEEKLY;BYHOUR=2", "BYHOUR is not supported; supported parts: FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL, WKST")
	f("FREQ=MONTHLY;BYSETPOS=-1", "BYSETPOS is not supported; supported parts: FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL, WKST")
	f("FREQ=WEEKLY;COLOR=RED", `unknown part "COLOR"; supported parts: FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL, WKST`)
	f("FREQ=WEEKLY;;BYDAY=TU", `part "": want NAME=VALUE`)
	f("FREQ=WEEKLY;FREQ=DAILY", "FREQ given twice")
	f("FREQ=WEEKLY;INTERVAL=0", "INTERVAL=0: want an integer in 1..1000")
	f("FREQ=WEEKLY;COUNT=x", "COUNT=X: want an integer in 1..10000")
	f("FREQ=WEEKLY;COUNT=2;UNTIL=20261231", "COUNT and UNTIL must not both be given")
	f("FREQ=WEEKLY;UNTIL=2026-12-31", "UNTIL=2026-12-31: want 20060102T150405Z (UTC), 20060102T150405 (local) or 20060102")
	f("FREQ=WEEKLY;BYDAY=TUE", `BYDAY=TUE: "TUE" is not a weekday (MO..SU)`)
	f("FREQ=WEEKLY;BYDAY=1TU", "BYDAY with an ordinal (e.g. -1FR) needs FREQ=MONTHLY")
	f("FREQ=MONTHLY;BYDAY=6TU", `BYDAY=6TU: ordinal in "6TU" must be 1..5 or -5..-1`)
	f("FREQ=MONTHLY;BYDAY=0TU", `BYDAY=0TU: ordinal in "0TU" must be 1..5 or -5..-1`)
	f("FREQ=MONTHLY;BYMONTHDAY=32", `BYMONTHDAY=32: "32" must be 1..31 or -31..-1`)
	f("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY must not be used with FREQ=WEEKLY")
	f("FREQ=WEEKLY;WKST=SU", "WKST=SU is not supported; weeks start on Monday (WKST=MO)")
	f(strings.Repeat("x", 600), "too long: 600 bytes, at most 512")
}

func TestParseRRuleAccepts(t *testing.T) {
	for _, rule := range []string{"RRULE:FREQ=WEEKLY;BYDAY=TU", "freq=weekly;byday=tu", " FREQ=WEEKLY ; BYDAY = TU ", "FREQ=WEEKLY;WKST=MO;BYDAY=TU"} {
		r, err := ParseRRule(rule)
		if err != nil {
			t.Fatalf("ParseRRule(%q): %v", rule, err)
		}
		if r.freq != freqWeekly || r.byDay != 1<<1 {
			t.Fatalf("ParseRRule(%q) = %+v", rule, r)
		}
	}
}

// refRule is an independent, brute-force model of the supported subset: it
// walks every day with the time package and decides each day from scratch.
type refRule struct {
	freq     string
	interval int
	byDay    []time.Weekday
	byOrd    map[time.Weekday][]int
	byMD     []int
	count    int
}

func (r refRule) String() string {
	parts := []string{"FREQ=" + r.freq}
	if r.interval > 1 {
		parts = append(parts, fmt.Sprintf("INTERVAL=%d", r.interval))
	}
	var days []string
	for _, d := range r.byDay {
		days = append(days, weekdayCodes[(int(d)+6)%7])
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		for _, n := range r.byOrd[d] {
			days = append(days, fmt.Sprintf("%d%s", n, weekdayCodes[(int(d)+6)%7]))
		}
	}
	if len(days) > 0 {
		parts = append(parts, "BYDAY="+strings.Join(days, ","))
	}
	if len(r.byMD) > 0 {
		var s []string
		for _, d := range r.byMD {
			s = append(s, fmt.Sprint(d))
		}
		parts = append(parts, "BYMONTHDAY="+strings.Join(s, ","))
	}
	if r.count > 0 {
		parts = append(parts, fmt.Sprintf("COUNT=%d", r.count))
	}
	return strings.Join(parts, ";")
}

func (r refRule) selects(start, day time.Time) bool {
	dim := time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	mdOK := len(r.byMD) == 0 || slices.Contains(r.byMD, day.Day()) || slices.Contains(r.byMD, day.Day()-dim-1)
	nth, nthLast := (day.Day()-1)/7+1, -((dim-day.Day())/7 + 1)
	wdOK := len(r.byDay) == 0 && len(r.byOrd) == 0 || slices.Contains(r.byDay, day.Weekday()) ||
		slices.Contains(r.byOrd[day.Weekday()], nth) || slices.Contains(r.byOrd[day.Weekday()], nthLast)
	days := int(day.Sub(start).Hours() / 24)
	switch r.freq {
	case "DAILY":
		return days%r.interval == 0 && mdOK && wdOK
	case "WEEKLY":
		monday := func(t time.Time) time.Time { return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)) }
		weeks := int(monday(day).Sub(monday(start)).Hours()/24) / 7
		if len(r.byDay) == 0 {
			return weeks%r.interval == 0 && day.Weekday() == start.Weekday()
		}
		return weeks%r.interval == 0 && wdOK
	default:
		months := (day.Year()-start.Year())*12 + int(day.Month()-start.Month())
		if len(r.byMD) == 0 && len(r.byDay) == 0 && len(r.byOrd) == 0 {
			return months%r.interval == 0 && day.Day() == start.Day()
		}
		return months%r.interval == 0 && mdOK && wdOK
	}
}

// randomRule draws a rule of the subset: DAILY, WEEKLY or MONTHLY, an
// INTERVAL of 1 to 3, BYDAY (with ordinals for MONTHLY), BYMONTHDAY and
// COUNT, each present at random.
func randomRule(rng *rand.Rand) refRule {
	r := refRule{freq: []string{"DAILY", "WEEKLY", "MONTHLY"}[rng.IntN(3)], interval: 1 + rng.IntN(3)*rng.IntN(2), byOrd: map[time.Weekday][]int{}}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if rng.IntN(5) == 0 {
			r.byDay = append(r.byDay, d)
		}
		if r.freq == "MONTHLY" && rng.IntN(8) == 0 {
			r.byOrd[d] = append(r.byOrd[d], []int{1, 2, 3, 4, 5, -1, -2, -5}[rng.IntN(8)])
		}
	}
	if r.freq != "WEEKLY" && rng.IntN(3) == 0 {
		r.byMD = append(r.byMD, []int{1, 13, 29, 30, 31, -1, -2, -31}[rng.IntN(8)])
	}
	if rng.IntN(3) == 0 {
		r.count = 1 + rng.IntN(20)
	}
	return r
}

func TestRRuleAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	berlin := mustLoc(t, "Europe/Berlin")
	compared := 0
	for i := 0; i < 400; i++ {
		r := randomRule(rng)
		start := time.Date(2025, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 15*rng.IntN(4), 0, 0, time.UTC)
		// Reference: walk every civil day for two years.
		var want []string
		n := 0
		from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		for day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC); day.Before(to.AddDate(0, 0, 2)); day = day.AddDate(0, 0, 1) {
			if !r.selects(time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC), day) {
				continue
			}
			if n++; r.count > 0 && n > r.count {
				break
			}
			occ := time.Date(day.Year(), day.Month(), day.Day(), start.Hour(), start.Minute(), 0, 0, berlin)
			if occ.Add(time.Minute).After(from) && occ.Before(to) {
				want = append(want, occ.UTC().Format(time.RFC3339))
			}
		}
		m, err := New(Spec{Start: start.Format("2006-01-02T15:04:05"), RRule: r.String(), Duration: "1m", Timezone: "Europe/Berlin"}, time.Time{})
		if err != nil {
			if len(want) == 0 && strings.Contains(err.Error(), "selects no day") {
				continue
			}
			t.Fatalf("%s from %s: %v", r, start, err)
		}
		var got []string
		for _, iv := range m.AppendIntervals(nil, from.UnixMilli(), to.UnixMilli()) {
			got = append(got, time.UnixMilli(iv.Start).UTC().Format(time.RFC3339))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s from %s:\ngot  %v\nwant %v", r, start.Format("2006-01-02T15:04"), got, want)
		}
		if len(want) > 0 {
			compared++
		}
	}
	if compared < 200 {
		t.Fatalf("only %d random rules had occurrences to compare", compared)
	}
}

func TestCivilDays(t *testing.T) {
	for d := -800_000; d < 800_000; d += 37 {
		y, m, dd := civilFromDays(d)
		tm := time.Unix(int64(d)*86400, 0).UTC()
		if y != tm.Year() || m != int(tm.Month()) || dd != tm.Day() || daysFromCivil(y, m, dd) != d {
			t.Fatalf("day %d: civil %d-%d-%d, time %s", d, y, m, dd, tm)
		}
		if weekdayOf(d) != (int(tm.Weekday())+6)%7 {
			t.Fatalf("day %d: weekday %d, time %s", d, weekdayOf(d), tm.Weekday())
		}
		if daysIn(y, m) != time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
			t.Fatalf("daysIn(%d, %d) = %d", y, m, daysIn(y, m))
		}
	}
}

func FuzzParseRRule(f *testing.F) {
	for _, s := range []string{"FREQ=WEEKLY;BYDAY=TU", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=5", "FREQ=DAILY;INTERVAL=3;UNTIL=20261231T000000Z",
		"FREQ=MONTHLY;BYMONTHDAY=31,-1;BYDAY=MO", "RRULE:freq=daily;byday=mo,tu", "FREQ=WEEKLY;BYHOUR=2", "FREQ=MONTHLY;BYDAY=+5SU"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRRule(s)
		if err != nil {
			return
		}
		if _, err := ParseRRule(r.String()); err != nil {
			t.Fatalf("String() of %q does not parse again: %v", s, err)
		}
		// Expansion must terminate and stay ordered for any rule that parses.
		m, err := New(Spec{Start: "2026-01-31T02:30:00", RRule: s, Duration: "1h", Timezone: "Europe/Berlin"}, time.Time{})
		if err != nil {
			return
		}
		ivs := m.AppendIntervals(nil, 1767225600000, 1767225600000+400*86400000)
		for i := 1; i < len(ivs); i++ {
			if ivs[i].Start <= ivs[i-1].End {
				t.Fatalf("%q: intervals out of order or overlapping: %v %v", s, ivs[i-1], ivs[i])
			}
		}
	})
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("cannot load %s: %v", name, err)
	}
	return loc
}
