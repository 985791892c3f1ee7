package budget

import (
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// TestServiceRouteJoins: a service minute is excluded when every route of
// the service excludes it, the routes it has now: route a alone, in
// maintenance in M0+50 .. M0+59, leaves the service's slices [M0+50,
// M0+55) and [M0+55, M0+60) out; once route b (not in maintenance) joins
// while they are in the ring, they are judged (empty: good).
func TestServiceRouteJoins(t *testing.T) {
	obj := Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour},
		Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.99}}
	svcs := []Service{{Name: "platform", Match: refMatchers("host", "a|b"), Objective: obj}}
	now := t0
	resolve := func(*Source, []Label) Objective { return obj }
	cfg := EngineConfig{Sources: []Source{webSource()}, Resolve: resolve, Services: svcs,
		Now: func() time.Time { return time.UnixMilli(now) }}
	e := NewEngine(cfg)
	ref := newRefModel([]Source{webSource()}, resolve, defaultMinuteHorizon, defaultMaxFuture, defaultLongestWindow)
	ref.services = svcs
	m0 := t0 / minute
	masks := []Mask{&testMask{match: map[string]string{"host": "a"}, ivs: []Interval{{Start: (m0 + 50) * minute, End: (m0 + 60) * minute}}}}
	e.SetMasks(masks)
	ref.setMasks(masks)
	put := func(h string, k int64, v float64) {
		now = (m0 + k) * minute
		l := req(h, "200", "i-"+h)
		e.Ingest(Tenant{}, l, []Sample{{Value: v, Timestamp: now}})
		ref.ingest(Tenant{}, l, []Sample{{Value: v, Timestamp: now}}, now)
	}
	check := func(name string, at int64, wantSlices slo.SliceCounts) {
		t.Helper()
		want := ref.evaluateServices(Tenant{}, at)
		for _, g := range e.EvaluateServices(Tenant{}, at) {
			w := want[refServiceKey(g.Service, g.Labels)]
			if d := compareServiceStatus(g, w); len(d) > 0 {
				t.Errorf("%s: %s", name, strings.Join(d, "\n"))
			}
			if g.Slices != wantSlices {
				t.Errorf("%s: slices %+v, want %+v", name, g.Slices, wantSlices)
			}
		}
		wantR := ref.evaluate(Tenant{}, at)
		for _, g := range e.Evaluate(Tenant{}, at) {
			if d := compareStatus(g, wantR[g.Source+"|"+g.Route]); len(d) > 0 {
				t.Errorf("%s route %s: %s", name, g.Route, strings.Join(d, "\n"))
			}
		}
	}
	for k := range int64(100) {
		put("a", k, float64(10*k))
	}
	// From the first events' slice [M0, M0+5) to M0+95: 19 slices.
	check("a alone", (m0+99)*minute+5000, slo.SliceCounts{Good: 17, Excluded: 2})
	for k := int64(100); k < 110; k++ {
		put("a", k, float64(10*k))
		put("b", k, float64(10*k))
	}
	check("b joined", (m0+109)*minute+5000, slo.SliceCounts{Good: 21})
	// Once the slices are final, their verdicts stay.
	for k := int64(110); k < 110+4400; k += 10 {
		put("a", k, float64(10*k))
		put("b", k, float64(10*k))
	}
	check("later", (m0+4505)*minute+5000, slo.SliceCounts{Good: 901})
}
