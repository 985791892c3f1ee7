package remotewrite

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestKnownLabels: a lazy scan reads a series whose label fields it
// checked before from its end (known.go), and the result is the walk's:
// the same series, keys and samples. Other fields, other Limits and a
// sample in another form are walked again.
func TestKnownLabels(t *testing.T) {
	series := benchSeries(150, 30) // 50 SLI series, all different
	keep := func(name []byte) bool { return string(name) == "nginx_ingress_controller_requests" }
	var wr WriteRequest
	wr.Lazy = true
	wr.known = new(knownLabels) // not the process' set, which other tests fill
	scan := func(body []byte, lim Limits) string {
		t.Helper()
		wr.Reset()
		if err := wr.Unmarshal(body, keep, lim); err != nil {
			t.Fatal(err)
		}
		var out string
		for i := range wr.Series {
			s := &wr.Series[i]
			out += fmt.Sprintf("%s %x %v %v\n", s.Key.Name, s.Key.Raw, s.Samples, s.AppendLabels(nil))
		}
		return out
	}
	body := AppendWriteRequest(nil, series)
	first := scan(body, Limits{})
	kept := len(wr.Series)
	if kept == 0 || wr.knownHits != 0 {
		t.Fatalf("first scan: %d series kept, %d read as known; want some, 0", kept, wr.knownHits)
	}
	if again := scan(body, Limits{}); again != first || wr.knownHits != kept {
		t.Fatalf("second scan: %d of %d series read as known, same result %v; want all, true", wr.knownHits, kept, again == first)
	}

	// Other Limits: checked again.
	hits := wr.knownHits
	if scan(body, Limits{MaxLabelLen: 100}) != first || wr.knownHits != hits {
		t.Fatalf("other Limits: %d more series read as known, want 0", wr.knownHits-hits)
	}
	// Another value of a label, and a sample of another form (a second
	// sample): walked.
	series[0].Labels[5].Value = "web-other"
	series[3].Samples = append(series[3].Samples, Sample{Value: 1, Timestamp: 2})
	hits = wr.knownHits
	scan(AppendWriteRequest(nil, series), Limits{MaxLabelLen: 100})
	if got := wr.knownHits - hits; got != kept-2 {
		t.Fatalf("two series changed: %d of %d read as known, want %d", got, kept, kept-2)
	}
	// A label over the Limits is refused the same way the second time.
	tight := Limits{MaxLabelLen: 12}
	if err := wr.Unmarshal(body, keep, tight); err != nil {
		t.Fatal(err)
	}
	wr.Reset()
	hits = wr.knownHits
	if err := wr.Unmarshal(body, keep, tight); err != nil {
		t.Fatal(err)
	}
	if wr.knownHits != hits {
		t.Fatalf("labels over the Limits: %d series read as known, want 0", wr.knownHits-hits)
	}
}

// TestTailSample: tailSample finds the last field of a series in the form
// fastSample reads, and nothing in other series.
func TestTailSample(t *testing.T) {
	for _, ts := range []int64{1, 127, 128, 1_700_000_000_000, 1<<56 - 1} {
		one := AppendWriteRequest(nil, []TimeSeries{{Labels: []Label{{Name: "a", Value: "b"}}, Samples: []Sample{{Value: 3, Timestamp: ts}}}})
		msg := one[2:] // the TimeSeries field's tag and one-byte length
		tail, ok := tailSample(msg)
		if !ok || tail != 8 { // the label field: 0x0a, 6, 0x0a, 1, 'a', 0x12, 1, 'b'
			t.Fatalf("timestamp %d: tailSample = %d %v, want 8 true", ts, tail, ok)
		}
		if smp, ok := fastSample(msg[tail+2:]); !ok || smp.Timestamp != ts || smp.Value != 3 {
			t.Fatalf("timestamp %d: sample %v %v", ts, smp, ok)
		}
	}
	two := AppendWriteRequest(nil, []TimeSeries{{Labels: []Label{{Name: "a", Value: "b"}}, Samples: []Sample{{Value: 3, Timestamp: 1}, {Value: 4, Timestamp: 2}}}})
	if tail, ok := tailSample(two[2:]); ok && tail == 8 {
		t.Fatalf("two samples: tailSample = %d %v, want not 8", tail, ok)
	}
	if _, ok := tailSample([]byte{0x12, 11, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}); ok {
		t.Fatal("a truncated series: tailSample ok")
	}
}

// TestKnownLabelsShared: the process' set serves every lazy WriteRequest:
// a scan on one finds the label fields a scan on another checked, under
// the same Limits only.
func TestKnownLabelsShared(t *testing.T) {
	series := benchSeries(150, 30)
	body := AppendWriteRequest(nil, series)
	keep := func(name []byte) bool { return string(name) == "nginx_ingress_controller_requests" }
	lim := Limits{MaxLabelLen: 77} // Limits no other test scans with
	var a, b WriteRequest
	a.Lazy, b.Lazy = true, true
	if err := a.Unmarshal(body, keep, lim); err != nil {
		t.Fatal(err)
	}
	if err := b.Unmarshal(body, keep, lim); err != nil {
		t.Fatal(err)
	}
	if len(b.Series) == 0 || a.knownHits != 0 || b.knownHits != len(b.Series) || a.known != b.known {
		t.Fatalf("%d series read as known by the first WriteRequest, %d of %d by the second; want none, all", a.knownHits, b.knownHits, len(b.Series))
	}
	var c WriteRequest
	c.Lazy = true
	if err := c.Unmarshal(body, keep, Limits{MaxLabelLen: 78}); err != nil {
		t.Fatal(err)
	}
	if c.knownHits != 0 {
		t.Fatalf("other Limits: %d series read as known, want 0", c.knownHits)
	}
}

// TestKnownQueueOrder: queued series (known.go) are resolved in order
// among series that are not queued (kept series of other forms, refused,
// unwanted), and before a series that is not queued adds samples, so a lazy scan gives the full scan's series, samples and
// labels, the first time and once the fields are known, whatever the mix.
func TestKnownQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	keep := func(name []byte) bool { return string(name) != "node_cpu_seconds_total" }
	for round := range 200 {
		series := benchSeries(1+rng.IntN(60), 30)
		for i := range series {
			switch rng.IntN(8) {
			case 0: // a second sample: not the known form
				series[i].Samples = append(series[i].Samples, Sample{Value: 2, Timestamp: 3})
			case 1: // a label over the Limits below: refused
				series[i].Labels[len(series[i].Labels)-1].Value = "a-value-longer-than-forty-bytes-of-the-limits"
			case 2: // another kept metric
				series[i].Labels[0].Value = "traefik_service_requests_total"
			case 3: // a second name label: keep must hear of it
				series[i].Labels = append(series[i].Labels, Label{Name: "", Value: "other_name"})
			case 4: // the name not first: walked at once, not queued
				l := series[i].Labels
				l[0], l[1] = l[1], l[0]
			case 5: // no sample: walked at once, not queued
				series[i].Samples = nil
			}
		}
		data := AppendWriteRequest(nil, series)
		lim := Limits{MaxLabelLen: 40}
		var full, lazy WriteRequest
		lazy.Lazy = true
		lazy.known = new(knownLabels)
		errFull := full.Unmarshal(data, keep, lim)
		for pass := range 2 {
			lazy.Reset()
			lazyPass(t, pass, data, keep, lim, &full, errFull, &lazy)
		}
		if round == 199 && lazy.knownHits == 0 {
			t.Fatal("no series was read as known")
		}
	}
}
