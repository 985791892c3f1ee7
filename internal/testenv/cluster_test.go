package testenv

import (
	"strings"
	"testing"
)

func TestParseTenant(t *testing.T) {
	f := func(s, account, project string, ok bool) {
		t.Helper()
		a, p, err := parseTenant(s)
		if (err == nil) != ok || a != account || p != project {
			t.Fatalf("parseTenant(%q) = %q, %q, %v; want %q, %q, ok %v", s, a, p, err, account, project, ok)
		}
	}
	f("0", "0", "0", true)
	f("42", "42", "0", true)
	f("1:2", "1", "2", true)
	f("4294967295:4294967295", "4294967295", "4294967295", true)
	f("4294967296", "", "", false)
	f("", "", "", false)
	f("a:0", "", "", false)
	f("1:", "1", "0", true)
	f("-1", "", "", false)
}

func TestStripTenantLabels(t *testing.T) {
	in := `{"metric":{"__name__":"m","a":"x","vm_account_id":"1","vm_project_id":"0"},"values":[1,null],"timestamps":[1000,2000]}
{"metric":{"__name__":"n"},"values":["Infinity"],"timestamps":[3000]}
`
	var out strings.Builder
	if err := stripTenantLabels(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	got, err := ParseExport([]byte(out.String()))
	if err != nil {
		t.Fatalf("cannot parse the stripped export %q: %s", out.String(), err)
	}
	if len(got) != 2 || got[0].Key() != `m{a="x"}` || got[1].Key() != `n{}` {
		t.Fatalf("stripped export = %+v", got)
	}
	if len(got[0].Values) != 2 || got[0].Values[0] != 1 || got[0].Timestamps[1] != 2000 {
		t.Fatalf("samples changed: %+v", got[0])
	}
	if err := stripTenantLabels(&out, strings.NewReader("not json\n")); err == nil {
		t.Fatal("stripTenantLabels accepted a line that is not JSON")
	}
}
