package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// Shared settings of the scrape-driven tests.
const (
	scrapeInterval = time.Second
	// minScrapes is how many scrapes each target serves before the test
	// freezes it and checks storage.
	minScrapes = 5
	// landTimeout bounds how long served samples may take to reach storage:
	// a scrape interval, vmagent's 1s flush, slogate, VictoriaMetrics' flush.
	landTimeout = 60 * time.Second
)

// TestMain removes the slogate binary built for the tests.
func TestMain(m *testing.M) { testenv.Main(m) }

// TestWritePathKeepsEverySample runs vmagent scraping a target and
// remote-writing through slogate into VictoriaMetrics, once with vmagent's
// default protocol (VictoriaMetrics remote write, zstd) and once with
// -remoteWrite.forcePromProto (Prometheus remote write, snappy). Each run
// uses both write paths slogate intercepts, /api/v1/write and
// /prometheus/api/v1/write, through two vmagents scraping two targets.
//
// The check is an exact comparison of VictoriaMetrics' /api/v1/export with
// the target's ledger of every (series, timestamp, value) it served. That
// is stronger than comparing with a second VictoriaMetrics fed by the same
// vmagent directly: a sample vmagent itself lost or altered would be missing
// from both copies and pass unnoticed, while the ledger is ground truth.
// Explicit timestamps in the exposition make the ledger exact.
func TestWritePathKeepsEverySample(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{name: "vmproto-zstd"},
		{name: "promproto-snappy", flags: []string{"-remoteWrite.forcePromProto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vm := testenv.StartVM(t)
			sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL())

			type writer struct {
				path   string
				target *scrapeTarget
				agent  *testenv.VMAgent
			}
			var writers []writer
			for _, path := range []string{"/api/v1/write", "/prometheus/api/v1/write"} {
				tg := newScrapeTarget(t, tc.name+strings.ReplaceAll(path, "/", "_"))
				// Stale markers are off: vmagent writes them with its own
				// timestamps when a series disappears, which no ledger knows.
				args := append([]string{"-remoteWrite.url=" + sg.URL + path, "-promscrape.noStaleMarkers"}, tc.flags...)
				agent := testenv.StartVMAgent(t, tg.scrapeConfig(scrapeInterval), args...)
				writers = append(writers, writer{path: path, target: tg, agent: agent})
			}

			testenv.Eventually(t, 30*time.Second, func() error {
				for _, w := range writers {
					if n := w.target.scrapeCount(); n < minScrapes {
						return fmt.Errorf("target of %s served %d scrapes, want %d", w.path, n, minScrapes)
					}
				}
				return nil
			})
			for _, w := range writers {
				w.target.freeze()
			}

			for _, w := range writers {
				want := w.target.expected()
				testenv.Eventually(t, landTimeout, func() error {
					vm.ForceFlush(t)
					if err := diffSeries(want, vm.Export(t, w.target.exportMatch())); err != nil {
						return fmt.Errorf("%w\n%s", err, agentState(t, w.agent))
					}
					return nil
				})
				t.Logf("%s: %d series x %d scrapes landed unchanged", w.path, len(want), w.target.scrapeCount())
				checkAgentDeliveredCleanly(t, w.agent, tc.flags == nil)

				// Every other path is proxied: reading through slogate gives what
				// VictoriaMetrics gives.
				if err := diffSeries(vm.Export(t, w.target.exportMatch()), testenv.Export(t, sg.URL, w.target.exportMatch())); err != nil {
					t.Fatalf("/api/v1/export through slogate differs from VictoriaMetrics: %s", err)
				}
				q := testenv.Query(t, sg.URL, fmt.Sprintf(`count(%s)`, w.target.exportMatch()), time.Now())
				if len(q) != 1 || int(q[0].Value) != len(want) {
					t.Fatalf("/api/v1/query through slogate: count = %+v, want %d series", q, len(want))
				}
			}

			self := testenv.ScrapeMetrics(t, sg.URL+"/metrics")
			if len(self) == 0 {
				t.Fatal("slogate /metrics has no samples")
			}
		})
	}
}

// checkAgentDeliveredCleanly asserts vmagent had every block accepted: no
// 4xx answer (vmagent drops a block on 400, 409 and 415, or on 400/415
// repacks a zstd block to snappy and downgrades the protocol), nothing
// dropped, something sent. With wantVMProto it also asserts vmagent never
// downgraded, i.e. every block went out as zstd: vmagent starts with the
// VictoriaMetrics protocol and only leaves it through that logged downgrade.
func checkAgentDeliveredCleanly(t *testing.T, agent *testenv.VMAgent, wantVMProto bool) {
	t.Helper()
	m := agent.Metrics(t)
	if ok, _ := testenv.SumMetric(m, "vmagent_remotewrite_requests_total", map[string]string{"status_code": "2XX"}); ok < 1 {
		t.Fatalf("vmagent reports %v accepted remote-write requests", ok)
	}
	for _, code := range []string{"400", "409", "413", "415"} {
		if n, _ := testenv.SumMetric(m, "vmagent_remotewrite_requests_total", map[string]string{"status_code": code}); n != 0 {
			t.Fatalf("vmagent got %v remote-write answers with status %s", n, code)
		}
	}
	if n, _ := testenv.SumMetric(m, "vmagent_remotewrite_packets_dropped_total", nil); n != 0 {
		t.Fatalf("vmagent dropped %v blocks", n)
	}
	if wantVMProto && strings.Contains(agent.Log(), "Downgrading protocol") {
		t.Fatal("vmagent downgraded from the VictoriaMetrics protocol (zstd) to Prometheus remote write")
	}
}

// agentState summarizes vmagent's remote-write counters for failure
// messages: whether data is still queued (slow) or was dropped (lost).
func agentState(t *testing.T, agent *testenv.VMAgent) string {
	t.Helper()
	m := agent.Metrics(t)
	pending, _ := testenv.SumMetric(m, "vmagent_remotewrite_pending_data_bytes", nil)
	dropped, _ := testenv.SumMetric(m, "vmagent_remotewrite_packets_dropped_total", nil)
	retries, _ := testenv.SumMetric(m, "vmagent_remotewrite_retries_count_total", nil)
	statuses := map[string]float64{}
	for _, s := range m {
		if s.Name == "vmagent_remotewrite_requests_total" {
			statuses[s.Labels["status_code"]] += s.Value
		}
	}
	return fmt.Sprintf("vmagent: %v bytes pending, %v blocks dropped, %v retries, requests by status %v", pending, dropped, retries, statuses)
}
