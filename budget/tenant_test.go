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
