package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// outageDuration is how long VictoriaMetrics stays down; waiting it out is
// the scenario, not synchronisation.
const outageDuration = 15 * time.Second

// TestUpstreamOutageLosesNothing stops VictoriaMetrics for 15s while vmagent
// streams through slogate. slogate must answer 503 with Retry-After (never
// 204 for data it could not forward), so vmagent keeps the blocks and
// retries; after VictoriaMetrics restarts on the same port and data, every
// sample the target served, before, during and after the outage, is stored.
func TestUpstreamOutageLosesNothing(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL())
	tg := newScrapeTarget(t, "outage")
	agent := testenv.StartVMAgent(t, tg.scrapeConfig(scrapeInterval),
		"-remoteWrite.url="+sg.URL+"/api/v1/write", "-promscrape.noStaleMarkers")

	// Streaming works before the outage.
	testenv.Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		if got := vm.Export(t, tg.exportMatch()); len(got) == 0 {
			return fmt.Errorf("no series of the target in VictoriaMetrics yet (%d scrapes served)", tg.scrapeCount())
		}
		return nil
	})

	down := time.Now()
	vm.Stop()
	// A slow stop ends in SIGKILL (logged by testenv), which loses what
	// VictoriaMetrics had acknowledged but not yet flushed.
	t.Logf("VictoriaMetrics stopped in %s", time.Since(down).Round(time.Millisecond))
	outageEnd := down.Add(outageDuration)

	// vmagent's blocks are refused with 503 while the upstream is down.
	testenv.Eventually(t, outageDuration, func() error {
		n, _ := testenv.SumMetric(agent.Metrics(t), "vmagent_remotewrite_requests_total", map[string]string{"status_code": "503"})
		if n < 1 {
			return fmt.Errorf("vmagent saw no 503 from slogate yet")
		}
		return nil
	})
	// A direct write gets 503 with a Retry-After (delay in seconds or an
	// HTTP date, RFC 9110) and a one-line reason; slogate stays healthy.
	raw := marshalWriteRequest(nil, uniqueSeries("e2e_outage_direct", 1, time.Now().UnixMilli()))
	code, retryAfter, body := postWrite(t, http.MethodPost, sg.URL+"/api/v1/write", "snappy", snappyEncode(raw))
	if code != http.StatusServiceUnavailable {
		t.Fatalf("write while the upstream is down: status %d, want 503: %q", code, firstLineOf(body))
	}
	if !validRetryAfter(retryAfter) {
		t.Errorf("write while the upstream is down: Retry-After %q, want seconds or an HTTP date", retryAfter)
	}
	checkOneLineReason(t, "503 while the upstream is down", body)
	testenv.MustGet(t, sg.URL+"/health")

	time.Sleep(time.Until(outageEnd))
	vm.Restart()
	up := time.Now()

	// Let the target serve a few scrapes after the restart, then freeze it
	// so its ledger is final, and wait for vmagent's backlog to land.
	after := tg.scrapeCount()
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := tg.scrapeCount(); n < after+3 {
			return fmt.Errorf("target served %d scrapes since the restart, want 3", n-after)
		}
		return nil
	})
	tg.freeze()
	want := tg.expected()
	t.Logf("upstream down from %d to %d (ms since the epoch); %d scrapes served", down.UnixMilli(), up.UnixMilli(), tg.scrapeCount())
	testenv.Eventually(t, landTimeout, func() error {
		vm.ForceFlush(t)
		if err := diffSeries(want, vm.Export(t, tg.exportMatch())); err != nil {
			return fmt.Errorf("%w\n%s", err, agentState(t, agent))
		}
		return nil
	})

	// The comparison above is exact; this spells out the scenario: scrapes
	// were served throughout the outage, and the stored SLI counter has a
	// sample for each of them, no gap wider than a few scrape intervals
	// (jitter on a loaded 2-core machine aside).
	var during int
	for _, ts := range tg.scrapeTimes() {
		if ts > down.UnixMilli() && ts < up.UnixMilli() {
			during++
		}
	}
	if minDuring := int(outageDuration/scrapeInterval) / 2; during < minDuring {
		t.Fatalf("target served %d scrapes during the outage, want at least %d", during, minDuring)
	}
	counter := vm.Export(t, fmt.Sprintf(`%s{job=%q,host="shop.example.com",path="/",status="200"}`, sliRequestsName, tg.job))
	if len(counter) != 1 {
		t.Fatalf("want one SLI counter series, got %d", len(counter))
	}
	ts := counter[0].Timestamps
	for i := 1; i < len(ts); i++ {
		if gap := time.Duration(ts[i]-ts[i-1]) * time.Millisecond; gap > 3*scrapeInterval {
			t.Errorf("SLI counter has a %s gap at %s", gap, time.UnixMilli(ts[i-1]).UTC().Format(time.RFC3339Nano))
		}
	}
	t.Logf("%d scrapes served during the %s outage; %d samples of the SLI counter stored", during, outageDuration, len(ts))
}

// validRetryAfter reports whether v is a Retry-After value: a non-negative
// number of seconds or an HTTP date.
func validRetryAfter(v string) bool {
	if secs, err := strconv.Atoi(v); err == nil {
		return secs >= 0
	}
	_, err := http.ParseTime(v)
	return err == nil
}
