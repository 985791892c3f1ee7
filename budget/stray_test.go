package budget

import (
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
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
// new series on known targets and of known series, and single samples of
// new series within the bounds but older than their target's start, never
// change what the engine counts for anything else. One random stream goes
// to a clean engine; the same stream with strays goes to a second engine
// and to the reference model. At every evaluation every route of the
// second engine equals the clean engine's and the reference's; the absurd
// strays are counted as refused and nowhere else, the others are
// baselines.
func TestStraySamples(t *testing.T) {
	for seed := range *straySeeds {
		runStrays(t, streamSpec{seed: 1000 + uint64(seed), length: 2 * time.Hour, interval: 30 * time.Second,
			hosts: []string{"a.example", "b.example"}, evals: 6})
	}
}

func runStrays(t *testing.T, spec streamSpec) {
	t.Helper()
	events, start, _, rng, berlin := genStream(t, spec)
	sg := &strayGen{rng: rand.New(rand.NewPCG(spec.seed, 0x57a7)), start: start}
	now := start
	clock := func() time.Time { return time.UnixMilli(now) }
	clean := NewEngine(EngineConfig{Sources: refSources(), Resolve: refResolve(berlin), Now: clock})
	dirty := NewEngine(EngineConfig{Sources: refSources(), Resolve: refResolve(berlin), Now: clock})
	ref := newRefModel(refSources(), refResolve(berlin), defaultMinuteHorizon, defaultMaxFuture, defaultLongestWindow)
	var masks []Mask
	strays, kept, evals := uint64(0), uint64(0), 0
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
					var names []string
					for k := range want {
						names = append(names, k)
					}
					slices.Sort(names)
					for _, g := range got {
						names = append(names, "GOT "+g.Source+"|"+g.Route)
					}
					t.Fatalf("seed %d, eval at %s: %d routes, want %d (clean engine %d); the reference's: %s", spec.seed,
						time.UnixMilli(at).UTC(), len(got), len(want), len(clean), strings.Join(names, ", "))
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
				calls, absurd, inBounds := sg.calls(c, now)
				strays += uint64(absurd)
				kept += uint64(inBounds)
				for _, sc := range calls {
					dirty.Ingest(ev.tenant, sc.labels, sc.samples)
					ref.ingest(ev.tenant, sc.labels, sc.samples, now)
				}
			}
		}
	}
	cs, ds := clean.Stats(), dirty.Stats()
	refused := ds.Past + ds.Future - cs.Past - cs.Future
	// The absurd strays are refused; each in-bound one is a series of one
	// point, a baseline.
	if refused != strays || ds.Series != cs.Series+kept || ds.Routes != cs.Routes || ds.SamplesCounted != cs.SamplesCounted+kept ||
		ds.FirstValueFixups != cs.FirstValueFixups || ds.Duplicates != cs.Duplicates || ds.TooOld != cs.TooOld || ds.Expired != cs.Expired {
		t.Fatalf("seed %d: %d absurd strays, %d refused, %d in the bounds; stats with strays %+v, without %+v", spec.seed, strays, refused, kept, ds, cs)
	}
	if strays == 0 || ds.Past == 0 || ds.Future == 0 || kept == 0 {
		t.Fatalf("seed %d: %d absurd strays (%d past, %d future), %d in the bounds: the stream tests nothing", spec.seed, strays, ds.Past, ds.Future, kept)
	}
	t.Logf("seed %d: %d evaluations, %d absurd strays refused, %d in the bounds", spec.seed, evals, strays, kept)
}

// strayCalls returns the Ingest calls that deliver call c with strays, and
// the numbers of absurd strays and of series states of in-bound strays: mostly c alone; sometimes c
// with absurd samples mixed into its own; or c and, before or after it, a
// call of a new series of the same target and route (an extra label)
// holding either absurd samples only, or one sample within the bounds but
// older than the stream (a target's start moved by it would re-count every
// baseline of the target). Only request counters get strays: each is
// counted by a source (a latency bucket other than le=LE and +Inf is not).
func (sg *strayGen) calls(c simCall, now int64) (calls []simCall, absurd, inBounds int) {
	if sg.rng.Float64() >= 0.05 || refLabel(c.labels, "code") == "" {
		return []simCall{c}, 0, 0
	}
	strays := make([]Sample, 1+sg.rng.IntN(3))
	for i := range strays {
		strays[i] = Sample{Timestamp: strayTime(sg.rng, now), Value: []float64{0, 1, 20_000, 500_000, 1e12}[sg.rng.IntN(5)]}
	}
	stray := simCall{labels: append(slices.Clone(c.labels), Label{Name: "stray", Value: "absurd"}), samples: strays}
	switch sg.rng.IntN(3) {
	case 0: // mixed into a known series' samples
		smp := slices.Clone(c.samples)
		for _, s := range strays {
			smp = slices.Insert(smp, sg.rng.IntN(len(smp)+1), s)
		}
		return []simCall{{labels: c.labels, samples: smp}}, len(strays), 0
	case 1: // in the bounds, before the stream: one sample of a series of its own
		sg.n++
		oldest := now - (defaultLongestWindow + defaultMinuteHorizon - time.Hour).Milliseconds()
		stray = simCall{labels: append(slices.Clone(c.labels), Label{Name: "stray", Value: strconv.Itoa(sg.n)}),
			samples: []Sample{{Timestamp: oldest + sg.rng.Int64N(sg.start-oldest), Value: strays[0].Value}}}
		absurd, inBounds = 0, 1
		if refLabel(c.labels, "job") == "ingress" {
			inBounds = 2 // a series of web and of web-by-path (refSources)
		}
	default:
		absurd = len(strays)
	}
	calls = []simCall{c, stray}
	if sg.rng.IntN(2) == 0 {
		calls[0], calls[1] = calls[1], calls[0]
	}
	return calls, absurd, inBounds
}

// strayGen makes strays for a stream that starts at start.
type strayGen struct {
	rng   *rand.Rand
	start int64
	n     int // in-bound stray series so far
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
