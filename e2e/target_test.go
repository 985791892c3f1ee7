package e2e

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// scrapeTarget is a Prometheus scrape target whose exposition is a pure
// function of the scrape number, with an explicit timestamp on every
// sample. It records every sample it served in a ledger, so a test knows
// exactly which (series, timestamp, value) triples must reach storage,
// independently of vmagent and of slogate.
type scrapeTarget struct {
	job string
	srv *httptest.Server

	mu      sync.Mutex
	frozen  bool
	scrapes int
	lastTS  int64
	times   []int64                            // timestamp of every served scrape
	ledger  map[string]*testenv.ExportedSeries // SeriesKey (with job, instance) -> served samples
}

// servedSample is one line of the exposition.
type servedSample struct {
	labels map[string]string // includes "__name__"
	value  float64
}

func newScrapeTarget(t *testing.T, job string) *scrapeTarget {
	tg := &scrapeTarget{job: job, ledger: map[string]*testenv.ExportedSeries{}}
	tg.srv = httptest.NewServer(http.HandlerFunc(tg.serve))
	t.Cleanup(tg.srv.Close)
	return tg
}

// addr is host:port as vmagent puts it into the instance label.
func (tg *scrapeTarget) addr() string { return strings.TrimPrefix(tg.srv.URL, "http://") }

// scrapeConfig returns a vmagent scrape config for this target alone.
// honor_timestamps makes vmagent keep the target's timestamps (vmagent's
// default is false, unlike Prometheus).
func (tg *scrapeTarget) scrapeConfig(interval time.Duration) string {
	return fmt.Sprintf(`scrape_configs:
- job_name: %q
  scrape_interval: %s
  honor_timestamps: true
  static_configs:
  - targets: [%q]
`, tg.job, interval, tg.addr())
}

// exportMatch selects the target's own series in storage, leaving out the
// series vmagent adds per scrape (up, scrape_*), which the target never served.
func (tg *scrapeTarget) exportMatch() string {
	return fmt.Sprintf(`{job=%q,__name__!~"up|scrape_.*"}`, tg.job)
}

// freeze makes every later scrape fail with 503, so the ledger is final.
// vmagent then writes only up=0 and scrape_* series for this job.
func (tg *scrapeTarget) freeze() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.frozen = true
}

// scrapeCount returns how many scrapes were served.
func (tg *scrapeTarget) scrapeCount() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.scrapes
}

// scrapeTimes returns the timestamps of the served scrapes, in order.
func (tg *scrapeTarget) scrapeTimes() []int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return slices.Clone(tg.times)
}

// expected returns a copy of the ledger sorted by series key.
func (tg *scrapeTarget) expected() []testenv.ExportedSeries {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := make([]testenv.ExportedSeries, 0, len(tg.ledger))
	for _, s := range tg.ledger {
		out = append(out, testenv.ExportedSeries{
			Metric: s.Metric, Values: slices.Clone(s.Values), Timestamps: slices.Clone(s.Timestamps),
		})
	}
	slices.SortFunc(out, func(a, b testenv.ExportedSeries) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

func (tg *scrapeTarget) serve(w http.ResponseWriter, _ *http.Request) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.frozen {
		http.Error(w, "target frozen by the test", http.StatusServiceUnavailable)
		return
	}
	tg.scrapes++
	// Timestamps strictly increase even if two scrapes fall into one millisecond.
	ts := max(time.Now().UnixMilli(), tg.lastTS+1)
	tg.lastTS = ts
	tg.times = append(tg.times, ts)
	var b strings.Builder
	for _, s := range exposition(tg.scrapes) {
		writeSample(&b, s, ts)
		labels := map[string]string{"job": tg.job, "instance": tg.addr()}
		for k, v := range s.labels {
			labels[k] = v
		}
		key := testenv.SeriesKey(labels)
		e := tg.ledger[key]
		if e == nil {
			e = &testenv.ExportedSeries{Metric: labels}
			tg.ledger[key] = e
		}
		e.Values = append(e.Values, s.value)
		e.Timestamps = append(e.Timestamps, ts)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

// writeSample writes `name{k="v",...} value timestamp` with the label
// escaping of the text format (backslash, double quote, newline).
func writeSample(b *strings.Builder, s servedSample, ts int64) {
	b.WriteString(s.labels["__name__"])
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k)
			b.WriteString(`="`)
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s.labels[k]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	switch {
	case math.IsInf(s.value, 1):
		b.WriteString("+Inf")
	case math.IsInf(s.value, -1):
		b.WriteString("-Inf")
	default:
		b.WriteString(strconv.FormatFloat(s.value, 'g', -1, 64))
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(ts, 10))
	b.WriteByte('\n')
}

// sliRequestsName is the ingress-nginx request counter slogate reads.
const sliRequestsName = "nginx_ingress_controller_requests"

// exposition returns the samples of scrape n (n >= 1): ingress-nginx SLI
// counters for a few routes (with a 503 series that only appears from the
// third scrape, as a status code seen first during an incident does), a
// latency histogram, and about 200 non-SLI series: counters, gauges,
// negative and fractional values, infinities, a counter that resets, and
// label values that need escaping. Values are exact binary fractions or
// integers below 2^53, so storage keeps them bit for bit.
func exposition(n int) []servedSample {
	var out []servedSample
	add := func(value float64, name string, kv ...string) {
		labels := map[string]string{"__name__": name}
		for i := 0; i < len(kv); i += 2 {
			labels[kv[i]] = kv[i+1]
		}
		out = append(out, servedSample{labels: labels, value: value})
	}
	f := float64(n)
	routes := []struct{ namespace, ingress, host, service string }{
		{"shop", "web", "shop.example.com", "web"},
		{"api", "api", "api.example.com", "api-svc"},
	}
	paths := []string{"/", "/cart", "/api/v1/orders"}
	for ri, r := range routes {
		for pi, path := range paths {
			method := "GET"
			if pi == 2 {
				method = "POST"
			}
			for _, st := range []struct {
				status string
				value  float64
			}{
				{"200", float64(1000*(ri+1)) + f*float64(37+5*pi)},
				{"404", 2 * f},
				{"500", float64(n / 3)},
				{"503", f - 2},
			} {
				if st.status == "503" && n < 3 {
					continue
				}
				add(st.value, sliRequestsName, "namespace", r.namespace, "ingress", r.ingress, "host", r.host,
					"path", path, "status", st.status, "controller_pod", "c1", "method", method, "service", r.service)
			}
		}
	}
	for i, le := range []string{"0.005", "0.1", "1", "+Inf"} {
		add(f*float64(10+10*i), "nginx_ingress_controller_request_duration_seconds_bucket",
			"namespace", "shop", "ingress", "web", "host", "shop.example.com", "path", "/", "le", le)
	}
	add(f*3.125, "nginx_ingress_controller_request_duration_seconds_sum", "namespace", "shop", "ingress", "web", "host", "shop.example.com", "path", "/")
	add(f*40, "nginx_ingress_controller_request_duration_seconds_count", "namespace", "shop", "ingress", "web", "host", "shop.example.com", "path", "/")

	add(123456789+f*4096, "process_resident_memory_bytes")
	add(1e15+f, "app_big_total")
	add(-3.75*f, "app_negative_gauge")
	add(0, "app_zero_gauge")
	add(float64(n%4), "app_resets_total")
	add(float64(n%8)/8, "app_ratio", "kind", "cache_hit")
	add(math.Inf(1), "app_limit", "sign", "pos")
	add(math.Inf(-1), "app_limit", "sign", "neg")
	add(f, "app_escaped_labels", "path", `/a"b\c`, "text", "grüße ✓ 日本", "multi", "line1\nline2")
	for i := range 10 {
		add(float64((7*i+n)%13), "app_queue_depth", "queue", fmt.Sprintf("q%d", i))
		add(-12.5+0.25*f+float64(i), "app_temperature_celsius", "room", fmt.Sprintf("room-%d", i), "floor", strconv.Itoa(i%3))
	}
	for i := range 180 {
		region := [...]string{"eu-west-1", "us-east-1", "ap-south-1"}[i%3]
		add(f*float64(i+1), "app_events_total", "shard", strconv.Itoa(i), "region", region, "kind", fmt.Sprintf("k%d", i%7))
	}
	return out
}

// diffSeries compares what storage holds with what the target served and
// describes the first differences; nil means identical: same series, same
// timestamps, same values (compared exactly; there is no NaN in the ledger).
func diffSeries(want, got []testenv.ExportedSeries) error {
	gotByKey := make(map[string]testenv.ExportedSeries, len(got))
	for _, s := range got {
		gotByKey[s.Key()] = s
	}
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	wantKeys := map[string]bool{}
	wantSamples, gotSamples := 0, 0
	for _, w := range want {
		key := w.Key()
		wantKeys[key] = true
		wantSamples += len(w.Values)
		g, ok := gotByKey[key]
		if !ok {
			report("missing series %s (%d samples served)", key, len(w.Values))
			continue
		}
		gotSamples += len(g.Values)
		if !slices.Equal(w.Timestamps, g.Timestamps) {
			report("series %s: timestamps differ: served %s, stored %s", key, firstMismatch(w.Timestamps, g.Timestamps), firstMismatch(g.Timestamps, w.Timestamps))
			continue
		}
		for i := range w.Values {
			if w.Values[i] != g.Values[i] {
				report("series %s at %d: served %v, stored %v", key, w.Timestamps[i], w.Values[i], g.Values[i])
				break
			}
		}
	}
	for _, g := range got {
		if !wantKeys[g.Key()] {
			report("unexpected series %s (%d samples)", g.Key(), len(g.Values))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("storage differs from what the target served (%d series/%d samples served, %d series/%d samples of them stored):\n%s",
		len(want), wantSamples, len(got), gotSamples, strings.Join(problems, "\n"))
}

// firstMismatch describes a's timestamps from the first index where a and b
// differ: "len 10, from #7: [..]".
func firstMismatch(a, b []int64) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("len %d, from #%d: %v", len(a), i, a[i:min(len(a), i+5)])
}
