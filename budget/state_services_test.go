package budget

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// runSplitStream11 feeds a stream with the objectives and services of
// issue 11 to an engine that is snapshotted and loaded into a new engine
// at cuts random points (the masks set before or after LoadState), and
// compares its routes and services with the reference at every
// evaluation. (The snapshot's bytes are checked by
// TestServiceSnapshotBytes.)
func runSplitStream11(t *testing.T, spec streamSpec, cuts int) {
	t.Helper()
	events, start, _, rng, berlin := genStream(t, spec)
	now := start
	resolve := refResolve11(t)(berlin)
	cfg := EngineConfig{Sources: refSources(), Resolve: resolve, Services: refServices11(t), LongestWindow: refLongest11,
		Now: func() time.Time { return time.UnixMilli(now) }}
	split := NewEngine(cfg)
	ref := newRefModel(refSources(), resolve, defaultMinuteHorizon, defaultMaxFuture, refLongest11)
	ref.services = cfg.Services
	cut := map[int]bool{}
	for range cuts {
		cut[rng.IntN(len(events))] = true
	}
	var masks []Mask
	for i, ev := range events {
		if cut[i] {
			data, err := split.AppendState(nil)
			if err != nil {
				t.Fatal(err)
			}
			split = NewEngine(cfg)
			if i%2 == 0 {
				split.SetMasks(masks)
			}
			if err := split.LoadState(data); err != nil {
				t.Fatal(err)
			}
			if i%2 != 0 {
				split.SetMasks(masks)
			}
		}
		now = ev.at
		switch {
		case ev.setMsk:
			masks = randomMasks(rng, masks, now, spec.hosts)
			split.SetMasks(masks)
			ref.setMasks(masks)
		case ev.eval:
			at := now - rng.Int64N(45_000)
			where := fmt.Sprintf("seed %d, event %d, eval at %s", spec.seed, i, time.UnixMilli(at).UTC().Format(time.RFC3339))
			for _, tn := range streamTenants {
				want := ref.evaluate(tn, at)
				for _, g := range split.Evaluate(tn, at) {
					if d := compareStatus(g, want[g.Source+"|"+g.Route]); len(d) > 0 {
						t.Fatalf("%s: route %s|%s differs from the reference:\n%s", where, g.Source, g.Route, strings.Join(d, "\n"))
					}
				}
				wantSvc := ref.evaluateServices(tn, at)
				got := split.EvaluateServices(tn, at)
				if len(got) != len(wantSvc) {
					t.Fatalf("%s: %d service SLIs, want %d", where, len(got), len(wantSvc))
				}
				for _, g := range got {
					if d := compareServiceStatus(g, wantSvc[refServiceKey(g.Service, g.Labels)]); len(d) > 0 {
						t.Fatalf("%s: service %s %v differs from the reference:\n%s", where, g.Service, g.Labels, strings.Join(d, "\n"))
					}
				}
			}
		default:
			for _, c := range ev.calls {
				split.Ingest(ev.tenant, c.labels, c.samples)
				ref.ingest(ev.tenant, c.labels, c.samples, now)
			}
		}
	}
}

func TestStateSplitStreamServices(t *testing.T) {
	for seed := range 2 {
		runSplitStream11(t, streamSpec{seed: 800 + uint64(seed), length: 4 * time.Hour, interval: 30 * time.Second,
			hosts: []string{"a.example", "b.example", "c.example"}, evals: 12}, 5)
	}
}
