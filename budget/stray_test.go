package budget

import (
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// straySeeds is how many random streams TestStraySamples runs. make test
// runs the default; the long run is
//
//	go test ./budget -run TestStraySamples -count=1 -stray.seeds=1000
var straySeeds = flag.Int("stray.seeds", 4, "random streams TestStraySamples runs")

// TestStraySamples: stray samples at absurd timestamps (the epoch, 50 years
// ago or ahead, the int64 limits, just outside the event-time bounds), of
// new series on known targets and of known series, never change what the
// engine counts for anything else. One random stream goes to a clean
// engine; the same stream with strays goes to a second engine and to the
// reference model. At every evaluation every route of the second engine
// equals the clean engine's and the reference's, and the strays are
// counted as refused and nowhere else.
func TestStraySamples(t *testing.T) {
	for seed := range *straySeeds {
		runStrays(t, streamSpec{seed: 1000 + uint64(seed), length: 3 * time.Hour, interval: 30 * time.Second,
			hosts: []string{"a.example", "b.example"}, evals: 6})
	}
}

func runStrays(t *testing.T, spec streamSpec) {
	t.Helper()
	events, start, _, rng, berlin := genStream(t, spec)
	srng := rand.New(rand.NewPCG(spec.seed, 0x57a7))
	now := start
	clock := func() time.Time { return time.UnixMilli(now) }
	clean := NewEngine(EngineConfig{Sources: refSources(), Resolve: refResolve(berlin), Now: clock})
	dirty := NewEngine(EngineConfig{Sources: refSources(), Resolve: refResolve(berlin), Now: clock})
	ref := newRefModel(refSources(), refResolve(berlin), defaultMinuteHorizon, defaultMaxFuture, defaultLongestWindow)
	var masks []Mask
	strays, evals := uint64(0), 0
	for _, ev := range events {
		now = ev.at
		switch {
		case ev.setMsk:
			masks = randomMasks(rng, masks, now, spec.hosts)
			clean.SetMasks(masks)
			dirty.SetMasks(masks)
			ref.setMasks(masks)
		case ev.eval:
			evals++
			at := now - rng.Int64N(45_000)
			for _, tn := range streamTenants {
				want, clean := ref.evaluate(tn, at), clean.Evaluate(tn, at)
				got := dirty.Evaluate(tn, at)
				if len(got) != len(want) || len(got) != len(clean) {
					t.Fatalf("seed %d, eval at %s: %d routes, want %d (clean engine %d)", spec.seed, time.UnixMilli(at).UTC(), len(got), len(want), len(clean))
				}
				for i, g := range got {
					d := compareStatus(g, clean[i])
					if w, ok := want[g.Source+"|"+g.Route]; !ok {
						d = append(d, "not in the reference")
					} else {
						d = append(d, compareStatus(g, w)...)
					}
					if len(d) > 0 {
						t.Fatalf("seed %d, tenant %v, eval at %s, route %s|%s, after %d strays:\n%s", spec.seed, tn,
							time.UnixMilli(at).UTC().Format(time.RFC3339), g.Source, g.Route, strays, strings.Join(d, "\n"))
					}
				}
			}
		default:
			for _, c := range ev.calls {
				clean.Ingest(ev.tenant, c.labels, c.samples)
				calls, n := strayCalls(srng, c, now)
				strays += uint64(n)
				for _, sc := range calls {
					dirty.Ingest(ev.tenant, sc.labels, sc.samples)
					ref.ingest(ev.tenant, sc.labels, sc.samples, now)
				}
			}
		}
	}
	cs, ds := clean.Stats(), dirty.Stats()
	refused := ds.Past + ds.Future - cs.Past - cs.Future
	if refused != strays || ds.Series != cs.Series || ds.Routes != cs.Routes || ds.SamplesCounted != cs.SamplesCounted ||
		ds.FirstValueFixups != cs.FirstValueFixups || ds.Duplicates != cs.Duplicates || ds.TooOld != cs.TooOld || ds.Expired != cs.Expired {
		t.Fatalf("seed %d: %d strays, %d refused; stats with strays %+v, without %+v", spec.seed, strays, refused, ds, cs)
	}
	if strays == 0 || ds.Past == 0 || ds.Future == 0 {
		t.Fatalf("seed %d: %d strays (%d past, %d future): the stream tests nothing", spec.seed, strays, ds.Past, ds.Future)
	}
	t.Logf("seed %d: %d evaluations, %d strays refused", spec.seed, evals, strays)
}

// strayCalls returns the Ingest calls that deliver call c with strays:
// mostly c alone, sometimes c with stray samples mixed into its own, or c
// and a call of a new series of the same target and route (an extra
// label) holding only strays, before or after it; and the number of
// strays. Only request counters get strays: each is counted by a source
// (a latency bucket other than le=LE and +Inf is not, nor its strays).
func strayCalls(rng *rand.Rand, c simCall, now int64) ([]simCall, int) {
	if rng.Float64() >= 0.05 || refLabel(c.labels, "code") == "" { // every request counter is counted
		return []simCall{c}, 0
	}
	some := func() []Sample {
		out := make([]Sample, 1+rng.IntN(3))
		for i := range out {
			out[i] = Sample{Timestamp: strayTime(rng, now), Value: []float64{0, 1, 20_000, 500_000, 1e12}[rng.IntN(5)]}
		}
		return out
	}
	strays := some()
	if rng.IntN(2) == 0 { // mixed into a known series' samples
		smp := slices.Clone(c.samples)
		for _, s := range strays {
			smp = slices.Insert(smp, rng.IntN(len(smp)+1), s)
		}
		return []simCall{{labels: c.labels, samples: smp}}, len(strays)
	}
	both := []simCall{c, {labels: append(slices.Clone(c.labels), Label{Name: "stray", Value: "1"}), samples: strays}}
	if rng.IntN(2) == 0 {
		both[0], both[1] = both[1], both[0]
	}
	return both, len(strays)
}

// strayTime returns an absurd timestamp: outside [now-maxAge, now+MaxFuture].
func strayTime(rng *rand.Rand, now int64) int64 {
	const year = 365 * 24 * time.Hour
	maxAge := (defaultLongestWindow + defaultMinuteHorizon).Milliseconds()
	switch rng.IntN(8) {
	case 0:
		return 0
	case 1:
		return math.MinInt64
	case 2:
		return math.MaxInt64
	case 3:
		return now - (50 * year).Milliseconds()
	case 4:
		return now + (50 * year).Milliseconds()
	case 5:
		return -1 - rng.Int64N(1<<50)
	case 6:
		return now - maxAge - 1 - rng.Int64N(time.Hour.Milliseconds())
	}
	return now + defaultMaxFuture.Milliseconds() + 1 + rng.Int64N(time.Hour.Milliseconds())
}
