package budget

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// TestStateVersion1: a snapshot of format version 1 (hour rings only),
// written by the previous release after five days of two routes (one with
// a rolling 30d window, one with a calendar month in Europe/Berlin), loads
// and evaluates as that release evaluated it (testdata/state-v1.json).
// The month's hours become Berlin days, which hold them exactly.
func TestStateVersion1(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(src *Source, route []Label) Objective {
		if labelOr(route, "host") == "b" {
			return Objective{Name: "monthly", SLO: 0.99, SLA: 0.98, Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: berlin}}
		}
		return DefaultObjective(src)
	}
	snap, err := os.ReadFile("testdata/state-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	var want []RouteStatus
	data, err := os.ReadFile("testdata/state-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, EngineConfig{Resolve: resolve})
	h.now = t0 + 5*1440*minute
	if err := h.e.LoadState(snap); err != nil {
		t.Fatal(err)
	}
	got := h.e.Evaluate(Tenant{}, t0+5*1440*minute)
	if len(got) != len(want) || len(got) != 2 {
		t.Fatalf("%d routes, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Route != w.Route || g.Good != w.Good || g.Bad != w.Bad || g.Windows != w.Windows || g.SLO != w.SLO || g.SLA != w.SLA {
			t.Errorf("route %s:\n got %d/%d %+v %+v\nwant %d/%d %+v %+v", g.Route, g.Good, g.Bad, g.Windows, g.SLA, w.Good, w.Bad, w.Windows, w.SLA)
		}
	}
}
