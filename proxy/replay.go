package proxy

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/budget"
)

// Replayer reads SLI series back from VictoriaMetrics' export API
// (/api/v1/export, JSON lines) and feeds them to the engine. It closes the
// gap after a restart: every sample slogate acknowledged is already in
// VictoriaMetrics, so the gap between the last snapshot and the crash is
// read from there; samples the snapshot already counted are duplicates and
// count zero. The same path serves backfill.
type Replayer struct {
	// ReadURL is VictoriaMetrics single node (http://host:8428) or vmselect
	// (http://host:8481) for the cluster.
	ReadURL string
	// Cluster selects vmselect paths (/select/<tenant>/prometheus/...).
	Cluster bool
	Client  *http.Client
	// Ingest receives each series; labels are sorted by name with
	// __name__ first, as remote write senders send them.
	Ingest func(t budget.Tenant, labels []budget.Label, samples []budget.Sample)
}

// ReplayStats say what a replay read.
type ReplayStats struct {
	Series, Samples int
}

// maxExportLine bounds one JSON line of the export (one series' samples in
// the range).
const maxExportLine = 256 << 20

// Replay reads the series of the given metric names of tenant t with
// samples in [from, to] (Unix ms) and ingests them series by series, each
// in time order.
func (r *Replayer) Replay(ctx context.Context, t budget.Tenant, metrics []string, from, to int64) (ReplayStats, error) {
	var st ReplayStats
	if len(metrics) == 0 {
		return st, nil
	}
	quoted := make([]string, len(metrics))
	for i, m := range metrics {
		quoted[i] = regexp.QuoteMeta(m)
	}
	slices.Sort(quoted)
	r.flush(ctx)
	q := url.Values{}
	q.Set("match[]", `{__name__=~"`+strings.Join(slices.Compact(quoted), "|")+`"}`)
	q.Set("start", strconv.FormatFloat(float64(from)/1000, 'f', 3, 64))
	q.Set("end", strconv.FormatFloat(float64(to)/1000, 'f', 3, 64))
	path := "/api/v1/export"
	if r.Cluster {
		path = fmt.Sprintf("/select/%d:%d/prometheus/api/v1/export", t.AccountID, t.ProjectID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.ReadURL, "/")+path, strings.NewReader(q.Encode()))
	if err != nil {
		return st, fmt.Errorf("cannot create export request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, fmt.Errorf("cannot export SLI series from %s: %w", r.ReadURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return st, fmt.Errorf("cannot export SLI series from %s: status %d: %s", r.ReadURL, resp.StatusCode, firstLine(msg, 1024))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<20), maxExportLine)
	var line exportLine
	var labels []budget.Label
	var samples []budget.Sample
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		line = exportLine{}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return st, fmt.Errorf("cannot decode export line %d: %w", n, err)
		}
		if len(line.Values) != len(line.Timestamps) {
			return st, fmt.Errorf("cannot use export line %d: %d values, %d timestamps", n, len(line.Values), len(line.Timestamps))
		}
		labels = labels[:0]
		for k, v := range line.Metric {
			labels = append(labels, budget.Label{Name: k, Value: v})
		}
		slices.SortFunc(labels, func(a, b budget.Label) int { return strings.Compare(a.Name, b.Name) })
		samples = samples[:0]
		for i, raw := range line.Values {
			samples = append(samples, budget.Sample{Value: exportValue(raw), Timestamp: line.Timestamps[i]})
		}
		// The export is sorted per series, but not across duplicates from
		// several storage parts: sort to be sure.
		slices.SortStableFunc(samples, func(a, b budget.Sample) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
		r.Ingest(t, labels, samples)
		st.Series++
		st.Samples += len(samples)
		if err := ctx.Err(); err != nil {
			return st, err
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("cannot read export: %w", err)
	}
	return st, nil
}

type exportLine struct {
	Metric     map[string]string `json:"metric"`
	Values     []json.RawMessage `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// exportValue parses a value of the export: a number, or a string for
// values JSON has no number for; anything else is NaN (ignored).
func exportValue(raw json.RawMessage) float64 {
	s := strings.Trim(string(raw), `"`)
	switch s {
	case "Infinity", "+Inf", "Inf":
		return math.Inf(1)
	case "-Infinity", "-Inf":
		return math.Inf(-1)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// flush makes what VictoriaMetrics accepted last searchable: a single node
// buffers new samples for a second or two before its export sees them, and
// the samples acknowledged just before a crash are exactly the ones the
// replay needs. A single node flushes on /internal/force_flush; a cluster's
// vmselect cannot, so the replay waits out vmstorage's buffering instead.
func (r *Replayer) flush(ctx context.Context) {
	if !r.Cluster && r.forceFlush(ctx) {
		return
	}
	// vmselect cannot flush, and a single node may protect the endpoint
	// (-forceFlushAuthKey): wait out the buffering.
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
}

func (r *Replayer) forceFlush(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(r.ReadURL, "/")+"/internal/force_flush", nil)
	if err != nil {
		return false
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Tenants lists the tenants with data in [from, to] (Unix ms) through
// vmselect's /admin/tenants, for a cluster backfill.
func (r *Replayer) Tenants(ctx context.Context, from, to int64) ([]budget.Tenant, error) {
	q := url.Values{}
	q.Set("start", strconv.FormatInt(from/1000, 10))
	q.Set("end", strconv.FormatInt(to/1000, 10))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(r.ReadURL, "/")+"/admin/tenants?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("cannot list tenants: %w", err)
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot list tenants at %s: %w", r.ReadURL, err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []string `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot list tenants at %s: status %d", r.ReadURL, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot decode tenants from %s: %w", r.ReadURL, err)
	}
	out := make([]budget.Tenant, 0, len(body.Data))
	for _, s := range body.Data {
		t, err := ParseTenant([]byte(s))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
