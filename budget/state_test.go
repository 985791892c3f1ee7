package budget

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// genStream generates the events of runStream (reference_stream_test.go):
// two tenants' scrapes and deliveries, mask changes and evaluations, in
// delivery order. The returned rng continues the stream's.
func genStream(t *testing.T, spec streamSpec) (events []simEvent, start, end int64, rng *rand.Rand, berlin *time.Location) {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err) // the tests link time/tzdata: every zone loads
	}
	rng = rand.New(rand.NewPCG(spec.seed, 0x5106a7e))
	start = time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC).UnixMilli()
	if spec.start != 0 {
		start = spec.start
	}
	end = start + spec.length.Milliseconds()
	for ti, tn := range []Tenant{{}, {AccountID: 7, ProjectID: 3}} {
		w := &simWorld{spec: spec, rng: rng, tenant: tn, events: &events, outages: map[string][][2]int64{}}
		for _, host := range spec.hosts {
			for range 1 + rng.IntN(3) {
				s := start + rng.Int64N(spec.length.Milliseconds())
				w.outages[host] = append(w.outages[host], [2]int64{s, s + (5+rng.Int64N(55))*minute})
			}
		}
		for i, job := range []string{"ingress", "ingress", "edge"} {
			base := fmt.Sprintf("%s-%d-%d", job, ti, i)
			w.targets = append(w.targets, &simTarget{job: job, base: base, instance: base,
				offset: rng.Int64N(spec.interval.Milliseconds()), counters: map[string]*simCounter{}})
		}
		w.run(start, end)
	}
	for i := range spec.evals + 20 {
		at := start + rng.Int64N(spec.length.Milliseconds())
		events = append(events, simEvent{at: at, seq: len(events), eval: i < spec.evals, setMsk: i >= spec.evals})
	}
	events = append(events, simEvent{at: end + 15*minute, seq: len(events), eval: true})
	slices.SortFunc(events, func(a, b simEvent) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
	return events, start, end, rng, berlin
}

var streamTenants = []Tenant{{}, {AccountID: 7, ProjectID: 3}}

// roundTrip snapshots e and loads the snapshot into a new engine of cfg,
// with masks set before or after LoadState; the new engine's snapshot must
// be the same bytes.
func roundTrip(t *testing.T, e *Engine, cfg EngineConfig, masks []Mask, masksFirst bool) *Engine {
	t.Helper()
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
	again, err := n.AppendState(nil)
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("the loaded engine's snapshot differs (%d bytes, was %d): %v", len(again), len(data), err)
	}
	return n
}

// sameStatus compares the statuses of every tenant of two engines exactly.
func sameStatus(t *testing.T, what string, a, b *Engine, at int64) {
	t.Helper()
	for _, tn := range streamTenants {
		ga, gb := a.Evaluate(tn, at), b.Evaluate(tn, at)
		if len(ga) != len(gb) {
			t.Fatalf("%s, tenant %v: %d routes, want %d", what, tn, len(gb), len(ga))
		}
		for i := range ga {
			if gb[i].Source != ga[i].Source || gb[i].Route != ga[i].Route {
				t.Fatalf("%s: route %s|%s, want %s|%s", what, gb[i].Source, gb[i].Route, ga[i].Source, ga[i].Route)
			}
			if d := compareStatus(gb[i], ga[i]); len(d) > 0 || fmt.Sprint(gb[i]) != fmt.Sprint(ga[i]) {
				t.Fatalf("%s, tenant %v, route %s|%s:\n%s\ngot  %+v\nwant %+v", what, tn, ga[i].Source, ga[i].Route,
					strings.Join(d, "\n"), gb[i], ga[i])
			}
		}
	}
}

// sameState compares the internal state of two engines, derived data
// included (the rebuilt sums and exclusion bits), after applying deferred
// contributions and advancing every route to its tenant's head (which
// changes no result).
func sameState(t *testing.T, a, b *Engine) {
	t.Helper()
	for _, tn := range a.Tenants() {
		ta, tb := a.lookupTenant(tn), b.lookupTenant(tn)
		if tb == nil {
			t.Fatalf("tenant %v missing", tn)
		}
		ta.flushPending() // as every reader does (tenantState.lock)
		tb.flushPending()
		if ta.wm != tb.wm || ta.head != tb.head || len(ta.series) != len(tb.series) || len(ta.targets) != len(tb.targets) {
			t.Fatalf("tenant %v: wm %d/%d head %d/%d series %d/%d targets %d/%d", tn, tb.wm, ta.wm, tb.head, ta.head,
				len(tb.series), len(ta.series), len(tb.targets), len(ta.targets))
		}
		for k, tg := range ta.targets {
			if o := tb.targets[k]; o == nil || o.earliest != tg.earliest || len(o.series) != len(tg.series) {
				t.Fatalf("tenant %v: target %x differs", tn, k)
			}
		}
		for k, s := range ta.series {
			o := tb.series[k]
			if o == nil || o.class != s.class || o.n != s.n || o.firstFull != s.firstFull || o.first != s.first ||
				o.hist != s.hist || o.target.key != s.target.key || o.route.key != s.route.key {
				t.Fatalf("tenant %v: series %x differs:\n%+v\n%+v", tn, k, o, s)
			}
		}
		for si := range ta.routes {
			for k, r := range ta.routes[si] {
				o := tb.routes[si][k]
				if o == nil {
					t.Fatalf("tenant %v: route %q missing", tn, k)
				}
				r.b.advance(ta.head, r.masks, &ta.scratch, nil)
				o.b.advance(tb.head, o.masks, &tb.scratch, nil)
				if diff := bucketsDiff(&o.b, &r.b); diff != "" || o.newest != r.newest || len(o.series) != len(r.series) ||
					len(o.masks) != len(r.masks) || o.ro.forgetAfter != r.ro.forgetAfter {
					t.Fatalf("tenant %v: route %q differs: %s", tn, k, diff)
				}
			}
		}
	}
}

func bucketsDiff(a, b *buckets) string {
	var d []string
	f := func(name string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			d = append(d, name)
		}
	}
	f("ringLen", a.ringLen, b.ringLen)
	f("head", a.head, b.head)
	f("ring", ringCounts(a), ringCounts(b))
	f("excl", exclBits(a), exclBits(b))
	f("ringRaw", a.ringRaw, b.ringRaw)
	f("hsum", packedCounts(&a.hsum), packedCounts(&b.hsum))
	f("hexcl", packedCounts(&a.hexcl), packedCounts(&b.hexcl))
	f("units", [3][]uint64{packedCounts(&a.units), packedCounts(&a.unitsBad), packedCounts(&a.sl)},
		[3][]uint64{packedCounts(&b.units), packedCounts(&b.unitsBad), packedCounts(&b.sl)})
	f("unitLen", a.unitLen, b.unitLen)
	f("unitHead", a.unitHead, b.unitHead)
	f("unitSums", [2]uint64{a.unitsGood, a.unitsTotal}, [2]uint64{b.unitsGood, b.unitsTotal})
	f("slices", [2]any{a.pend, a.fin}, [2]any{b.pend, b.fin})
	f("fold", [4]uint64{a.foldRawGood, a.foldRawTotal, a.foldExclGood, a.foldExclTotal},
		[4]uint64{b.foldRawGood, b.foldRawTotal, b.foldExclGood, b.foldExclTotal})
	return strings.Join(d, ", ")
}

// runSplitStream feeds a stream to an engine that runs through, and to one
// that is snapshotted and loaded into a new engine at cuts random points:
// both must agree at every evaluation, in every bit of state at each cut,
// and with the reference at the end.
func runSplitStream(t *testing.T, spec streamSpec, cuts int) {
	events, start, _, rng, berlin := genStream(t, spec)
	now := start
	cfg := EngineConfig{Sources: refSources(), Resolve: refResolve(berlin), Now: func() time.Time { return time.UnixMilli(now) }}
	whole, split := NewEngine(cfg), NewEngine(cfg)
	ref := newRefModel(refSources(), refResolve(berlin), defaultMinuteHorizon, defaultMaxFuture, defaultLongestWindow)
	cut := map[int]bool{}
	for range cuts {
		cut[rng.IntN(len(events))] = true
	}
	var masks []Mask
	for i, ev := range events {
		if cut[i] {
			split = roundTrip(t, split, cfg, masks, i%2 == 0)
			sameState(t, whole, split)
		}
		now = ev.at
		switch {
		case ev.setMsk:
			masks = randomMasks(rng, masks, now, spec.hosts)
			whole.SetMasks(masks)
			split.SetMasks(masks)
			ref.setMasks(masks)
		case ev.eval:
			sameStatus(t, fmt.Sprintf("seed %d, event %d", spec.seed, i), whole, split, now-rng.Int64N(45_000))
		default:
			for _, c := range ev.calls {
				whole.Ingest(ev.tenant, c.labels, c.samples)
				split.Ingest(ev.tenant, c.labels, c.samples)
				ref.ingest(ev.tenant, c.labels, c.samples, now)
			}
		}
	}
	for _, tn := range streamTenants {
		want := ref.evaluate(tn, now)
		for _, g := range split.Evaluate(tn, now) {
			if d := compareStatus(g, want[g.Source+"|"+g.Route]); len(d) > 0 {
				t.Fatalf("seed %d: route %s|%s differs from the reference:\n%s", spec.seed, g.Source, g.Route, strings.Join(d, "\n"))
			}
		}
	}
	if sw, ss := whole.Stats(), split.Stats(); sw != ss {
		t.Errorf("seed %d: stats %+v, want %+v", spec.seed, ss, sw)
	}
}

func TestStateSplitStream(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		runSplitStream(t, streamSpec{seed: 300 + uint64(seed), length: 4 * time.Hour, interval: 30 * time.Second,
			hosts: []string{"a.example", "b.example"}, evals: 12}, 5)
	}
	// Days: minutes leave the ring (and masks reach the horizon), hours
	// leave the hour ring.
	runSplitStream(t, streamSpec{seed: 310, length: 100 * time.Hour, interval: 10 * time.Minute,
		hosts: []string{"a.example", "b.example", "c.example"}, evals: 8}, 6)
	if !testing.Short() {
		runSplitStream(t, streamSpec{seed: 320, length: 35 * 24 * time.Hour, interval: 15 * time.Minute,
			hosts: []string{"a.example", "b.example"}, evals: 6}, 8)
	}
}

// TestStateDropsChangedSources: a source that is gone or counts
// differently loses its state; one that moved in the source list keeps it.
func TestStateDropsChangedSources(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	for i := int64(0); i < 10; i++ {
		h.put(req("a", "200", "i1"), t0+i*minute, float64(i*10))
		h.put([]Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "host", Value: "a"},
			{Name: "instance", Value: "i1"}, {Name: "job", Value: "ingress"}, {Name: "le", Value: "+Inf"}}, t0+i*minute, float64(i*3))
	}
	data, _ := h.e.AppendState(nil)
	at := t0 + 20*minute
	f := func(name string, sources []Source, want map[string]uint64) {
		t.Helper()
		e := NewEngine(EngineConfig{Sources: sources})
		if err := e.LoadState(data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]uint64{}
		for _, st := range e.Evaluate(Tenant{}, at) {
			got[st.Source] = st.Good + st.Bad
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: totals %v, want %v", name, got, want)
		}
	}
	all := map[string]uint64{"web": 90, "web-latency": 27}
	f("same", []Source{webSource(), latencySource()}, all)
	f("reordered", []Source{latencySource(), webSource()}, all)
	f("web gone", []Source{latencySource()}, map[string]uint64{"web-latency": 27})
	lat := latencySource()
	lat.LE = 0.3
	f("other LE", []Source{webSource(), lat}, map[string]uint64{"web": 90})
	web := webSource()
	web.RouteLabels = []string{"host", "path"}
	f("other route labels", []Source{web, latencySource()}, map[string]uint64{"web-latency": 27})
	web = webSource()
	web.MaxRoutes = 1
	f("lower cap", []Source{web, latencySource()}, all)
}

// TestStateObjectiveFromConfig: objectives come from the current Resolve.
func TestStateObjectiveFromConfig(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	for i := int64(0); i < 10; i++ {
		h.put(req("a", "200", "i1"), t0+i*minute, float64(i*10))
	}
	data, _ := h.e.AppendState(nil)
	e := NewEngine(EngineConfig{Sources: []Source{webSource(), latencySource()}, Resolve: func(src *Source, _ []Label) Objective {
		return Objective{Name: "gold", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 7 * 24 * time.Hour}}
	}})
	if err := e.LoadState(data); err != nil {
		t.Fatal(err)
	}
	st := e.Evaluate(Tenant{}, t0+20*minute)
	if len(st) != 1 || st[0].Objective.Name != "gold" || st[0].Windows[slo.WindowCompliance].Name != "7d" || st[0].Good != 90 {
		t.Errorf("status %+v", st)
	}
}

// TestStateRingLength: a snapshot of routes with a longer minute ring
// (a longer minute horizon) folds the minutes that do not fit; routes with
// a shorter one keep it. Without masks either equals an engine that had
// the shorter ring from the start.
func TestStateRingLength(t *testing.T) {
	clock := t0
	cfg := func(horizon time.Duration) EngineConfig {
		return EngineConfig{Sources: []Source{webSource()}, MinuteHorizon: horizon, Now: func() time.Time { return time.UnixMilli(clock) }}
	}
	long, short := NewEngine(cfg(96*time.Hour)), NewEngine(cfg(72*time.Hour))
	clock = t0 + 5*24*time.Hour.Milliseconds()
	feed([]*Engine{long, short}, t0, clock)
	start := clock
	fromLong, _ := long.AppendState(nil)
	fromShort, _ := short.AppendState(nil)
	for _, c := range []struct {
		name     string
		data     []byte
		horizon  time.Duration
		wantRing int64
	}{{"96h into 72h", fromLong, 72 * time.Hour, short.ringLen}, {"72h into 96h", fromShort, 96 * time.Hour, short.ringLen}} {
		want := NewEngine(cfg(72 * time.Hour)) // the shorter ring from the start
		feed([]*Engine{want}, t0, start)
		e := NewEngine(cfg(c.horizon))
		if err := e.LoadState(c.data); err != nil {
			t.Fatal(err)
		}
		clock = start
		sameStatus(t, c.name, want, e, clock)
		clock += 2 * time.Hour.Milliseconds()
		feed([]*Engine{e, want}, clock-2*time.Hour.Milliseconds(), clock)
		sameStatus(t, c.name+", 2h later", want, e, clock)
		if n := len(e.lookupTenant(Tenant{}).routes[0]); n != 2 {
			t.Fatalf("%s: %d routes", c.name, n)
		}
		for _, r := range e.lookupTenant(Tenant{}).routes[0] {
			if r.b.ringLen != c.wantRing {
				t.Errorf("%s: ring of %d minutes, want %d", c.name, r.b.ringLen, c.wantRing)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	e := NewEngine(EngineConfig{Sources: refSources()})
	if got := e.Metrics(); fmt.Sprint(got) != "[http_request_duration_seconds_bucket http_requests_total]" {
		t.Errorf("metrics %v", got)
	}
}

// ringCounts returns the good and total counts of b's ring minutes.
func ringCounts(b *buckets) []uint64 {
	var out []uint64
	if b.head == noHead {
		return out
	}
	for m := b.ringStart(); m <= b.head; m++ {
		g, n := b.ring.get(m)
		out = append(out, g, n)
	}
	return out
}

// packedCounts returns the counts of p.
func packedCounts(p *packed) []uint64 {
	out := make([]uint64, p.n)
	for i := range out {
		out[i] = p.get(i)
	}
	return out
}

// exclBits returns the ring indexes of b's exclusion bits.
func exclBits(b *buckets) []int64 {
	var out []int64
	for i := range b.ringLen {
		if b.isExcl(i) {
			out = append(out, i)
		}
	}
	return out
}
