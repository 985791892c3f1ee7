package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Names of the VictoriaMetrics cluster binaries `make deps` installs into the
// bin directory (release <version>-cluster, from ../shared/vmcluster).
const (
	VMStorageBinary = "vmstorage"
	VMInsertBinary  = "vminsert"
	VMSelectBinary  = "vmselect"
)

// Cluster is a running VictoriaMetrics cluster: one vmstorage, one vminsert
// (writes under /insert/<tenant>/prometheus/...) and one vmselect (reads
// under /select/<tenant>/prometheus/...), tenant = accountID[:projectID].
type Cluster struct {
	Storage, Insert, Select *Proc
	// Versions maps each binary's name to what its -version printed, e.g.
	// "vminsert-20260101-000000-tags-v1.150.0-cluster-0-g0000000".
	Versions map[string]string
}

// StartCluster starts the real vmstorage, vminsert and vmselect on free
// 127.0.0.1 ports and returns once a sample written through vminsert can be
// read through vmselect; a missing binary fails the test with the command
// that installs it. The versions of the binaries go to the test log.
// Defaults make fresh data searchable at once: no query latency offset, no
// response cache, 100y retention so old test timestamps are kept. Logs are
// at ERROR level. t.Cleanup stops vmselect, vminsert, then vmstorage.
//
// The readiness probe leaves one series, testenv_cluster_probe, in tenant 0.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{Versions: map[string]string{}}
	bins := map[string]string{}
	for _, name := range []string{VMStorageBinary, VMInsertBinary, VMSelectBinary} {
		bins[name] = Binary(t, name)
		c.Versions[name] = binaryVersion(t, bins[name])
	}
	t.Logf("VictoriaMetrics cluster: %s, %s, %s",
		c.Versions[VMStorageBinary], c.Versions[VMInsertBinary], c.Versions[VMSelectBinary])

	insertAddr, selectAddr := FreeAddr(t), FreeAddr(t)
	c.Storage = startHTTPComponent(t, VMStorageBinary, bins[VMStorageBinary], nil, []string{
		"-storageDataPath=" + t.TempDir(),
		"-retentionPeriod=100y",
		"-vminsertAddr=" + insertAddr,
		"-vmselectAddr=" + selectAddr,
		"-loggerLevel=ERROR",
	}, "/health")
	c.Insert = startHTTPComponent(t, VMInsertBinary, bins[VMInsertBinary], nil, []string{
		"-storageNode=" + insertAddr,
		"-loggerLevel=ERROR",
	}, "/health")
	c.Select = startHTTPComponent(t, VMSelectBinary, bins[VMSelectBinary], nil, []string{
		"-storageNode=" + selectAddr,
		// Its own directory: by default temporary query results go to
		// /tmp/searchResults, shared by every vmselect on the machine.
		"-cacheDataPath=" + t.TempDir(),
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-loggerLevel=ERROR",
	}, "/health")
	c.waitReady(t)
	return c
}

// binaryVersion returns the first line that `bin -version` prints.
func binaryVersion(t testing.TB, bin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("cannot run %s -version (run make deps): %s: %s", bin, err, firstLine(out))
	}
	return strings.TrimSpace(firstLine(out))
}

// InsertURL returns vminsert's base URL, e.g. "http://127.0.0.1:41234".
func (c *Cluster) InsertURL() string { return c.Insert.URL }

// SelectURL returns vmselect's base URL.
func (c *Cluster) SelectURL() string { return c.Select.URL }

// WriteURL returns vminsert's Prometheus remote-write URL of a tenant
// ("1" or "1:0").
func (c *Cluster) WriteURL(tenant string) string {
	return c.Insert.URL + "/insert/" + tenant + "/prometheus/api/v1/write"
}

// ForceFlush makes the data vmstorage received searchable (it otherwise
// buffers it for up to a second). vminsert sends what it accepted to
// vmstorage within a fraction of a second on its own and has no flush
// endpoint: callers poll.
func (c *Cluster) ForceFlush(t testing.TB) {
	t.Helper()
	ForceFlush(t, c.Storage.URL)
}

// Export returns every series of a tenant matching the series selector
// match, read from vmselect for all time (see the package-level Export).
func (c *Cluster) Export(t testing.TB, tenant, match string) []ExportedSeries {
	t.Helper()
	return Export(t, c.tenantSelectURL(tenant), match)
}

// Query evaluates an instant PromQL query in a tenant at the given time.
func (c *Cluster) Query(t testing.TB, tenant, promql string, at time.Time) []Vector {
	t.Helper()
	return Query(t, c.tenantSelectURL(tenant), promql, at)
}

func (c *Cluster) tenantSelectURL(tenant string) string {
	return c.Select.URL + "/select/" + tenant + "/prometheus"
}

// waitReady writes a probe sample to tenant 0 and polls vmselect until it
// reads back: vminsert and vmselect answer /health before their storage
// connections are up. A process that exits meanwhile fails the test at once.
func (c *Cluster) waitReady(t testing.TB) {
	t.Helper()
	probe := fmt.Sprintf("testenv_cluster_probe 1 %d\n", time.Now().UnixMilli())
	importURL := c.Insert.URL + "/insert/0/prometheus/api/v1/import/prometheus"
	flushURL := c.Storage.URL + "/internal/force_flush"
	var written bool
	err := Poll(readyTimeout, func() error {
		for _, p := range []*Proc{c.Storage, c.Insert, c.Select} {
			if p.Exited() {
				t.Fatalf("%s exited while the cluster was starting: %v", p.Name, p.ExitErr())
			}
		}
		if !written {
			resp, err := HTTPClient.Post(importURL, "text/plain", strings.NewReader(probe))
			if err != nil {
				return fmt.Errorf("cannot write probe: %w", err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("cannot write probe: status %d: %s", resp.StatusCode, firstLine(msg))
			}
			written = true
		}
		if status, body, err := Get(flushURL); err != nil || status != http.StatusOK {
			return fmt.Errorf("cannot force flush: status %d, %v: %s", status, err, firstLine(body))
		}
		q := url.Values{"match[]": {"testenv_cluster_probe"}, "start": {"0"}}
		status, body, err := Get(c.tenantSelectURL("0") + "/api/v1/export?" + q.Encode())
		switch {
		case err != nil:
			return err
		case status != http.StatusOK:
			return fmt.Errorf("cannot export probe: status %d: %s", status, firstLine(body))
		case len(bytes.TrimSpace(body)) == 0:
			return fmt.Errorf("probe written through vminsert is not readable through vmselect yet")
		}
		return nil
	})
	if err != nil {
		// Each process's log tail follows from its cleanup.
		t.Fatalf("cluster not ready within %s: %s", readyTimeout, err)
	}
}
