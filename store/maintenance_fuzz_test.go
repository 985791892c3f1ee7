package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/slogate/slogate/maintenance"
)

// FuzzMaintenanceRoundTrip: any window the API accepts is stored, loads
// again after a restart (nothing skipped) and is the same window. The seed
// corpus runs in every `go test`; a longer run:
//
//	go test -run '^$' -fuzz FuzzMaintenanceRoundTrip -fuzztime 5m ./store
func FuzzMaintenanceRoundTrip(f *testing.F) {
	f.Add("9999-12-31T23:00:00Z", "", "2h", "", "", "host", `shop\.example\.com`, "db upgrade")
	f.Add("2199-12-31T23:00:00Z", "2199-12-31T23:59:59.999999999Z", "", "", "", "", "", "")
	f.Add("2026-11-24T02:00:00+01:00", "2026-11-24T03:00:00Z", "", "", "", "", "", "")
	f.Add("2026-11-24T02:00:00", "2026-11-24T03:00", "", "", "Europe/Berlin", "", "", "")
	f.Add("2026-03-29T02:30:00", "", "1h", "FREQ=DAILY", "Europe/Berlin", "route", ".*", "")
	f.Add("2026-10-25T02:30:00", "", "2h", "FREQ=WEEKLY;BYDAY=SU;COUNT=3", "Europe/Berlin", "", "", "")
	f.Add("2026-11-24T02:00:00", "", "744h", "FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=21991231T000000Z", "Asia/Kathmandu", "", "", "")
	f.Add("2026-11-24T02:00:00", "", "1h", "FREQ=DAILY;UNTIL=99991231", "UTC", "", "", "")
	f.Add("1970-01-01T00:00:00Z", "", "1s", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, start, end, dur, rrule, tz, matchName, matchRe, reason string) {
		spec := maintenance.Spec{Start: start, End: end, Duration: dur, RRule: rrule, Timezone: tz, Reason: reason, Author: "fuzz"}
		if matchName != "" {
			spec.Match = map[string]string{matchName: matchRe}
		}
		dir := t.TempDir()
		now := func() time.Time { return time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC) }
		// No retroactive limit in effect: every valid window is accepted.
		s, err := OpenMaintenance(MaintenanceConfig{Dir: dir, RetroactiveLimit: 0, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Create(spec, "fuzz")
		if err != nil {
			return // refused on input: nothing is stored
		}
		s2, err := OpenMaintenance(MaintenanceConfig{Dir: dir, RetroactiveLimit: 0, Now: now})
		if err != nil {
			t.Fatalf("accepted %+v, then the start fails: %v", spec, err)
		}
		if st := s2.Stats(); st.WindowsSkipped != 0 || st.AuditSkipped != 0 || st.AuditRepaired != 0 {
			t.Fatalf("accepted %+v, then loading it skipped or repaired something: %+v", spec, st)
		}
		ws := s2.List()
		if len(ws) != 1 {
			t.Fatalf("accepted %+v, %d windows after restart, want 1", spec, len(ws))
		}
		got := ws[0]
		if got.ID != m.ID || !reflect.DeepEqual(got.Spec(), m.Spec()) || !got.Start.Equal(m.Start) || !got.End.Equal(m.End) ||
			got.Duration != m.Duration || got.RRule != m.RRule {
			t.Fatalf("accepted %+v:\nstored   %+v (%s..%s)\nreloaded %+v (%s..%s)", spec, m.Spec(), m.Start, m.End, got.Spec(), got.Start, got.End)
		}
		from, to := m.Start.UnixMilli(), m.Start.Add(400*24*time.Hour).UnixMilli()
		if a, b := m.AppendIntervals(nil, from, to), got.AppendIntervals(nil, from, to); !reflect.DeepEqual(a, b) {
			t.Fatalf("accepted %+v: intervals differ after the restart:\n%v\n%v", spec, a, b)
		}
	})
}
