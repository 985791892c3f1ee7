package budget

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/slogate/slogate/remotewrite"
)

// TestIngestWriteMatchesIngest: IngestWrite of a scanned write, lazy or
// not, counts exactly what Ingest of each series does: the same routes,
// budgets and stats, also when a series comes back with its labels in
// another order, with NaN, duplicate, reordered, future and ancient
// samples, and for a second tenant.
func TestIngestWriteMatchesIngest(t *testing.T) {
	now := t0 + 4*24*minute*60
	cfg := func() EngineConfig {
		return EngineConfig{
			Sources: []Source{webSource(), latencySource()},
			Now:     func() time.Time { return time.UnixMilli(now) },
		}
	}
	one, lazy, full := NewEngine(cfg()), NewEngine(cfg()), NewEngine(cfg())
	rng := rand.New(rand.NewPCG(1, 2))
	series := func() []remotewrite.TimeSeries {
		var out []remotewrite.TimeSeries
		for i := range 40 {
			host := fmt.Sprint("h", rng.IntN(6))
			var labels []Label
			switch i % 4 {
			case 0, 1:
				labels = req(host, []string{"200", "503", "404"}[rng.IntN(3)], fmt.Sprint("i", rng.IntN(3)))
			case 2:
				labels = []Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"},
					{Name: "host", Value: host}, {Name: "le", Value: []string{"0.5", "+Inf", "1"}[rng.IntN(3)]}}
			case 3:
				labels = []Label{{Name: "__name__", Value: "node_cpu_seconds_total"}, {Name: "cpu", Value: "1"}}
			}
			rng.Shuffle(len(labels), func(a, b int) { labels[a], labels[b] = labels[b], labels[a] })
			var samples []Sample
			for range rng.IntN(4) {
				ts := now - int64(rng.IntN(90))*minute
				v := float64(rng.IntN(50))
				switch rng.IntN(20) {
				case 0:
					v = math.NaN()
				case 1:
					ts = now + time.Hour.Milliseconds()
				case 2:
					ts = now - 200*24*time.Hour.Milliseconds()
				}
				samples = append(samples, Sample{Value: v, Timestamp: ts})
			}
			out = append(out, remotewrite.TimeSeries{Labels: labels, Samples: samples})
		}
		return out
	}
	var wrLazy, wrFull remotewrite.WriteRequest
	wrLazy.Lazy = true
	for k := range 60 {
		tn := Tenant{}
		if k%3 == 2 {
			tn = Tenant{AccountID: 1, ProjectID: 2}
		}
		in := series()
		for _, s := range in {
			one.Ingest(tn, s.Labels, s.Samples)
		}
		body := remotewrite.AppendWriteRequest(nil, in)
		for _, c := range []struct {
			e  *Engine
			wr *remotewrite.WriteRequest
		}{{lazy, &wrLazy}, {full, &wrFull}} {
			if err := c.wr.Unmarshal(body, c.e.Wants, remotewrite.Limits{}); err != nil {
				t.Fatal(err)
			}
			c.e.IngestWrite(tn, c.wr.Series)
		}
		now += 20_000
	}
	want := one.Stats()
	if want.SamplesCounted == 0 || want.Reorders == 0 || want.NaN == 0 || want.Future == 0 || want.Past == 0 || want.Series == 0 {
		t.Fatalf("the writes miss a case: %+v", want)
	}
	for name, e := range map[string]*Engine{"lazy": lazy, "full": full} {
		if got := e.Stats(); got != want {
			t.Errorf("%s: stats %+v, want %+v", name, got, want)
		}
		for _, tn := range []Tenant{{}, {AccountID: 1, ProjectID: 2}} {
			// The series keys too: snapshots keep them, and a restart
			// replays through Ingest.
			if got, want := seriesKeys(e, tn), seriesKeys(one, tn); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: tenant %v has series keys %x, want %x", name, tn, got, want)
			}
			if got, want := e.Evaluate(tn, now), one.Evaluate(tn, now); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: tenant %v evaluates to\n%+v\nwant\n%+v", name, tn, got, want)
			}
		}
	}
}

func seriesKeys(e *Engine, tn Tenant) []uint64 {
	ts := e.lookupTenant(tn)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	keys := slices.Collect(maps.Keys(ts.series))
	slices.Sort(keys)
	return keys
}

// TestIngestWriteForgetAndReload: a lazy write counts into the state the
// engine has now, not one the tenant's raw keys knew before its route was
// forgotten or a reload moved or dropped its source.
func TestIngestWriteForgetAndReload(t *testing.T) {
	now := t0
	day := func(src *Source, _ []Label) Objective {
		o := DefaultObjective(src)
		o.Window.Length = 24 * time.Hour
		return o
	}
	cfg := EngineConfig{Sources: []Source{webSource()}, Resolve: day, Now: func() time.Time { return time.UnixMilli(now) }}
	one, lazy := NewEngine(cfg), NewEngine(cfg)
	var wr remotewrite.WriteRequest
	wr.Lazy = true
	put := func(labels []Label, ts int64, v float64) {
		t.Helper()
		now = max(now, ts)
		in := []remotewrite.TimeSeries{{Labels: labels, Samples: []Sample{{Value: v, Timestamp: ts}}}}
		one.Ingest(Tenant{}, labels, in[0].Samples)
		if err := wr.Unmarshal(remotewrite.AppendWriteRequest(nil, in), lazy.Wants, remotewrite.Limits{}); err != nil {
			t.Fatal(err)
		}
		lazy.IngestWrite(Tenant{}, wr.Series)
	}
	check := func(what string) {
		t.Helper()
		if got, want := lazy.Stats(), one.Stats(); got != want {
			t.Errorf("%s: stats %+v, want %+v", what, got, want)
		}
		if got, want := lazy.Evaluate(Tenant{}, now), one.Evaluate(Tenant{}, now); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: evaluates to\n%+v\nwant\n%+v", what, got, want)
		}
	}
	hour := time.Hour.Milliseconds()
	put(req("a", "200", "i1"), t0, 1)
	put(req("a", "200", "i1"), t0+minute, 5)
	put(req("b", "200", "i2"), t0+25*hour, 1)
	check("a forgotten") // Evaluate forgets a
	if s := lazy.Stats(); s.RoutesForgotten != 1 {
		t.Fatalf("stats %+v, want a forgotten", s)
	}
	put(req("a", "200", "i1"), t0+25*hour+minute, 50) // a new route again
	put(req("a", "200", "i1"), t0+25*hour+2*minute, 60)
	check("a back")

	// The web source moves to index 1, then is dropped.
	api := webSource()
	api.Name, api.Metric = "api", "api_requests_total"
	for _, srcs := range [][]Source{{api, webSource()}, {api}, {api, webSource()}} {
		for _, e := range []*Engine{one, lazy} {
			e.Reload(EngineConfig{Sources: srcs, Resolve: day, Now: cfg.Now})
		}
		put(req("a", "200", "i1"), now+minute, 70)
		put(req("a", "500", "i1"), now+minute, 3)
		check(fmt.Sprintf("after a reload to %d sources", len(srcs)))
	}
	if s := lazy.Stats(); s.SamplesCounted == 0 || s.Series == 0 {
		t.Fatalf("nothing counted: %+v", s)
	}
}
