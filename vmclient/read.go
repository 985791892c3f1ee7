package vmclient

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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/budget"
)

// maxExportLine bounds one JSON line of an export: one series' samples in
// the range.
const maxExportLine = 256 << 20

// get sends a read request and returns the answer of an accepted one; the
// caller closes its body. A non-2xx answer is a *StatusError.
func (c *Client) get(ctx context.Context, method, u string, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("cannot create request to %s: %w", u, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if Classify(resp.StatusCode) != Accepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, Body: string(FirstLine(msg, 1024))}
	}
	return resp, nil
}

// Point is one element of an instant vector: its labels without __name__,
// and its value.
type Point struct {
	Metric map[string]string
	Value  float64
}

// Query runs the instant query q at time at for tenant t, bypassing
// VictoriaMetrics' response cache, and returns the vector's points that
// hold a number.
func (c *Client) Query(ctx context.Context, t budget.Tenant, q string, at time.Time) ([]Point, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	args := url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64)}, "nocache": {"1"}}
	resp, err := c.get(ctx, http.MethodPost, c.readPath(t, "/api/v1/query"), args)
	if err != nil {
		return nil, fmt.Errorf("cannot query VictoriaMetrics at %s: %s: %w", c.readBase, q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, int64(c.cfg.MaxResponseBodySize))).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot parse the answer to %s: %w", q, err)
	}
	if body.Status != "success" || body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("cannot query %s: status %q, result type %q: %s", q, body.Status, body.Data.ResultType, body.Error)
	}
	out := make([]Point, 0, len(body.Data.Result))
	for _, it := range body.Data.Result {
		s, _ := it.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		delete(it.Metric, "__name__")
		out = append(out, Point{Metric: it.Metric, Value: v})
	}
	return out, nil
}

// ExportStats say what an export read.
type ExportStats struct {
	Series, Samples int
}

// Export reads the series of the given metric names of tenant t with
// samples in [from, to] (Unix ms) through /api/v1/export (JSON lines) and
// hands them to fn one series at a time, samples in time order, labels
// sorted by name. fn must not keep the slices.
func (c *Client) Export(ctx context.Context, t budget.Tenant, metricNames []string, from, to int64, fn func(labels []budget.Label, samples []budget.Sample)) (ExportStats, error) {
	var st ExportStats
	if len(metricNames) == 0 {
		return st, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ExportTimeout)
	defer cancel()
	quoted := make([]string, len(metricNames))
	for i, m := range metricNames {
		quoted[i] = regexpQuote(m)
	}
	slices.Sort(quoted)
	q := url.Values{}
	q.Set("match[]", `{__name__=~"`+strings.Join(slices.Compact(quoted), "|")+`"}`)
	q.Set("start", strconv.FormatFloat(float64(from)/1000, 'f', 3, 64))
	q.Set("end", strconv.FormatFloat(float64(to)/1000, 'f', 3, 64))
	resp, err := c.get(ctx, http.MethodPost, c.readPath(t, "/api/v1/export"), q)
	if err != nil {
		return st, fmt.Errorf("cannot export SLI series from %s: %w", c.readBase, err)
	}
	defer resp.Body.Close()
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
		fn(labels, samples)
		st.Series++
		st.Samples += len(samples)
		if err := ctx.Err(); err != nil {
			return st, err
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("cannot read export from %s: %w", c.readBase, err)
	}
	return st, nil
}

// regexpQuote escapes a metric name for a MetricsQL regexp. Metric names
// hold only [a-zA-Z0-9_:], of which none is special; the rest is escaped
// for safety.
func regexpQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`\.+*?()|[]{}^$`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
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

// Flush makes what VictoriaMetrics accepted last searchable: a single node
// buffers new samples for a second or two before an export sees them, and
// the samples acknowledged just before a crash are exactly the ones a
// restart replay needs. A single node flushes on /internal/force_flush; a
// cluster's vmselect cannot (and a single node may protect the endpoint
// with -forceFlushAuthKey), so then Flush waits out the buffering. It
// returns early when ctx ends.
func (c *Client) Flush(ctx context.Context) {
	if !c.cfg.Cluster && c.forceFlush(ctx) {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
}

func (c *Client) forceFlush(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.get(ctx, http.MethodGet, c.readBase+"/internal/force_flush", nil)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return true
}

// Tenants lists the tenants with data in [from, to] (Unix ms) through
// vmselect's /admin/tenants; a single node has the zero tenant only.
func (c *Client) Tenants(ctx context.Context, from, to int64) ([]budget.Tenant, error) {
	if !c.cfg.Cluster {
		return []budget.Tenant{{}}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	q := url.Values{}
	q.Set("start", strconv.FormatInt(from/1000, 10))
	q.Set("end", strconv.FormatInt(to/1000, 10))
	resp, err := c.get(ctx, http.MethodGet, c.readBase+"/admin/tenants?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("cannot list tenants at %s: %w", c.readBase, err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []string `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot decode tenants from %s: %w", c.readBase, err)
	}
	out := make([]budget.Tenant, 0, len(body.Data))
	for _, s := range body.Data {
		t, err := budget.ParseTenant([]byte(s))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
