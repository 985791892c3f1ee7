package budget

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// Services across a snapshot, on hand-made feeds: the loaded engine must
// count as the one that ran through, whether the masks are set before or
// after LoadState, and its snapshot must be the same bytes.

// serviceFeed: routes a and b of the service platform, 10 good events a
// minute each in minutes M0+1 .. M0+9, route a in maintenance in M0+3 ..
// M0+5. At M0+9 the service has counted 80 + 80 - 30 = 130 good events.
func serviceFeed(t *testing.T) (EngineConfig, *Engine, []Mask, int64) {
	obj := Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour},
		Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.99}}
	now := t0
	cfg := EngineConfig{Sources: []Source{webSource()}, Resolve: func(*Source, []Label) Objective { return obj },
		Services: []Service{{Name: "platform", Match: refMatchers("host", "a|b"), Objective: obj}},
		Now:      func() time.Time { return time.UnixMilli(now) }}
	e := NewEngine(cfg)
	m0 := t0 / minute
	masks := []Mask{&testMask{match: map[string]string{"host": "a"}, ivs: []Interval{{Start: (m0 + 3) * minute, End: (m0 + 6) * minute}}}}
	e.SetMasks(masks)
	for k := range int64(10) {
		now = (m0 + k) * minute
		for _, h := range []string{"a", "b"} {
			e.Ingest(Tenant{}, req(h, "200", "i-"+h), []Sample{{Value: float64(10 * k), Timestamp: now}})
		}
	}
	return cfg, e, masks, now + 5000
}

func TestServiceSnapshotMasks(t *testing.T) {
	for _, masksFirst := range []bool{true, false} {
		cfg, e, masks, at := serviceFeed(t)
		if st := e.EvaluateServices(Tenant{}, at)[0]; st.Good != 130 || st.Bad != 0 {
			t.Fatalf("before the snapshot: good %d bad %d, want 130 0", st.Good, st.Bad)
		}
		data, err := e.AppendState(nil)
		if err != nil {
			t.Fatal(err)
		}
		n := NewEngine(cfg)
		if masksFirst {
			n.SetMasks(masks)
		}
		if err := n.LoadState(data); err != nil {
			t.Fatal(err)
		}
		if !masksFirst {
			n.SetMasks(masks)
		}
		want := e.EvaluateServices(Tenant{}, at)[0]
		got := n.EvaluateServices(Tenant{}, at)[0]
		if d := compareServiceStatus(got, want); len(d) > 0 {
			t.Errorf("masks set before LoadState %v: the loaded engine differs:\n%s", masksFirst, strings.Join(d, "\n"))
		}
	}
}

// TestServiceSnapshotBytes: snapshot, load, snapshot again: the same bytes,
// also right after the first points (services whose routes have no events
// yet).
func TestServiceSnapshotBytes(t *testing.T) {
	obj := Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}}
	now := t0
	cfg := EngineConfig{Sources: []Source{webSource()}, Resolve: func(*Source, []Label) Objective { return obj },
		Services: []Service{{Name: "platform", Match: refMatchers("host", "a|b"), Objective: obj}},
		Now:      func() time.Time { return time.UnixMilli(now) }}
	e := NewEngine(cfg)
	for k := range int64(3) {
		now = t0 + k*minute
		e.Ingest(Tenant{}, req("a", "200", "i-a"), []Sample{{Value: float64(10 * k), Timestamp: now}})
		data, err := e.AppendState(nil)
		if err != nil {
			t.Fatal(err)
		}
		n := NewEngine(cfg)
		if err := n.LoadState(data); err != nil {
			t.Fatal(err)
		}
		if again, _ := n.AppendState(nil); !bytes.Equal(again, data) {
			t.Errorf("after %d points: the loaded engine's snapshot differs (%d bytes, was %d)", k+1, len(again), len(data))
		}
	}
}
