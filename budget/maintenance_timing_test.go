package budget

import (
	"testing"
	"time"
)

// BenchmarkAppendIntervals expands 90 days of a weekly window, as the
// engine does for a quarter.
func BenchmarkAppendIntervals(b *testing.B) {
	m, err := NewMaintenance(MaintenanceSpec{Start: "2026-01-06T02:00:00", RRule: "FREQ=WEEKLY;BYDAY=TU", Duration: "2h", Timezone: "Europe/Berlin"}, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	to := from + 90*24*3600*1000
	dst := make([]Interval, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		dst = m.AppendIntervals(dst[:0], from, to)
	}
}

// BenchmarkAppendIntervalsDaily is the worst common case: a daily window
// over a quarter.
func BenchmarkAppendIntervalsDaily(b *testing.B) {
	m, err := NewMaintenance(MaintenanceSpec{Start: "2020-01-01T02:00:00", RRule: "FREQ=DAILY", Duration: "15m", Timezone: "America/New_York"}, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	to := from + 92*24*3600*1000
	dst := make([]Interval, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = m.AppendIntervals(dst[:0], from, to)
	}
}
