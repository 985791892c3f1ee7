package ui

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func TestCell(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
	f("", "")
	f("shop.acme.com/", "shop.acme.com/")
	f("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")")
	f("+1+1", "'+1+1")
	f("-2+3", "'-2+3")
	f("@SUM(A1)", "'@SUM(A1)")
	f("\t=1", "'\t=1")
	f("\r=1", "'\r=1")
	f("a=1", "a=1")
}

// TestReportCSVEscapes writes label values and reasons that a spreadsheet
// would run as formulas and reads the CSV back: each text cell starts
// with the quote, the numbers are untouched.
func TestReportCSVEscapes(t *testing.T) {
	rep := &ReportJSON{Period: "2026-11", Contracts: []ReportContract{{
		Customer: "=cmd|' /C calc'!A0",
		Contract: map[string]string{"customer": "=cmd|' /C calc'!A0"},
		Routes: []ReportRoute{{
			Route: "=1+1", Source: "@src", ReportFigures: ReportFigures{Objective: "+obj", Status: "met", TargetKind: "sla",
				Requests: 10, Bad: 1,
				Maintenance: []ReportWindow{{ID: "-mw", Start: "s", End: "e", Reason: "r"}}},
		}},
	}}}
	var buf bytes.Buffer
	if err := writeReportCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	got := map[string]string{}
	for i, name := range rows[0] {
		got[name] = rows[1][i]
	}
	for name, want := range map[string]string{
		"customer": "'=cmd|' /C calc'!A0", "contract": "customer==cmd|' /C calc'!A0", "route": "'=1+1",
		"source": "'@src", "objective": "'+obj", "maintenance": "'-mw s/e r", "requests": "10", "bad": "1",
	} {
		if got[name] != want {
			t.Errorf("column %s: %q, want %q", name, got[name], want)
		}
	}
	for name, v := range got {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			t.Errorf("column %s starts with a formula character: %q", name, v)
		}
	}
}
