package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// VM is a running single-node VictoriaMetrics.
type VM struct {
	t       testing.TB
	bin     string
	addr    string
	dataDir string
	args    []string
	proc    *Proc
}

// VMOption configures StartVM.
type VMOption func(*VM)

// WithDataDir stores data in dir instead of a fresh temporary directory, so a
// second VictoriaMetrics can open what a first one wrote.
func WithDataDir(dir string) VMOption {
	return func(vm *VM) { vm.dataDir = dir }
}

// WithVMArgs adds command-line flags (as -name=value); a flag given here
// replaces the default of the same name.
func WithVMArgs(args ...string) VMOption {
	return func(vm *VM) { vm.args = append(vm.args, args...) }
}

// StartVM starts victoria-metrics on a free 127.0.0.1 port and waits until
// /health answers 200. Defaults make freshly written data searchable at once:
// no query latency offset, no response cache, 100y retention so old test
// timestamps are kept. Logs go to a file (ERROR level) printed on failure.
func StartVM(t testing.TB, opts ...VMOption) *VM {
	t.Helper()
	vm := &VM{t: t, bin: Binary(t, VictoriaMetricsBinary)}
	for _, o := range opts {
		o(vm)
	}
	// The address is fixed at the first start so Restart keeps it.
	if addr, set := flagValue(vm.args, "httpListenAddr"); set {
		vm.addr = addr
	} else {
		vm.addr = FreeAddr(t)
		vm.args = append([]string{"-httpListenAddr=" + vm.addr}, vm.args...)
	}
	if vm.dataDir == "" {
		vm.dataDir = t.TempDir()
	}
	vm.start(t)
	return vm
}

func (vm *VM) start(t testing.TB) {
	t.Helper()
	defaults := []string{
		"-storageDataPath=" + vm.dataDir,
		"-retentionPeriod=100y",
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-loggerLevel=ERROR",
	}
	vm.proc = startHTTPComponent(t, "victoria-metrics", vm.bin, defaults, vm.args, "/health")
}

// URL returns the base URL, e.g. "http://127.0.0.1:41234".
func (vm *VM) URL() string { return "http://" + vm.addr }

// Addr returns host:port of the listener.
func (vm *VM) Addr() string { return vm.addr }

// DataDir returns the -storageDataPath directory.
func (vm *VM) DataDir() string { return vm.dataDir }

// Proc returns the current process (a new one after each Restart).
func (vm *VM) Proc() *Proc { return vm.proc }

// Stop shuts VictoriaMetrics down gracefully (SIGTERM), so all data it
// accepted is on disk.
func (vm *VM) Stop() { vm.proc.Stop() }

// Restart stops VictoriaMetrics if it runs and starts it again on the same
// port and data directory, then waits for /health.
func (vm *VM) Restart() {
	vm.t.Helper()
	vm.proc.Stop()
	vm.start(vm.t)
}

// ForceFlush makes recently written data searchable (VictoriaMetrics
// otherwise buffers it for up to a second).
func (vm *VM) ForceFlush(t testing.TB) {
	t.Helper()
	ForceFlush(t, vm.URL())
}

// Export returns every series matching the series selector match.
func (vm *VM) Export(t testing.TB, match string) []ExportedSeries {
	t.Helper()
	return Export(t, vm.URL(), match)
}

// Query evaluates an instant PromQL query at the given time.
func (vm *VM) Query(t testing.TB, promql string, at time.Time) []Vector {
	t.Helper()
	return Query(t, vm.URL(), promql, at)
}

// ForceFlush calls /internal/force_flush on a VictoriaMetrics at baseURL.
func ForceFlush(t testing.TB, baseURL string) {
	t.Helper()
	MustGet(t, baseURL+"/internal/force_flush")
}

// ExportedSeries is one series of /api/v1/export: its labels (the name is
// Metric["__name__"]) and samples sorted by timestamp. NaN stands for a
// staleness marker.
type ExportedSeries struct {
	Metric     map[string]string
	Values     []float64
	Timestamps []int64 // milliseconds since the epoch
}

// Key returns the series in Prometheus text form with sorted labels, e.g.
// `up{instance="a",job="b"}`; equal label sets give equal keys.
func (s ExportedSeries) Key() string { return SeriesKey(s.Metric) }

// SeriesKey formats labels (with the name under "__name__") as
// name{label="value",...}, labels sorted, values quoted with strconv.Quote.
func SeriesKey(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(labels["__name__"])
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// Export calls /api/v1/export on baseURL (VictoriaMetrics, or slogate which
// passes the path through) for all time and returns the series sorted by
// Key. A series split over several lines (one per storage block) is merged.
func Export(t testing.TB, baseURL, match string) []ExportedSeries {
	t.Helper()
	q := url.Values{"match[]": {match}, "start": {"0"}}
	body := MustGet(t, baseURL+"/api/v1/export?"+q.Encode())
	series, err := ParseExport(body)
	if err != nil {
		t.Fatalf("cannot parse export of %q from %s: %s", match, baseURL, err)
	}
	return series
}

// ParseExport parses the JSON-lines body of /api/v1/export.
// Each line reads {"metric":{...},"values":[1,null,"Infinity"],"timestamps":[...]};
// null is a NaN (staleness marker) and "Infinity"/"-Infinity" are infinities.
func ParseExport(body []byte) ([]ExportedSeries, error) {
	type line struct {
		Metric     map[string]string `json:"metric"`
		Values     []any             `json:"values"`
		Timestamps []int64           `json:"timestamps"`
	}
	byKey := map[string]*ExportedSeries{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 256<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("cannot decode export line %d: %w", n, err)
		}
		if len(l.Values) != len(l.Timestamps) {
			return nil, fmt.Errorf("cannot use export line %d: %d values but %d timestamps", n, len(l.Values), len(l.Timestamps))
		}
		key := SeriesKey(l.Metric)
		s := byKey[key]
		if s == nil {
			s = &ExportedSeries{Metric: l.Metric}
			byKey[key] = s
		}
		for i, raw := range l.Values {
			v, err := exportValue(raw)
			if err != nil {
				return nil, fmt.Errorf("cannot decode value %d of export line %d: %w", i, n, err)
			}
			s.Values = append(s.Values, v)
			s.Timestamps = append(s.Timestamps, l.Timestamps[i])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read export: %w", err)
	}
	out := make([]ExportedSeries, 0, len(byKey))
	for _, s := range byKey {
		sortSamples(s)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

func exportValue(raw any) (float64, error) {
	switch v := raw.(type) {
	case nil:
		return math.NaN(), nil
	case float64:
		return v, nil
	case string:
		switch v {
		case "Infinity", "+Inf":
			return math.Inf(1), nil
		case "-Infinity", "-Inf":
			return math.Inf(-1), nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot parse %q: %w", v, err)
		}
		return f, nil
	default:
		return 0, fmt.Errorf("unexpected JSON value %v of type %T", raw, raw)
	}
}

// sortSamples orders samples by timestamp, keeping the export order of equal
// timestamps (duplicates stay visible to the caller).
func sortSamples(s *ExportedSeries) {
	idx := make([]int, len(s.Timestamps))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.Timestamps[idx[a]] < s.Timestamps[idx[b]] })
	ts := make([]int64, len(idx))
	vs := make([]float64, len(idx))
	for i, j := range idx {
		ts[i], vs[i] = s.Timestamps[j], s.Values[j]
	}
	s.Timestamps, s.Values = ts, vs
}

// Vector is one element of an instant query result.
type Vector struct {
	Metric    map[string]string
	Timestamp time.Time
	Value     float64
}

// Query calls /api/v1/query on baseURL at the given time. A scalar result
// comes back as one Vector with no labels.
func Query(t testing.TB, baseURL, promql string, at time.Time) []Vector {
	t.Helper()
	q := url.Values{
		"query": {promql},
		"time":  {strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64)},
	}
	body := MustGet(t, baseURL+"/api/v1/query?"+q.Encode())
	v, err := ParseQuery(body)
	if err != nil {
		t.Fatalf("cannot parse result of query %q from %s: %s", promql, baseURL, err)
	}
	return v
}

// ParseQuery parses a Prometheus instant-query response:
// {"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.123,"1"]}]}}.
func ParseQuery(body []byte) ([]Vector, error) {
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("cannot decode query response: %w", err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query failed: status %q: %s", resp.Status, resp.Error)
	}
	switch resp.Data.ResultType {
	case "vector":
		var items []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(resp.Data.Result, &items); err != nil {
			return nil, fmt.Errorf("cannot decode vector result: %w", err)
		}
		out := make([]Vector, 0, len(items))
		for _, it := range items {
			v, err := parsePoint(it.Value)
			if err != nil {
				return nil, err
			}
			v.Metric = it.Metric
			out = append(out, v)
		}
		return out, nil
	case "scalar":
		var point [2]any
		if err := json.Unmarshal(resp.Data.Result, &point); err != nil {
			return nil, fmt.Errorf("cannot decode scalar result: %w", err)
		}
		v, err := parsePoint(point)
		if err != nil {
			return nil, err
		}
		return []Vector{v}, nil
	default:
		return nil, fmt.Errorf("cannot use result type %q: want vector or scalar", resp.Data.ResultType)
	}
}

// parsePoint parses [<unix seconds>, "<value>"].
func parsePoint(p [2]any) (Vector, error) {
	sec, ok := p[0].(float64)
	if !ok {
		return Vector{}, fmt.Errorf("cannot parse timestamp %v: not a number", p[0])
	}
	s, ok := p[1].(string)
	if !ok {
		return Vector{}, fmt.Errorf("cannot parse value %v: not a string", p[1])
	}
	v, err := exportValue(s)
	if err != nil {
		return Vector{}, err
	}
	return Vector{Timestamp: time.UnixMilli(int64(math.Round(sec * 1e3))), Value: v}, nil
}
