package budget

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// replaySample is a sample as VictoriaMetrics stores it: everything slogate
// acknowledged, refused and ignored samples included.
type replaySample struct {
	tenant  Tenant
	labels  []Label
	sample  Sample
	arrival int64
}

// replay ingests into e what the restart replay reads back from
// VictoriaMetrics: per series, in time order, every sample with a
// timestamp at or after the tenant's watermark minus 10 minutes. (Samples
// refused as future when they arrived are left out: VictoriaMetrics has
// them, and the replay, later, would count those no longer in the future.)
func replay(e *Engine, stored []replaySample) {
	type key struct {
		t Tenant
		s string
	}
	from := map[Tenant]int64{}
	for _, tn := range streamTenants {
		from[tn] = e.Watermark(tn) - 10*minute
	}
	bySeries := map[key][]replaySample{}
	var order []key
	for _, s := range stored {
		if s.sample.Timestamp < from[s.tenant] || s.sample.Timestamp > s.arrival+defaultMaxFuture.Milliseconds() {
			continue
		}
		k := key{s.tenant, labelsText(s.labels)}
		if bySeries[k] == nil {
			order = append(order, k)
		}
		bySeries[k] = append(bySeries[k], s)
	}
	for _, k := range order {
		ss := bySeries[k]
		slices.SortStableFunc(ss, func(a, b replaySample) int { return cmp.Compare(a.sample.Timestamp, b.sample.Timestamp) })
		samples := make([]Sample, len(ss))
		for i := range ss {
			samples[i] = ss[i].sample
		}
		e.Ingest(k.t, ss[0].labels, samples)
	}
}

// crashPoints picks a snapshot event and a later crash event such that no
// sample delivered between them is older than the replay's start (a
// vmagent backlog flushed then would be lost: the replay starts at the
// snapshot's watermark minus 10 minutes).
func crashPoints(rng *rand.Rand, events []simEvent) (snap, crash int) {
	for {
		snap = rng.IntN(len(events) / 2)
		crash = snap + 1 + rng.IntN(len(events)/4)
		wm := map[Tenant]int64{}
		for _, ev := range events[:snap] {
			for _, c := range ev.calls {
				for _, s := range c.samples {
					if _, ok := counterValue(s.Value); ok && s.Timestamp <= ev.at+defaultMaxFuture.Milliseconds() {
						wm[ev.tenant] = max(wm[ev.tenant], s.Timestamp)
					}
				}
			}
		}
		ok := true
		for _, ev := range events[snap:crash] {
			for _, c := range ev.calls {
				for _, s := range c.samples {
					ok = ok && s.Timestamp >= wm[ev.tenant]-10*minute
				}
			}
		}
		if ok {
			return snap, crash
		}
	}
}

// TestStateCrashReplay: a snapshot, more data, a crash that loses it; the
// restarted engine loads the old snapshot, replays the gap from
// "VictoriaMetrics", and goes on: it must equal an engine that never
// stopped.
func TestStateCrashReplay(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		spec := streamSpec{seed: 400 + uint64(seed), length: 4 * time.Hour, interval: 30 * time.Second,
			hosts: []string{"a.example", "b.example"}, evals: 12}
		events, start, _, rng, berlin := genStream(t, spec)
		now := start
		cfg := EngineConfig{Sources: refSources(), Resolve: refResolve(berlin), Now: func() time.Time { return time.UnixMilli(now) }}
		whole, e := NewEngine(cfg), NewEngine(cfg)
		snapAt, crashAt := crashPoints(rng, events)
		var snap []byte
		var stored []replaySample
		var masks []Mask
		for i, ev := range events {
			switch i {
			case snapAt:
				var err error
				if snap, err = e.AppendState(nil); err != nil {
					t.Fatal(err)
				}
			case crashAt:
				e = NewEngine(cfg)
				e.SetMasks(masks) // the maintenance store comes first
				if err := e.LoadState(snap); err != nil {
					t.Fatal(err)
				}
				replay(e, stored)
			}
			now = ev.at
			switch {
			case ev.setMsk:
				masks = randomMasks(rng, masks, now, spec.hosts)
				whole.SetMasks(masks)
				e.SetMasks(masks)
			case ev.eval:
				if i > crashAt {
					sameStatus(t, fmt.Sprintf("seed %d, event %d (snapshot %d, crash %d)", spec.seed, i, snapAt, crashAt),
						whole, e, now-rng.Int64N(45_000))
				}
			default:
				for _, c := range ev.calls {
					whole.Ingest(ev.tenant, c.labels, c.samples)
					e.Ingest(ev.tenant, c.labels, c.samples)
					for _, s := range c.samples {
						stored = append(stored, replaySample{ev.tenant, c.labels, s, now})
					}
				}
			}
		}
	}
}

// TestStateConcurrentSnapshot: a snapshot taken while Ingest runs, loaded,
// plus the replay of the gap, equals the engine that never stopped. Codes
// 503 appear mid-stream (first values in full) and counters reset.
func TestStateConcurrentSnapshot(t *testing.T) {
	const steps = 240
	routes := 2000
	if testing.Short() {
		routes = 600
	}
	end := t0 + steps*15_000
	cfg := EngineConfig{Sources: []Source{webSource()}, Now: func() time.Time { return time.UnixMilli(end) }}
	type call struct {
		labels []Label
		s      Sample
	}
	var calls [][]call // per step
	for step := range int64(steps) {
		var cs []call
		for r := range routes {
			host := fmt.Sprintf("host-%04d", r) // one length: seriesHash confuses "h2" and "h23"
			inst := fmt.Sprintf("i%d", r%7)
			v := float64(step * int64(1+r%5))
			if step > 150 && r%11 == 0 { // reset
				v = float64((step - 150) * 2)
			}
			ts := t0 + step*15_000 + int64(r%13)*100
			cs = append(cs, call{req(host, "200", inst), Sample{Value: v, Timestamp: ts}})
			if first := int64(60 + r%90); step >= first {
				cs = append(cs, call{req(host, "503", inst), Sample{Value: float64(3 + step - first), Timestamp: ts}})
			}
		}
		calls = append(calls, cs)
	}
	whole, e := NewEngine(cfg), NewEngine(cfg)
	var stored []replaySample
	for _, cs := range calls {
		for _, c := range cs {
			whole.Ingest(Tenant{}, c.labels, []Sample{c.s})
			stored = append(stored, replaySample{Tenant{}, c.labels, c.s, end})
		}
	}
	if st := whole.Stats(); st.Series != uint64(2*routes) {
		t.Fatalf("%d series, want %d: a seriesHash collision", st.Series, 2*routes)
	}
	half := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, cs := range calls {
			if i == steps/2 {
				close(half)
			}
			for _, c := range cs {
				e.Ingest(Tenant{}, c.labels, []Sample{c.s})
			}
		}
	}()
	<-half
	snap, err := e.AppendState(nil)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	n := NewEngine(cfg)
	if err := n.LoadState(snap); err != nil {
		t.Fatal(err)
	}
	replay(n, stored)
	sameStatus(t, "after the replay", whole, n, end+minute)
	if st := n.Stats(); st.Series != whole.Stats().Series {
		t.Errorf("%d series, want %d", st.Series, whole.Stats().Series)
	}
}
