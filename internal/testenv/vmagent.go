package testenv

import (
	"path/filepath"
	"testing"
)

// VMAgent is a running vmagent.
type VMAgent struct {
	*Proc
}

// StartVMAgent starts vmagent scraping with the given -promscrape.config
// YAML (may be empty for a pure remote-write relay) and waits until /ready
// answers 200, i.e. every scrape config is loaded. The caller passes
// -remoteWrite.url=... and any other flag in -name=value form; a flag given
// replaces the default of the same name.
//
// Defaults suit tests: a free 127.0.0.1 port, the persistent queue in a
// temporary directory, blocks flushed every second, and retries starting at
// 100ms and capped at 1s so a restored upstream is noticed quickly (unless
// the upstream asks for a longer wait with Retry-After, which vmagent obeys).
func StartVMAgent(t testing.TB, scrapeConfig string, args ...string) *VMAgent {
	t.Helper()
	defaults := []string{
		"-remoteWrite.tmpDataPath=" + filepath.Join(t.TempDir(), "vmagent-queue"),
		"-remoteWrite.flushInterval=1s",
		"-remoteWrite.retryMinInterval=100ms",
		"-remoteWrite.retryMaxInterval=1s",
		"-loggerLevel=INFO",
	}
	if scrapeConfig != "" {
		defaults = append(defaults, "-promscrape.config="+WriteTemp(t, "scrape.yml", scrapeConfig))
	}
	return &VMAgent{Proc: startHTTPComponent(t, "vmagent", Binary(t, VMAgentBinary), defaults, args, "/health", "/ready")}
}

// Metrics returns vmagent's own /metrics in Prometheus text format.
func (a *VMAgent) Metrics(t testing.TB) []Sample {
	t.Helper()
	return ScrapeMetrics(t, a.URL+"/metrics")
}

// StartVMAlert starts vmalert with the given flags (-rule=...,
// -datasource.url=..., -notifier.url=... or -notifier.blackhole, as
// -name=value) on a free port and waits until /health answers 200.
func StartVMAlert(t testing.TB, args ...string) *Proc {
	t.Helper()
	defaults := []string{"-loggerLevel=INFO"}
	return startHTTPComponent(t, "vmalert", Binary(t, VMAlertBinary), defaults, args, "/health")
}
