package maintenance

import (
	"github.com/slogate/slogate/budget"

	"testing"
	"time"
)

// benchAppendIntervals expands days of a recurring window from February
// 2026, as the engine does for a compliance window.
func benchAppendIntervals(b *testing.B, spec Spec, days int64) {
	m, err := New(spec, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	to := from + days*24*3600*1000
	dst := make([]budget.Interval, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = m.AppendIntervals(dst[:0], from, to)
	}
}

// BenchmarkAppendIntervals expands 90 days of a weekly window, as the
// engine does for a quarter.
func BenchmarkAppendIntervals(b *testing.B) {
	benchAppendIntervals(b, Spec{Start: "2026-01-06T02:00:00", RRule: "FREQ=WEEKLY;BYDAY=TU", Duration: "2h", Timezone: "Europe/Berlin"}, 90)
}

// BenchmarkAppendIntervalsDaily is the worst common case: a daily window
// over a quarter.
func BenchmarkAppendIntervalsDaily(b *testing.B) {
	benchAppendIntervals(b, Spec{Start: "2020-01-01T02:00:00", RRule: "FREQ=DAILY", Duration: "15m", Timezone: "America/New_York"}, 92)
}
