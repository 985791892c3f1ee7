package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Names of the VictoriaMetrics cluster binaries `make deps` installs into the
// bin directory (built from the cluster branch, tag <version>-cluster).
const (
	VMStorageBinary = "vmstorage"
	VMInsertBinary  = "vminsert"
	VMSelectBinary  = "vmselect"
)

// Cluster is a running VictoriaMetrics cluster: one vmstorage, one vminsert
// (writes under /insert/<tenant>/prometheus/...) and one vmselect (reads
// under /select/<tenant>/prometheus/...), tenant = accountID[:projectID].
//
// When the cluster binaries are not installed (the module proxy may not
// serve the -cluster tags), StartCluster starts a stand-in instead and says
// so in the test log: one single-node VictoriaMetrics behind an in-process
// router that serves the same insert and select paths and keeps tenants
// apart with the vm_account_id and vm_project_id labels (added on write
// through extra_label, enforced on read through extra_label, removed from
// export output). It is only as good as that URL contract: storage-side
// cluster behavior (replication, rerouting) is not there.
type Cluster struct {
	// StandIn says a stand-in runs instead of the real binaries.
	StandIn bool
	// Storage, Insert and Select are the real processes; nil for the
	// stand-in.
	Storage, Insert, Select *Proc

	insertURL, selectURL string
	flushURL             string
}

// StartCluster starts vmstorage, vminsert and vmselect on free 127.0.0.1
// ports (or the stand-in, see Cluster) and returns once a sample written
// through vminsert can be read through vmselect. Defaults make fresh data
// searchable at once: no query latency offset, no response cache, 100y
// retention so old test timestamps are kept. Logs are at ERROR level.
//
// The readiness probe leaves one series, testenv_cluster_probe, in tenant 0.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	var c *Cluster
	if clusterInstalled(t) {
		c = startRealCluster(t)
	} else {
		t.Logf("VictoriaMetrics cluster binaries (%s, %s, %s) are not in %s: using the single-node stand-in (see testenv.Cluster)",
			VMStorageBinary, VMInsertBinary, VMSelectBinary, BinDir(t))
		c = startStandInCluster(t)
	}
	c.waitReady(t)
	return c
}

func clusterInstalled(t testing.TB) bool {
	t.Helper()
	for _, name := range []string{VMStorageBinary, VMInsertBinary, VMSelectBinary} {
		fi, err := os.Stat(filepath.Join(BinDir(t), name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

func startRealCluster(t testing.TB) *Cluster {
	t.Helper()
	insertAddr, selectAddr := FreeAddr(t), FreeAddr(t)
	storage := startHTTPComponent(t, "vmstorage", Binary(t, VMStorageBinary), nil, []string{
		"-storageDataPath=" + t.TempDir(),
		"-retentionPeriod=100y",
		"-vminsertAddr=" + insertAddr,
		"-vmselectAddr=" + selectAddr,
		"-loggerLevel=ERROR",
	}, "/health")
	insert := startHTTPComponent(t, "vminsert", Binary(t, VMInsertBinary), nil, []string{
		"-storageNode=" + insertAddr,
		"-loggerLevel=ERROR",
	}, "/health")
	sel := startHTTPComponent(t, "vmselect", Binary(t, VMSelectBinary), nil, []string{
		"-storageNode=" + selectAddr,
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-loggerLevel=ERROR",
	}, "/health")
	return &Cluster{
		Storage: storage, Insert: insert, Select: sel,
		insertURL: insert.URL, selectURL: sel.URL,
		flushURL: storage.URL + "/internal/force_flush",
	}
}

// InsertURL returns vminsert's base URL, e.g. "http://127.0.0.1:41234".
func (c *Cluster) InsertURL() string { return c.insertURL }

// SelectURL returns vmselect's base URL.
func (c *Cluster) SelectURL() string { return c.selectURL }

// WriteURL returns vminsert's Prometheus remote-write URL of a tenant
// ("1" or "1:0").
func (c *Cluster) WriteURL(tenant string) string {
	return c.insertURL + "/insert/" + tenant + "/prometheus/api/v1/write"
}

// ForceFlush makes recently written data searchable (vmstorage otherwise
// buffers it for up to a second).
func (c *Cluster) ForceFlush(t testing.TB) {
	t.Helper()
	MustGet(t, c.flushURL)
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
	return c.selectURL + "/select/" + tenant + "/prometheus"
}

// waitReady writes a probe sample to tenant 0 and polls vmselect until it
// reads back: vminsert and vmselect answer /health before their storage
// connections are up.
func (c *Cluster) waitReady(t testing.TB) {
	t.Helper()
	probe := fmt.Sprintf("testenv_cluster_probe 1 %d\n", time.Now().UnixMilli())
	importURL := c.insertURL + "/insert/0/prometheus/api/v1/import/prometheus"
	var written bool
	err := Poll(readyTimeout, func() error {
		if !written {
			resp, err := httpClient.Post(importURL, "text/plain", strings.NewReader(probe))
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
		if status, body, err := Get(c.flushURL); err != nil || status != http.StatusOK {
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
		for _, p := range []*Proc{c.Storage, c.Insert, c.Select} {
			if p != nil {
				t.Logf("%s log tail:\n%s", p.Name, p.LogTail())
			}
		}
		t.Fatalf("cluster not ready within %s: %s", readyTimeout, err)
	}
}

// Tenant labels of the stand-in: the names the real cluster uses for
// multitenant reads.
const (
	accountLabel = "vm_account_id"
	projectLabel = "vm_project_id"
)

// startStandInCluster starts one single-node VictoriaMetrics and the
// in-process router that serves the cluster's insert and select paths.
func startStandInCluster(t testing.TB) *Cluster {
	t.Helper()
	vm := StartVM(t)
	srv := httptest.NewServer(&standIn{vm: vm.URL()})
	t.Cleanup(srv.Close)
	return &Cluster{StandIn: true, insertURL: srv.URL, selectURL: srv.URL, flushURL: vm.URL() + "/internal/force_flush"}
}

// standIn routes /insert/<tenant>/prometheus/<path> and
// /select/<tenant>/prometheus/<path> to /<path> of a single node, with the
// tenant as extra_label.
type standIn struct{ vm string }

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		w.WriteHeader(http.StatusOK)
		return
	}
	kind, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	tenant, rest, _ := strings.Cut(rest, "/")
	path, ok := strings.CutPrefix(rest, "prometheus/")
	if (kind != "insert" && kind != "select") || !ok {
		http.Error(w, "cluster stand-in: unsupported path "+r.URL.Path, http.StatusNotFound)
		return
	}
	account, project, err := parseTenant(tenant)
	if err != nil {
		http.Error(w, "cluster stand-in: "+err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	q.Add("extra_label", accountLabel+"="+account)
	q.Add("extra_label", projectLabel+"="+project)
	req, err := http.NewRequestWithContext(r.Context(), r.Method, s.vm+"/"+path+"?"+q.Encode(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, h := range []string{"Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version", "X-VictoriaMetrics-Remote-Write-Version"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		http.Error(w, "cluster stand-in: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	if kind == "select" && path == "api/v1/export" && resp.StatusCode == http.StatusOK {
		w.WriteHeader(resp.StatusCode)
		if err := stripTenantLabels(w, resp.Body); err != nil {
			// Headers are gone: a broken line makes the reader fail.
			fmt.Fprintf(w, "\ncluster stand-in: %s\n", err)
		}
		return
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// parseTenant parses accountID[:projectID] as vminsert does.
func parseTenant(s string) (account, project string, err error) {
	a, p, _ := strings.Cut(s, ":")
	if p == "" {
		p = "0"
	}
	for _, v := range []string{a, p} {
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return "", "", fmt.Errorf("cannot parse tenant %q: want accountID[:projectID]", s)
		}
	}
	return a, p, nil
}

// stripTenantLabels copies export JSON lines from r to w without the
// stand-in's tenant labels, as vmselect exports a tenant's series.
func stripTenantLabels(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 256<<20)
	for sc.Scan() {
		var line map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("cannot decode export line: %w", err)
		}
		var metric map[string]string
		if err := json.Unmarshal(line["metric"], &metric); err != nil {
			return fmt.Errorf("cannot decode export labels: %w", err)
		}
		delete(metric, accountLabel)
		delete(metric, projectLabel)
		b, _ := json.Marshal(metric)
		line["metric"] = b
		out, _ := json.Marshal(line)
		if _, err := w.Write(append(out, '\n')); err != nil {
			return err
		}
	}
	return sc.Err()
}
