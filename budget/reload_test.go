package budget

import (
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// feed ingests good and bad request counters of hosts a and b (instance
// i1), one point every 5 minutes in [from, to).
func feed(es []*Engine, from, to int64) {
	for ts := from; ts < to; ts += 5 * minute {
		k := float64((ts - t0) / (5 * minute))
		for _, e := range es {
			e.Ingest(Tenant{}, req("a", "200", "i1"), []Sample{{Value: 100 * k, Timestamp: ts}})
			e.Ingest(Tenant{}, req("a", "500", "i1"), []Sample{{Value: k, Timestamp: ts}})
			e.Ingest(Tenant{}, req("b", "200", "i1"), []Sample{{Value: 50 * k, Timestamp: ts}})
		}
	}
}

// objectives returns a Resolve: route a gets target and window, b a calendar
// month.
func objectives(target float64, window time.Duration) func(*Source, []Label) Objective {
	return func(src *Source, route []Label) Objective {
		if route[0].Value == "b" {
			return Objective{Name: "monthly", SLO: 0.99, SLA: 0.98, Window: slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: time.UTC}}
		}
		return Objective{Name: "availability", SLO: target, Window: slo.Window{Kind: slo.Rolling, Length: window}}
	}
}

// TestReloadObjectives: after a reload the routes have the new objectives
// and the state of an engine that had them from the start, where that is
// meaningful: a shorter window (the hours that no longer fit are gone) and
// a longer one when the data fit the shorter one.
func TestReloadObjectives(t *testing.T) {
	day := 24 * time.Hour.Milliseconds()
	f := func(name string, old, now func(*Source, []Label) Objective, days int64) {
		t.Helper()
		clock := t0
		cfg := EngineConfig{Now: func() time.Time { return time.UnixMilli(clock) }, Sources: []Source{webSource(), latencySource()}}
		cfg.Resolve = old
		e := NewEngine(cfg)
		cfg.Resolve = now
		want := NewEngine(cfg)
		clock = t0 + days*day
		feed([]*Engine{e, want}, t0, clock)
		e.Reload(cfg)
		sameStatus(t, name+", right after the reload", want, e, clock)
		clock += 5 * day
		feed([]*Engine{e, want}, clock-5*day, clock)
		sameStatus(t, name+", 5 days later", want, e, clock)
		if sw, se := want.Stats(), e.Stats(); sw != se {
			t.Errorf("%s: stats %+v, want %+v", name, se, sw)
		}
		st := e.Evaluate(Tenant{}, clock)
		if o := now(nil, st[0].Labels); st[0].Objective.SLO != o.SLO || st[0].Windows[slo.WindowCompliance].Name != o.Window.Label() {
			t.Errorf("%s: objective %+v", name, st[0].Objective)
		}
	}
	f("30d to 7d, 0.999 to 0.99", objectives(0.999, 30*24*time.Hour), objectives(0.99, 7*24*time.Hour), 12)
	f("7d to 30d", objectives(0.99, 7*24*time.Hour), objectives(0.999, 30*24*time.Hour), 6)
	f("3d to 1d", objectives(0.99, 3*24*time.Hour), objectives(0.99, 24*time.Hour), 2)
}

// TestReloadSources: a removed source loses its state, a kept one that
// moved in the list keeps it, a new one starts empty: its first values are
// baselines even though other sources know its target.
func TestReloadSources(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	bucket := func(le string) []Label {
		return []Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "host", Value: "a"},
			{Name: "instance", Value: "i1"}, {Name: "job", Value: "ingress"}, {Name: "le", Value: le}}
	}
	api := func(code string) []Label {
		return []Label{{Name: "__name__", Value: "api_requests_total"}, {Name: "code", Value: code}, {Name: "instance", Value: "i1"}, {Name: "job", Value: "ingress"}, {Name: "service", Value: "s"}}
	}
	for i := int64(0); i < 10; i++ {
		h.put(req("a", "200", "i1"), t0+i*minute, float64(i*10))
		h.put(bucket("0.5"), t0+i*minute, float64(i*8))
		h.put(bucket("+Inf"), t0+i*minute, float64(i*9))
	}
	at := t0 + 20*minute
	before := h.status(at, "web-latency", "a")
	apiSrc := Source{Name: "api", Kind: Availability, Metric: "api_requests_total", RouteLabels: []string{"service"},
		StatusLabel: "code", Bad: regexp.MustCompile(`^(?:5..)$`)}
	h.e.Reload(EngineConfig{Sources: []Source{latencySource(), apiSrc}})

	if h.e.Wants([]byte("http_requests_total")) || !h.e.Wants([]byte("api_requests_total")) {
		t.Error("Wants answers for the old sources")
	}
	if got := fmt.Sprint(h.e.Metrics()); got != "[api_requests_total http_request_duration_seconds_bucket]" {
		t.Errorf("metrics %s", got)
	}
	sts := h.e.Evaluate(Tenant{}, at)
	if len(sts) != 1 || fmt.Sprint(sts[0]) != fmt.Sprint(before) {
		t.Fatalf("after the reload %+v, want only %+v", sts, before)
	}
	// The kept series are found under their new keys: deltas, no new series.
	h.put(bucket("0.5"), t0+10*minute, 72+5)         // after 9*8
	h.put(bucket("+Inf"), t0+10*minute, 81+5)        // after 9*9
	h.put(req("a", "200", "i1"), t0+10*minute, 1000) // no source reads it now
	h.put(api("200"), t0+10*minute, 5000)            // baseline
	h.put(api("200"), t0+11*minute, 5010)
	h.put(api("503"), t0+12*minute, 3) // a new code of a known target: in full
	at = t0 + 30*minute
	if st := h.status(at, "web-latency", "a"); st.Good != before.Good+5 || st.Bad != before.Bad {
		t.Errorf("latency good %d bad %d, want %d %d", st.Good, st.Bad, before.Good+5, before.Bad)
	}
	if st := h.status(at, "api", "s"); st.Good != 10 || st.Bad != 3 {
		t.Errorf("api good %d bad %d, want 10 3", st.Good, st.Bad)
	}
	if s := h.e.Stats(); s.Series != 4 {
		t.Errorf("%d series, want 4", s.Series)
	}
	// The state survives a snapshot with the new sources, epochs included.
	n := NewEngine(EngineConfig{Sources: []Source{latencySource(), apiSrc}, Now: h.e.now})
	data, _ := h.e.AppendState(nil)
	if err := n.LoadState(data); err != nil {
		t.Fatal(err)
	}
	h.e.Ingest(Tenant{}, api("500"), []Sample{{Value: 7, Timestamp: t0 + 13*minute}})
	n.Ingest(Tenant{}, api("500"), []Sample{{Value: 7, Timestamp: t0 + 13*minute}})
	sameStatus(t, "loaded after the reload", h.e, n, at)

	// A source whose bad statuses change counts differently: it starts over.
	web := webSource()
	h.e.Reload(EngineConfig{Sources: []Source{latencySource(), apiSrc, web}})
	h.put(req("a", "500", "i1"), t0+14*minute, 50) // baseline: web starts now
	h.put(req("a", "500", "i1"), t0+15*minute, 52)
	apiSrc.Bad = regexp.MustCompile(`^(?:5..|429)$`)
	h.e.Reload(EngineConfig{Sources: []Source{latencySource(), apiSrc, web}})
	h.put(api("429"), t0+16*minute, 4) // baseline: api starts over
	h.put(api("429"), t0+17*minute, 6)
	at = t0 + 40*minute
	if st := h.status(at, "api", "s"); st.Good != 0 || st.Bad != 2 {
		t.Errorf("api after its change: good %d bad %d, want 0 2", st.Good, st.Bad)
	}
	if st := h.status(at, "web", "a"); st.Bad != 2 {
		t.Errorf("web after the second reload: bad %d, want 2", st.Bad)
	}
}

// TestReloadConcurrent runs Reload (objectives alternate) against Ingest,
// Evaluate, AppendState and Wants; with -race. No increment is lost.
func TestReloadConcurrent(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	h.now = t0 + 24*time.Hour.Milliseconds()
	const workers, points = 4, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			labels := req(fmt.Sprintf("h%d", w%2), "200", fmt.Sprintf("i%d", w))
			for i := range points {
				h.e.Ingest(Tenant{}, labels, []Sample{{Value: float64(i), Timestamp: t0 + int64(i)*1000}})
				h.e.Wants([]byte("http_requests_total"))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 40 {
			sources := []Source{webSource(), latencySource()}
			if i%2 == 1 {
				sources = []Source{latencySource(), webSource()}
			}
			h.e.Reload(EngineConfig{Sources: sources, Resolve: objectives(0.9+float64(i%5)/100, time.Duration(1+i%3)*24*time.Hour)})
			h.e.Evaluate(Tenant{}, t0+int64(i)*10_000)
			if _, err := h.e.AppendState(nil); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	var good uint64
	for _, st := range h.e.Evaluate(Tenant{}, t0+time.Hour.Milliseconds()) {
		good += st.Good
	}
	if good != workers*(points-1) {
		t.Errorf("good %d, want %d", good, workers*(points-1))
	}
}

// BenchmarkReload: 20,000 routes re-resolved, with the same objectives,
// and with their hour rings resized (30d to 7d and back). Every tenant is
// locked for this long.
func BenchmarkReload(b *testing.B) {
	week := func(src *Source, _ []Label) Objective {
		o := DefaultObjective(src)
		o.Window.Length = 7 * 24 * time.Hour
		return o
	}
	for _, c := range []struct {
		name string
		cfgs []EngineConfig
	}{
		{"same", []EngineConfig{{Sources: []Source{nginxSource()}}}},
		{"windows", []EngineConfig{{Sources: []Source{nginxSource()}, Resolve: week}, {Sources: []Source{nginxSource()}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			e, _ := newLoadedEngine(20_000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e.Reload(c.cfgs[i%len(c.cfgs)])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20_000, "ns/route")
		})
	}
}
