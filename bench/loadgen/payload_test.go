package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/slogate/slogate/remotewrite"
)

const sliMetric = "nginx_ingress_controller_requests"

var testStart = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).UnixMilli()

func smallPayload(t *testing.T, sli int) *Payload {
	t.Helper()
	p, err := NewPayload(PayloadConfig{SamplesPerBlock: 1000, SLIPercent: sli, Routes: 200, SLISeries: 300, Start: testStart})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decode decompresses and decodes a body with slogate's own wire package,
// keeping every series.
func decode(t *testing.T, body []byte, enc Encoding) *remotewrite.WriteRequest {
	t.Helper()
	d, err := remotewrite.NewDecompressor(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	e := remotewrite.Snappy
	if enc == Zstd {
		e = remotewrite.Zstd
	}
	var wr remotewrite.WriteRequest
	if wr.Buf, err = d.Decompress(wr.Buf, body, e); err != nil {
		t.Fatalf("cannot decompress %s body: %s", enc, err)
	}
	if err := wr.Unmarshal(wr.Buf, func([]byte) bool { return true }, remotewrite.Limits{}); err != nil {
		t.Fatalf("cannot decode %s body: %s", enc, err)
	}
	return &wr
}

func seriesKey(ts remotewrite.TimeSeries) string {
	var b strings.Builder
	for _, l := range ts.Labels {
		b.WriteString(l.Name + "=" + l.Value + ",")
	}
	return b.String()
}

func TestPayloadRounds(t *testing.T) {
	for _, enc := range []Encoding{Snappy, Zstd} {
		for _, sli := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/%d%%", enc, sli), func(t *testing.T) {
				p := smallPayload(t, sli)
				bs, err := NewBodies(p, enc)
				if err != nil {
					t.Fatal(err)
				}
				var buf BodyBuffer
				last := map[string]remotewrite.Sample{}
				sliSeries := map[string]bool{}
				for round := int64(0); round < 3; round++ {
					for b := 0; b < p.Blocks(); b++ {
						body, err := bs.Encode(&buf, b, round)
						if err != nil {
							t.Fatal(err)
						}
						wr := decode(t, body, enc)
						if wr.SeriesTotal != p.SamplesPerBlock() || len(wr.Series) != p.SamplesPerBlock() {
							t.Fatalf("block %d has %d series, want %d", b, wr.SeriesTotal, p.SamplesPerBlock())
						}
						nSLI := 0
						for _, ts := range wr.Series {
							if len(ts.Samples) != 1 {
								t.Fatalf("series has %d samples, want 1", len(ts.Samples))
							}
							s := ts.Samples[0]
							if want := testStart + round*15_000; s.Timestamp != want {
								t.Fatalf("round %d: timestamp %d, want %d", round, s.Timestamp, want)
							}
							k := seriesKey(ts)
							if prev, ok := last[k]; ok {
								if prev.Timestamp != s.Timestamp-15_000 || s.Value < prev.Value {
									t.Fatalf("series %s: %v after %v: not the next scrape of a monotonic counter", k, s, prev)
								}
							} else if round > 0 {
								t.Fatalf("series %s appears first in round %d", k, round)
							}
							last[k] = s
							if ts.Labels[0].Value == sliMetric {
								nSLI++
								sliSeries[k] = true
							}
						}
						if want := p.SamplesPerBlock() * sli / 100; nSLI != want {
							t.Fatalf("block %d: %d ingress series, want exactly %d (%d%%)", b, nSLI, want, sli)
						}
					}
					if len(last) != p.Series() {
						t.Fatalf("round %d: %d distinct series, want %d (a series repeats)", round, len(last), p.Series())
					}
				}
				if len(sliSeries) != p.SLISeries() {
					t.Fatalf("%d distinct ingress series, want %d", len(sliSeries), p.SLISeries())
				}
			})
		}
	}
}

// TestPayloadDefaults checks the universe the benchmark uses: 30 blocks per
// round at 1% and 3 at 10%, 3,000 ingress series over 2,000 routes, with
// 200, 404 and 503 all present and some counters growing every round.
func TestPayloadDefaults(t *testing.T) {
	for _, c := range []struct{ sli, blocks, series int }{{1, 30, 300_000}, {10, 3, 30_000}} {
		p, err := NewPayload(PayloadConfig{SLIPercent: c.sli, Start: testStart})
		if err != nil {
			t.Fatal(err)
		}
		if p.Blocks() != c.blocks || p.Series() != c.series || p.SLISeries() != 3000 {
			t.Fatalf("%d%%: %d blocks, %d series, %d SLI series; want %d, %d, 3000", c.sli, p.Blocks(), p.Series(), p.SLISeries(), c.blocks, c.series)
		}
	}
	routes, statuses := map[string]bool{}, map[string]int{}
	var labels []remotewrite.Label
	for j := 0; j < 3000; j++ {
		labels, _ = ingressSeries(labels[:0], j, 2000)
		var route, status string
		for _, l := range labels {
			switch l.Name {
			case "namespace", "ingress", "host", "path":
				route += l.Value + "|"
			case "status":
				status = l.Value
			}
		}
		routes[route] = true
		statuses[status]++
	}
	if len(routes) != 2000 || len(statuses) != 3 {
		t.Fatalf("%d routes and statuses %v; want 2000 routes with 200, 404 and 503", len(routes), statuses)
	}
}

func TestSnappyTemplateMatchesProtobuf(t *testing.T) {
	p := smallPayload(t, 10)
	bs, err := NewBodies(p, Snappy)
	if err != nil {
		t.Fatal(err)
	}
	var buf BodyBuffer
	for _, round := range []int64{0, 1, 1000, 123456} {
		for b := 0; b < p.Blocks(); b++ {
			body, err := bs.Encode(&buf, b, round)
			if err != nil {
				t.Fatal(err)
			}
			got, err := snappy.Decode(nil, body)
			if err != nil {
				t.Fatalf("round %d block %d: not a snappy block: %s", round, b, err)
			}
			want, err := p.AppendBlock(nil, b, round)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d block %d: template decodes to other bytes than the protobuf", round, b)
			}
		}
	}
	// The template must still compress: the changing bytes are 15 of about
	// 180 per series.
	if c, raw := len(bs.snappy[0]), len(p.Template(0)); c > raw/2 {
		t.Fatalf("snappy template is %d bytes for %d raw: does not compress", c, raw)
	}
}

func TestPayloadRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  PayloadConfig
	}{
		{"share over 100", PayloadConfig{SLIPercent: 101, Start: testStart}},
		{"share not whole", PayloadConfig{SamplesPerBlock: 150, SLIPercent: 1, Start: testStart}},
		{"start before 2^35", PayloadConfig{SLIPercent: 1, Start: 1_000}},
		{"start after 2^42", PayloadConfig{SLIPercent: 1, Start: 1 << 42}},
		{"too few routes", PayloadConfig{SamplesPerBlock: 1000, SLIPercent: 10, Routes: 10, SLISeries: 300, Start: testStart}},
	} {
		if _, err := NewPayload(c.cfg); err == nil {
			t.Errorf("%s: NewPayload accepted %+v", c.name, c.cfg)
		}
	}
	p := smallPayload(t, 1)
	if _, err := p.AppendBlock(nil, 0, 1<<40); err == nil {
		t.Error("AppendBlock accepted a round whose timestamp does not fit 6 varint bytes")
	}
}

func TestPregenerateCache(t *testing.T) {
	p := smallPayload(t, 10)
	bs, err := NewBodies(p, Zstd)
	if err != nil {
		t.Fatal(err)
	}
	file := cacheName(t.TempDir(), Zstd, p.cfg, 7)
	want, err := Pregenerate(bs, 8, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5, 8, 3} { // fill, extend, read a prefix
		got, err := Pregenerate(bs, n, 7, file)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("got %d bodies, want %d", len(got), n)
		}
		for k := range got {
			// zstd output is deterministic for the same input and level.
			if !bytes.Equal(got[k], want[k]) {
				t.Fatalf("n=%d: body %d differs from a fresh encoding", n, k)
			}
		}
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Fatalf("cache file: %v", err)
	}
}

// TestInOrderSLISeries: the universe the command takes by default has at
// least 2 x conns blocks per round at every share, so a series' samples
// are 2 x conns requests apart, and fits the routes the command gives it.
func TestInOrderSLISeries(t *testing.T) {
	for _, sli := range []int{1, 10, 30} {
		for _, conns := range []int{1, 4, 16} {
			n := InOrderSLISeries(10_000, sli, conns)
			routes := max(2000, (n+len(ingressStatuses)-1)/len(ingressStatuses))
			p, err := NewPayload(PayloadConfig{SLIPercent: sli, SLISeries: n, Routes: routes, Start: testStart})
			if err != nil {
				t.Fatalf("%d%%, %d conns: %v", sli, conns, err)
			}
			if p.Blocks() < 2*conns || p.SLISeries() < 3000 {
				t.Fatalf("%d%%, %d conns: %d blocks per round, %d SLI series; want at least %d and 3000", sli, conns, p.Blocks(), p.SLISeries(), 2*conns)
			}
		}
	}
}

// TestPayloadRouteOrder: by default a route's ingress series follow each
// other, as a scrape lists them; Scattered sends consecutive ingress
// series for different routes. Either way the universe is the same.
func TestPayloadRouteOrder(t *testing.T) {
	routesOf := func(scattered bool) ([]string, map[string]bool) {
		p, err := NewPayload(PayloadConfig{SamplesPerBlock: 1000, SLIPercent: 10, Routes: 50, SLISeries: 300, Start: testStart, Scattered: scattered})
		if err != nil {
			t.Fatal(err)
		}
		var routes []string
		all := map[string]bool{}
		for b := range p.Blocks() {
			var wr remotewrite.WriteRequest
			if err := wr.Unmarshal(p.Template(b), func([]byte) bool { return true }, remotewrite.Limits{}); err != nil {
				t.Fatal(err)
			}
			for _, s := range wr.Series {
				if s.Labels[0].Value != sliMetric {
					continue
				}
				routes = append(routes, labelValue(s.Labels, "path"))
				all[seriesKey(s)] = true
			}
		}
		return routes, all
	}
	together, u1 := routesOf(false)
	apart, u2 := routesOf(true)
	if len(together) != 300 || len(u1) != 300 || len(u2) != 300 || !maps.Equal(u1, u2) {
		t.Fatalf("universes differ: %d and %d distinct series of %d", len(u1), len(u2), len(together))
	}
	seen := map[string]bool{}
	for i, r := range together {
		if i > 0 && r != together[i-1] && seen[r] {
			t.Fatalf("route %s comes back at ingress series %d: its series are not together", r, i)
		}
		seen[r] = true
	}
	for i := 1; i < len(apart); i++ {
		if apart[i] == apart[i-1] {
			t.Fatalf("scattered: ingress series %d and %d are both of route %s", i-1, i, apart[i])
		}
	}
}

func labelValue(labels []remotewrite.Label, name string) string {
	for _, l := range labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}
