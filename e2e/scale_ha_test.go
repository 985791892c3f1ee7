package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/remotewrite"
)

// TestScaleHAPair runs an HA pair: two vmagents with the same traffic, each
// writing through its own slogate into one VictoriaMetrics started with
// -dedup.minScrapeInterval equal to the evaluation interval, fed in chunks
// so that both write many points at the same timestamps. Synthetic
// points are stamped in event time, so the replicas must write identical
// values at identical timestamps even though each sees the data in its own
// blocks at its own pace. A recording proxy between each slogate and
// VictoriaMetrics keeps what each replica wrote, since VictoriaMetrics
// merges them. Required:
//   - every point both replicas wrote (same series and timestamp) has the
//     same value, and every timestamp is aligned to the evaluation
//     interval;
//   - after deduplication VictoriaMetrics holds one value per series and
//     timestamp, exactly the union of what the replicas wrote, and the last
//     points equal the brute-force reference;
//   - both replicas' /slogate/api/v1/slos are identical.
func TestScaleHAPair(t *testing.T) {
	t.Parallel()
	// A short interval gives many points to compare in little time.
	const step = time.Second
	vm := testenv.StartVM(t, testenv.WithVMArgs("-dedup.minScrapeInterval="+step.String()))
	const chunks = 12
	scrapes := int(2 * time.Hour / scrapeStep)
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	st := generate(defaultPlan(scrapes), start, 21)

	var recs []*synthRecorder
	var sgs, agents []*testenv.Proc
	for range 2 {
		rec := startSynthRecorder(t, vm.URL())
		sg := testenv.StartSlogate(t, "-upstream.url="+rec.URL(), "-eval.interval="+step.String())
		// One queue keeps vmagent's blocks in order (see TestScaleShardByURL).
		agent := testenv.StartVMAgent(t, "", "-remoteWrite.url="+sg.URL+"/api/v1/write", "-remoteWrite.queues=1")
		recs, sgs, agents = append(recs, rec), append(sgs, sg), append(agents, agent.Proc)
	}
	// The traffic goes in chunks; after each, both replicas must write the
	// point at its end, so there are points in common to compare.
	var written []map[string]map[int64][]float64
	for c := range chunks {
		from, to := c*scrapes/chunks, (c+1)*scrapes/chunks
		for _, b := range st.blocks[from:to] {
			for _, a := range agents {
				postBlock(t, a.URL+"/api/v1/write", b, nil)
			}
		}
		end := start.Add(time.Duration(to-1) * scrapeStep).UnixMilli()
		at := end - end%step.Milliseconds()
		testenv.Eventually(t, 30*time.Second, func() error {
			written = written[:0]
			for i, rec := range recs {
				w := rec.Points(t)
				if err := missingRoutes(lastValues(w, at), at); err != nil {
					return fmt.Errorf("replica %d: %w", i, err)
				}
				written = append(written, w)
			}
			return nil
		})
		if c == chunks-1 {
			checkBudgets(t, vm, st, at, reference(st, at, nil), 0.999)
		}
	}

	// The replicas agree point by point.
	common := 0
	for _, key := range sortedKeys(written[0]) {
		a, b := written[0][key], written[1][key]
		if b == nil {
			t.Errorf("%s written by replica 0 only", key)
			continue
		}
		n := 0
		for ts, va := range a {
			if ts%step.Milliseconds() != 0 {
				t.Errorf("%s: replica 0 wrote a point at %d, not aligned to %s", key, ts, step)
			}
			vb, ok := b[ts]
			if !ok {
				continue
			}
			n++
			for _, v := range append(va[1:], vb...) {
				if !approxEqual(v, va[0]) {
					t.Errorf("%s at %s: replicas wrote %v and %v", key, time.UnixMilli(ts).UTC().Format(time.RFC3339), va, vb)
					break
				}
			}
		}
		if strings.HasPrefix(key, "slo_requests_total{") && n < chunks {
			t.Errorf("%s: %d points in common, want one at the end of each of the %d chunks at least", key, n, chunks)
		}
		common += n
	}
	for key := range written[1] {
		if _, ok := written[0][key]; !ok {
			t.Errorf("%s written by replica 1 only", key)
		}
	}

	// VictoriaMetrics holds one value per timestamp: the union of both.
	vm.ForceFlush(t)
	stored := vm.Export(t, `{__name__=~"slo_.*"}`)
	if len(stored) != len(written[0]) {
		t.Errorf("VictoriaMetrics holds %d synthetic series, the replicas wrote %d", len(stored), len(written[0]))
	}
	points := 0
	for _, s := range stored {
		key := s.Key()
		want := map[int64]float64{}
		for _, w := range written {
			for ts, v := range w[key] {
				want[ts] = v[0]
			}
		}
		for i, ts := range s.Timestamps {
			if i > 0 && ts <= s.Timestamps[i-1] {
				t.Errorf("%s: more than one value at %s after deduplication", key, time.UnixMilli(ts).UTC().Format(time.RFC3339))
				continue
			}
			if v, ok := want[ts]; !ok || !approxEqual(s.Values[i], v) {
				t.Errorf("%s at %d: stored %v, replicas wrote %v (written: %v)", key, ts, s.Values[i], v, ok)
			}
		}
		if len(s.Timestamps) != len(want) {
			t.Errorf("%s: %d points stored, the replicas wrote %d distinct timestamps", key, len(s.Timestamps), len(want))
		}
		points += len(s.Timestamps)
	}
	t.Logf("replicas wrote %d and %d points; %d in common, all equal; VictoriaMetrics keeps %d points of %d series",
		countPoints(written[0]), countPoints(written[1]), common, points, len(stored))

	// The API agrees too: same evaluation time, same numbers.
	a, b := fetchStatuses(t, sgs[0]), fetchStatuses(t, sgs[1])
	if len(a) != len(ingressRoutes) || len(b) != len(a) {
		t.Fatalf("/slogate/api/v1/slos lists %d and %d routes, want %d each", len(a), len(b), len(ingressRoutes))
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) {
			t.Errorf("/slogate/api/v1/slos differs between the replicas:\n%s\n%s", a[i].Raw, b[i].Raw)
		}
	}
	t.Logf("both replicas evaluated at %s", a[0].EvaluatedAt)
}

// lastValues shapes recorded points like routeValuesAt: route -> short
// series name -> value at at.
func lastValues(w map[string]map[int64][]float64, at int64) map[string]map[string]float64 {
	var series []testenv.ExportedSeries
	for key, pts := range w {
		if v, ok := pts[at]; ok {
			series = append(series, testenv.ExportedSeries{Metric: parseKey(key), Values: v[:1], Timestamps: []int64{at}})
		}
	}
	return routeValuesAt(series, at)
}

// parseKey parses a testenv.SeriesKey back into labels.
func parseKey(key string) map[string]string {
	samples, err := testenv.ParseMetrics(key + " 0")
	if err != nil || len(samples) != 1 {
		panic(fmt.Sprintf("BUG: cannot parse series key %q: %v", key, err))
	}
	m := samples[0].Labels
	m["__name__"] = samples[0].Name
	return m
}

func countPoints(w map[string]map[int64][]float64) int {
	n := 0
	for _, pts := range w {
		n += len(pts)
	}
	return n
}

// synthRecorder is a reverse proxy in front of VictoriaMetrics that keeps
// every slo_* sample of the writes VictoriaMetrics accepted.
type synthRecorder struct {
	srv      *httptest.Server
	upstream string
	dec      *remotewrite.Decompressor

	mu     sync.Mutex
	points map[string]map[int64][]float64 // series key -> timestamp -> values
	err    error                          // the first write that did not decode
}

func startSynthRecorder(t *testing.T, upstream string) *synthRecorder {
	t.Helper()
	dec, err := remotewrite.NewDecompressor(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	r := &synthRecorder{upstream: upstream, dec: dec, points: map[string]map[int64][]float64{}}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

// URL returns the proxy's base URL.
func (r *synthRecorder) URL() string { return r.srv.URL }

// Points returns a copy of what was recorded, failing the test if a write
// did not decode.
func (r *synthRecorder) Points(t *testing.T) map[string]map[int64][]float64 {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		t.Fatalf("recording proxy: %s", r.err)
	}
	out := make(map[string]map[int64][]float64, len(r.points))
	for k, pts := range r.points {
		m := make(map[int64][]float64, len(pts))
		for ts, v := range pts {
			m[ts] = append([]float64(nil), v...)
		}
		out[k] = m
	}
	return out
}

func (r *synthRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, r.upstream+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := testenv.HTTPClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/write") && resp.StatusCode/100 == 2 {
		r.record(req.Header.Get("Content-Encoding"), body)
	}
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (r *synthRecorder) record(encoding string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	enc, err := remotewrite.ParseEncoding([]byte(encoding))
	if err == nil {
		var raw []byte
		if raw, err = r.dec.Decompress(nil, body, enc); err == nil {
			var wr remotewrite.WriteRequest
			err = wr.Unmarshal(raw, func(name []byte) bool { return bytes.HasPrefix(name, []byte("slo_")) }, remotewrite.Limits{})
			for _, s := range wr.Series {
				m := make(map[string]string, len(s.Labels))
				for _, l := range s.Labels {
					m[l.Name] = l.Value
				}
				key := testenv.SeriesKey(m)
				if r.points[key] == nil {
					r.points[key] = map[int64][]float64{}
				}
				for _, smp := range s.Samples {
					r.points[key][smp.Timestamp] = append(r.points[key][smp.Timestamp], smp.Value)
				}
			}
		}
	}
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("cannot decode a write: %w", err)
	}
}

// sortedKeys returns the keys of m in order, for stable failure messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
