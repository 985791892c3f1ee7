package budget

import "testing"

func TestParseTenant(t *testing.T) {
	f := func(in string, want Tenant, ok bool) {
		t.Helper()
		got, err := ParseTenant([]byte(in))
		if (err == nil) != ok || got != want {
			t.Fatalf("%q: got %v, %v", in, got, err)
		}
	}
	f("0", Tenant{}, true)
	f("42", Tenant{AccountID: 42}, true)
	f("42:7", Tenant{AccountID: 42, ProjectID: 7}, true)
	f("4294967296", Tenant{}, false)
	f("a:1", Tenant{}, false)
	f("1:", Tenant{}, false)
	f("", Tenant{}, false)
}

func TestTenantString(t *testing.T) {
	for _, tn := range []Tenant{{}, {AccountID: 42}, {AccountID: 42, ProjectID: 7}, {AccountID: 1<<32 - 1, ProjectID: 1<<32 - 1}} {
		got, err := ParseTenant([]byte(tn.String()))
		if err != nil || got != tn {
			t.Fatalf("%v: String %q parses to %v, %v", tn, tn.String(), got, err)
		}
	}
}

// TestIntervalMinutes: a minute is masked when its start lies in the
// interval.
func TestIntervalMinutes(t *testing.T) {
	f := func(start, end, wantFrom, wantTo int64) {
		t.Helper()
		if from, to := (Interval{Start: start, End: end}).Minutes(); from != wantFrom || to != wantTo {
			t.Fatalf("[%d, %d): minutes [%d, %d), want [%d, %d)", start, end, from, to, wantFrom, wantTo)
		}
	}
	f(0, 60_000, 0, 1)
	f(1, 60_000, 1, 1)        // minute 0 starts before the interval
	f(0, 60_001, 0, 2)        // minute 1 starts inside
	f(-60_000, 0, -1, 0)      // before 1970 too
	f(-59_999, 1, 0, 1)       // minute -1 starts at -60000, outside
	f(120_000, 120_000, 2, 2) // empty
}
