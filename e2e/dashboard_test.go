package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// The Grafana dashboard against real data: the page test's scenario (an
// outage on shop, a trickle of errors on api, blog in maintenance, the
// storefront service in 5m slices with credits) goes through the real
// slogate into the real VictoriaMetrics, and vmagent scrapes slogate's own
// metrics and writes them through slogate, as in the demo. Every query of deploy/grafana/slogate.json, its
// variables set to All, must then return data.

// dashboardVars are what Grafana puts for the dashboard's variables:
// All of each query variable, and the built-in intervals. $__range is
// the range the test queries.
var dashboardVars = []string{
	"$customer", ".*", "$slo", ".*", "$route", ".+", "$service", ".+",
	"$__rate_interval", "2m", "$__interval", "1m", "$__range", "45m",
}

// dashboardQuery is one query of the dashboard, where it is and whether
// Grafana runs it as an instant query (tables) or over the time range.
type dashboardQuery struct {
	where, expr string
	instant     bool
}

func TestDashboardQueriesReturnData(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	now := time.Now()
	start := now.Truncate(time.Minute).Add(-40 * time.Minute)
	config := pageConfig + fmt.Sprintf(`maintenance:
  - start: %s
    end: %s
    match: {host: "blog\\.globex\\.com"}
    reason: blog migration
`, start.Add(30*time.Minute).UTC().Format(time.RFC3339), now.Add(time.Hour).UTC().Format(time.RFC3339))
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-config="+testenv.WriteTemp(t, "slogate.yml", config), "-eval.interval=1s")
	testenv.StartVMAgent(t, fmt.Sprintf(`scrape_configs:
- job_name: slogate
  scrape_interval: 1s
  static_configs:
  - targets: [%q]
`, strings.TrimPrefix(sg.URL, "http://")), "-remoteWrite.url="+sg.URL+"/api/v1/write")
	// slogate writes its series for the newest minute it has when it
	// looks (every second): the history arrives at once and is one point;
	// the last minutes come one at a time, each written before the next,
	// so that rates over them have points to compare.
	for i := 0; i <= 40; i++ {
		at := start.Add(time.Duration(i) * time.Minute)
		postPageBlock(t, sg.URL, i, at.UnixMilli())
		if i < 37 {
			continue
		}
		testenv.Eventually(t, 30*time.Second, func() error {
			vm.ForceFlush(t)
			v := vm.Query(t, `max(timestamp(slo_requests_total))`, time.Now())
			if len(v) == 0 || v[0].Value < float64(at.Unix()) {
				return fmt.Errorf("slogate's newest point is %v, want %s", v, at)
			}
			return nil
		})
	}

	queries, variables := dashboardQueries(t)
	if len(queries) < 30 {
		t.Fatalf("only %d queries in the dashboard", len(queries))
	}
	// Data arrives within seconds: slogate's series at each evaluation,
	// its own metrics with vmagent's scrapes (rates need two).
	pending := queries
	testenv.Eventually(t, 60*time.Second, func() error {
		vm.ForceFlush(t)
		end := time.Now()
		var still []dashboardQuery
		for _, q := range pending {
			if n := countResults(t, vm.URL(), q, end.Add(-45*time.Minute), end); n == 0 {
				still = append(still, q)
			}
		}
		pending = still
		if len(pending) > 0 {
			var msgs []string
			for _, q := range pending {
				msgs = append(msgs, q.where+": "+q.expr)
			}
			return fmt.Errorf("%d of %d queries return no data:\n%s", len(pending), len(queries), strings.Join(msgs, "\n"))
		}
		return nil
	})

	// The variables list what the scenario has: acme (blog has no
	// contract), the three routes, and the storefront service only.
	want := map[string]string{
		"customer": "acme",
		"service":  "storefront",
		"route":    "api/api/api.acme.com//v1 blog/blog/blog.globex.com// shop/web/shop.acme.com//",
	}
	for name, q := range variables {
		got := strings.Join(labelValues(t, vm.URL(), q), " ")
		if w, ok := want[name]; ok && got != w {
			t.Errorf("variable %s (%s) lists %q, want %q", name, q, got, w)
		} else if got == "" {
			t.Errorf("variable %s (%s) lists nothing", name, q)
		}
	}
	t.Logf("%d queries and %d variables return data", len(queries), len(variables))
}

// dashboardQueries reads the committed dashboard and returns its queries
// (panels, those of collapsed rows, annotations) and its query variables,
// with the variables substituted.
func dashboardQueries(t *testing.T) ([]dashboardQuery, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "grafana", "slogate.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string
		Targets []struct {
			Expr    string
			Instant bool
		}
		Panels []panel
	}
	var d struct {
		Panels      []panel
		Annotations struct{ List []struct{ Name, Expr string } }
		Templating  struct {
			List []struct {
				Name, Type string
				Query      any
			}
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("cannot parse the dashboard: %s", err)
	}
	subst := strings.NewReplacer(dashboardVars...)
	var out []dashboardQuery
	add := func(where, expr string, instant bool) {
		e := subst.Replace(expr)
		if strings.Contains(e, "$") {
			t.Fatalf("%s: a variable the test does not know in %s", where, expr)
		}
		out = append(out, dashboardQuery{where: where, expr: e, instant: instant})
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				add(fmt.Sprintf("panel %q query %d", p.Title, i+1), tg.Expr, tg.Instant)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			add("annotation "+a.Name, a.Expr, false)
		}
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && v.Type == "query" {
			vars[v.Name] = subst.Replace(q)
		}
	}
	return out, vars
}

// countResults runs q as Grafana would (instant at end, or over
// [from, end] at a 1m step) and returns the number of series with data.
func countResults(t *testing.T, base string, q dashboardQuery, from, end time.Time) int {
	t.Helper()
	ts := func(at time.Time) string { return strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64) }
	v := url.Values{"query": {q.expr}}
	path := "/api/v1/query_range"
	if q.instant {
		path = "/api/v1/query"
		v.Set("time", ts(end))
	} else {
		v.Set("start", ts(from))
		v.Set("end", ts(end))
		v.Set("step", "60")
	}
	var resp struct {
		Status, Error string
		Data          struct{ Result []json.RawMessage }
	}
	body := testenv.MustGet(t, base+path+"?"+v.Encode())
	if err := json.Unmarshal(body, &resp); err != nil || resp.Status != "success" {
		t.Fatalf("%s: %s: %v %s", q.where, q.expr, err, body)
	}
	return len(resp.Data.Result)
}

// labelValues answers label_values(selector, label) as Grafana's
// Prometheus data source does, through /api/v1/label/<label>/values.
func labelValues(t *testing.T, base, q string) []string {
	t.Helper()
	inner, ok := strings.CutPrefix(q, "label_values(")
	i := strings.LastIndex(inner, ",")
	if !ok || i < 0 || !strings.HasSuffix(inner, ")") {
		t.Fatalf("variable query %q is not label_values(selector, label)", q)
	}
	selector, label := strings.TrimSpace(inner[:i]), strings.TrimSpace(strings.TrimSuffix(inner[i+1:], ")"))
	v := url.Values{"match[]": {selector}, "start": {strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)}}
	var resp struct{ Data []string }
	if err := json.Unmarshal(testenv.MustGet(t, base+"/api/v1/label/"+label+"/values?"+v.Encode()), &resp); err != nil {
		t.Fatalf("cannot read the values of %s: %s", label, err)
	}
	sort.Strings(resp.Data)
	return resp.Data
}
