package ui

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slogate/slogate/config"
)

// TestReportTargetsAfterReload swaps the configuration under a report, as
// SIGHUP does: the next report has the new targets.
func TestReportTargetsAfterReload(t *testing.T) {
	rep, _, _ := newTestReport(t)
	var live atomic.Pointer[config.Config]
	live.Store(rep.cfg.Config())
	rep.cfg.Config = live.Load
	before, err := rep.Build(ReportRequest{Period: "2026-11", Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseConfig("slogate.yml", []byte(strings.Replace(strings.Replace(reportConfig, "sla: 0.999", "sla: 0.99", 1), "slo: 0.9995", "slo: 0.995", 1)))
	if err != nil {
		t.Fatal(err)
	}
	live.Store(cfg)
	after, err := rep.Build(ReportRequest{Period: "2026-11", Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	b, a := findRoute(t, before, "ns/web/shop.acme.com/"), findRoute(t, after, "ns/web/shop.acme.com/")
	if b.Target != 0.999 || a.Target != 0.99 || a.AllowedSeconds != roundMs(10*b.AllowedSeconds) {
		t.Errorf("targets before and after the reload: %v %v, allowed %v %v", b.Target, a.Target, b.AllowedSeconds, a.AllowedSeconds)
	}
}

func TestParsePeriod(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	f := func(in, label, kind, start, end string) {
		t.Helper()
		p, err := parsePeriod(in, reportNow)
		if err != nil {
			t.Fatalf("parsePeriod(%q): %v", in, err)
		}
		s, e := p.bounds(kolkata)
		if p.label != label || p.kind != kind || s.Format(time.RFC3339) != start || e.Format(time.RFC3339) != end {
			t.Errorf("parsePeriod(%q) = %s %s [%s, %s), want %s %s [%s, %s)", in, p.label, p.kind, s.Format(time.RFC3339), e.Format(time.RFC3339), label, kind, start, end)
		}
	}
	f("", "2026-12", "month", "2026-12-01T00:00:00+05:30", "2027-01-01T00:00:00+05:30")
	f("2026-02", "2026-02", "month", "2026-02-01T00:00:00+05:30", "2026-03-01T00:00:00+05:30")
	f("2026-Q1", "2026-Q1", "quarter", "2026-01-01T00:00:00+05:30", "2026-04-01T00:00:00+05:30")
	f("2026-Q4", "2026-Q4", "quarter", "2026-10-01T00:00:00+05:30", "2027-01-01T00:00:00+05:30")
	f("2026", "2026", "year", "2026-01-01T00:00:00+05:30", "2027-01-01T00:00:00+05:30")
	for _, bad := range []string{"2026-00", "2026-13", "2026-Q0", "2026-Q5", "2026-q4", "1969", "+2026", "2026-1", "2026-011", "202", "2026-+1", "abcd"} {
		if _, err := parsePeriod(bad, reportNow); err == nil {
			t.Errorf("parsePeriod(%q): no error", bad)
		}
	}
}

func TestSpans(t *testing.T) {
	spans := map[string][]span{
		"a": {{0, 10}, {20, 30}, {40, 50}},
		"b": {{5, 25}, {45, 60}},
		"c": {{0, 100}},
		"d": nil,
	}
	if got := serviceSpans([]string{"a", "b", "c"}, spans); !slices.Equal(got, []span{{5, 10}, {20, 25}, {45, 50}}) {
		t.Errorf("intersection of a, b, c: %v", got)
	}
	if got := serviceSpans([]string{"a", "d"}, spans); got != nil {
		t.Errorf("a route without maintenance: %v", got)
	}
	if got := spanMinutes(spans["a"]); got != 30 {
		t.Errorf("spanMinutes: %d", got)
	}
	for m, want := range map[int64]bool{-1: false, 0: true, 9: true, 10: false, 19: false, 20: true, 49: true, 50: false} {
		if inSpans(spans["a"], m) != want {
			t.Errorf("inSpans(%d) != %v", m, want)
		}
	}
	if !covered(spans["a"], 20, 30) || covered(spans["a"], 5, 15) || !covered(nil, 3, 3) {
		t.Errorf("covered")
	}
}
