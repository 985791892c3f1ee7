package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// slothBinary is Sloth's CLI, which `make deps` installs (v0.16.0).
const slothBinary = "sloth"

// The slogate configuration of TestSlothDropIn and the Sloth spec that says
// the same: route 0 (namespace shop, ingress web) is Sloth's service "shop",
// SLO "web-availability", 99.9% over 30 days, with the same spec labels,
// alert name and alert labels.
const (
	slothTestConfig = `objectives:
  - {name: availability, slo: 0.999, window: 30d}
sloth:
  service: "{namespace}"
  slo: "{ingress}-{slo}"
  labels: {owner: team-a, tier: "2"}
  alertName: ShopHighErrorRate
  pageLabels: {severity: critical}
  ticketLabels: {severity: warning}
`
	slothTestSpec = `version: "prometheus/v1"
service: "shop"
labels:
  owner: team-a
  tier: "2"
slos:
  - name: "web-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(e2e_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(e2e_requests_total[{{.window}}]))
    alerting:
      name: ShopHighErrorRate
      page_alert:
        labels:
          severity: critical
      ticket_alert:
        labels:
          severity: warning
`
	slothTestID = "shop-web-availability"
)

// TestSlothDropIn is slogate as a drop-in for Sloth (-compat.sloth):
//
//  1. Sloth's own rules, from `sloth generate` v0.16.0 of an equivalent
//     spec, run in the real vmalert against a second VictoriaMetrics fed
//     with a request counter; every series and alert they produce (names
//     and labels, the labels the expressions carry through included) must
//     be among slogate's for the same SLO, with the same values of Sloth's
//     labels and the spec's (sloth_mode and sloth_version name the
//     producer, vmalert's alertgroup the rule group: they differ), and
//     slogate writes no Sloth name Sloth does not.
//  2. slogate's alert rules (`slogate sloth rules -config`) run in vmalert
//     against slogate's series; with an outage on the route both the page
//     and the ticket alert fire.
//  3. Every panel query of Sloth's two Grafana dashboards (SLO detail and
//     high level; testdata/sloth_dashboards.json) returns data from
//     slogate's series, template variables set to values the dashboards'
//     own variable queries offer; a query with an "or on() vector(0)"
//     fallback must return data without it too.
//
// The detail dashboard's month panels sum slo:sli_error:ratio_rate1h at
// every whole hour ([32d:1h]), so the history is sent in two parts:
// slogate first writes a point before the last whole hour, then one at
// the end of the history (it writes its series at the newest event time).
func TestSlothDropIn(t *testing.T) {
	t.Parallel()
	sloth := testenv.Binary(t, slothBinary)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slogate.yml")
	spec := filepath.Join(dir, "sloth-spec.yml")
	slothRules := filepath.Join(dir, "sloth-rules.yml")
	slogateRules := filepath.Join(dir, "slogate-sloth-rules.yml")
	for path, content := range map[string]string{cfg: slothTestConfig, spec: slothTestSpec} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(sloth, "generate", "-i", spec, "-o", slothRules).CombinedOutput(); err != nil {
		t.Fatalf("sloth generate: %s\n%s", err, out)
	}
	if out, err := exec.Command(testenv.BuildSlogate(t), "sloth", "rules", "-config="+cfg, "-o="+slogateRules).CombinedOutput(); err != nil {
		t.Fatalf("slogate sloth rules: %s\n%s", err, out)
	}
	vmalertArgs := func(rules, url string) []string {
		return []string{
			"-rule=" + rules, "-datasource.url=" + url, "-remoteWrite.url=" + url,
			"-datasource.queryStep=5m", "-remoteWrite.flushInterval=1s", "-notifier.blackhole",
			"-evaluationInterval=1s", "-rule.evalDelay=0s",
		}
	}

	// Sloth: its rules over a counter with a third of the requests failing
	// in the last 70 minutes.
	slothVM := testenv.StartVM(t)
	now := time.Now()
	start := now.Add(-70 * time.Minute).Truncate(time.Minute)
	importCounter(t, slothVM.URL(), start, now)
	slothVM.ForceFlush(t)
	testenv.StartVMAlert(t, vmalertArgs(slothRules, slothVM.URL())...)

	// slogate: ingress-nginx traffic of the same 70 minutes, route 0 in an
	// outage for the last 15.
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-eval.interval=5s", "-compat.sloth", "-config="+cfg)
	testenv.StartVMAlert(t, vmalertArgs(slogateRules, vm.URL())...)
	scrapes := int(now.Sub(start) / scrapeStep)
	plan := trafficPlan{
		scrapes: scrapes,
		pods:    []pod{{"ingress-nginx-controller-a", "10.0.0.1:10254", 0, scrapes}},
		resetAt: -1,
		outages: []outage{{route: 0, from: scrapes - int(15*time.Minute/scrapeStep), to: scrapes, status: "500"}},
	}
	st := generate(plan, start, 13)
	hour := now.Truncate(time.Hour)
	first := int(hour.Sub(start)/scrapeStep) + 1 // blocks before the whole hour
	for _, b := range st.blocks[:first] {
		postBlock(t, sg.URL+"/api/v1/write", b, nil)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		if rs := vm.Query(t, `slo:sli_error:ratio_rate1h{sloth_id="`+slothTestID+`"}`, hour); len(rs) != 1 {
			return fmt.Errorf("slogate has not written slo:sli_error:ratio_rate1h of %s before %s yet: %v", slothTestID, hour.Format(time.RFC3339), rs)
		}
		return nil
	})
	for _, b := range st.blocks[first:] {
		postBlock(t, sg.URL+"/api/v1/write", b, nil)
	}

	// 1. Sloth's series and alerts against slogate's.
	slothNames := []string{
		"slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate30m", "slo:sli_error:ratio_rate1h", "slo:sli_error:ratio_rate2h",
		"slo:sli_error:ratio_rate6h", "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate3d", "slo:sli_error:ratio_rate30d",
		"slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days", "slo:current_burn_rate:ratio",
		"slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio", "sloth_slo_info",
	}
	const slothMatch = `{__name__=~"slo:.+|sloth_slo_info"}`
	const alertsMatch = `ALERTS{alertname="ShopHighErrorRate",alertstate="firing"}`
	var slothSeries, slothAlerts []testenv.Vector
	testenv.Eventually(t, 60*time.Second, func() error {
		slothVM.ForceFlush(t)
		slothSeries = slothVM.Query(t, slothMatch, time.Now())
		slothAlerts = slothVM.Query(t, alertsMatch, time.Now())
		if missing := missingNames(slothSeries, slothNames); len(missing) > 0 {
			return fmt.Errorf("Sloth's rules have not written %v yet", missing)
		}
		if sev := severities(slothAlerts); !slices.Equal(sev, []string{"page", "ticket"}) {
			return fmt.Errorf("Sloth's firing alerts have severities %v, want page and ticket", sev)
		}
		return nil
	})
	var slogateSeries, slogateAlerts []testenv.Vector
	testenv.Eventually(t, 60*time.Second, func() error {
		vm.ForceFlush(t)
		slogateSeries = vm.Query(t, `{__name__=~"slo:.+|sloth_slo_info",sloth_id="`+slothTestID+`"}`, time.Now())
		slogateAlerts = vm.Query(t, `ALERTS{alertname="ShopHighErrorRate",alertstate="firing",sloth_id="`+slothTestID+`"}`, time.Now())
		if missing := missingNames(slogateSeries, slothNames); len(missing) > 0 {
			return fmt.Errorf("slogate has not written %v of %s yet", missing, slothTestID)
		}
		if sev := severities(slogateAlerts); !slices.Equal(sev, []string{"page", "ticket"}) {
			return fmt.Errorf("slogate's rules: firing alerts of %s have severities %v, want page and ticket", slothTestID, sev)
		}
		return nil
	})
	for _, s := range slogateSeries {
		if !slices.Contains(slothNames, s.Metric["__name__"]) {
			t.Errorf("slogate writes %s, which Sloth's rules do not", testenv.SeriesKey(s.Metric))
		}
	}
	compareSloth(t, slothSeries, slogateSeries, "__name__")
	compareSloth(t, slothAlerts, slogateAlerts, "sloth_severity")
	t.Logf("%d Sloth series and %d alerts match slogate's", len(slothSeries), len(slothAlerts))

	// 3. The dashboards' panels.
	checkSlothDashboards(t, vm, "shop", "web-availability")
}

// importCounter writes e2e_requests_total{code="200"} and {code="500"}, a
// point every scrapeStep from start to now, a third of the requests failing.
func importCounter(t *testing.T, url string, start, now time.Time) {
	t.Helper()
	var body strings.Builder
	for code, perStep := range map[string]float64{"200": 200, "500": 100} {
		line := struct {
			Metric     map[string]string `json:"metric"`
			Values     []float64         `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}{Metric: map[string]string{"__name__": "e2e_requests_total", "code": code}}
		for ts, i := start, 0.0; ts.Before(now); ts, i = ts.Add(scrapeStep), i+1 {
			line.Values = append(line.Values, i*perStep)
			line.Timestamps = append(line.Timestamps, ts.UnixMilli())
		}
		b, err := json.Marshal(line)
		if err != nil {
			t.Fatal(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	resp, err := testenv.HTTPClient.Post(url+"/api/v1/import", "application/json", strings.NewReader(body.String()))
	if err != nil {
		t.Fatalf("cannot import the counter: %s", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("import of the counter: status %d", resp.StatusCode)
	}
}

func missingNames(vs []testenv.Vector, names []string) []string {
	var missing []string
	for _, n := range names {
		if !slices.ContainsFunc(vs, func(v testenv.Vector) bool { return v.Metric["__name__"] == n }) {
			missing = append(missing, n)
		}
	}
	return missing
}

func severities(alerts []testenv.Vector) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Metric["sloth_severity"])
	}
	sort.Strings(out)
	return out
}

// compareSloth checks that each of Sloth's series has a series of
// slogate's with the same value of key carrying every one of its labels,
// with the same values except sloth_mode and sloth_version (the producer's
// name and version) and vmalert's alertgroup (Sloth writes a group per
// SLO, slogate one for all).
func compareSloth(t *testing.T, sloth, slogate []testenv.Vector, key string) {
	t.Helper()
	for _, s := range sloth {
		i := slices.IndexFunc(slogate, func(g testenv.Vector) bool { return g.Metric[key] == s.Metric[key] })
		if i < 0 {
			t.Errorf("Sloth's %s has no counterpart in slogate's series", testenv.SeriesKey(s.Metric))
			continue
		}
		g := slogate[i].Metric
		for k, v := range s.Metric {
			got, ok := g[k]
			switch {
			case !ok:
				t.Errorf("slogate's %s lacks label %s of Sloth's %s", testenv.SeriesKey(g), k, testenv.SeriesKey(s.Metric))
			case got != v && k != "sloth_mode" && k != "sloth_version" && k != "alertgroup":
				t.Errorf("slogate's %s has %s=%q, Sloth's %s has %q", testenv.SeriesKey(g), k, got, testenv.SeriesKey(s.Metric), v)
			}
		}
	}
}

// slothDashboards is testdata/sloth_dashboards.json.
type slothDashboards struct {
	Dashboards []struct {
		Title     string
		Variables []struct{ Name, Type, Query string }
		Panels    []struct {
			ID    int
			Type  string
			Title string
			Exprs []string
		}
	}
}

var (
	labelValuesQuery = regexp.MustCompile(`^label_values\((.+), *([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	vectorFallback   = regexp.MustCompile(`(?i)\s+or\s+on\(\)\s+vector\(\d\)`)
)

// checkSlothDashboards runs every panel query of Sloth's dashboards
// against vm, with service and slo as the template variables (which the
// dashboards' own variable queries must offer).
func checkSlothDashboards(t *testing.T, vm *testenv.VM, service, slo string) {
	t.Helper()
	data, err := os.ReadFile("testdata/sloth_dashboards.json")
	if err != nil {
		t.Fatal(err)
	}
	var f slothDashboards
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	vars := map[string][]string{
		"service": {service}, "slo": {slo}, "__to:date:M": {strconv.Itoa(int(at.UTC().Month()))},
	}
	queries := 0
	for _, d := range f.Dashboards {
		for _, v := range d.Variables {
			switch v.Type {
			case "datasource":
			case "textbox":
				vars[v.Name] = []string{v.Query}
			case "interval":
				vars[v.Name] = strings.Split(v.Query, ",")
			case "query":
				m := labelValuesQuery.FindStringSubmatch(v.Query)
				if m == nil {
					t.Fatalf("%s: variable %s: cannot run %q", d.Title, v.Name, v.Query)
				}
				q := strings.ReplaceAll(m[1], "${service}", service)
				var offered []string
				for _, r := range vm.Query(t, q, at) {
					offered = append(offered, r.Metric[m[2]])
				}
				if want := vars[v.Name][0]; !slices.Contains(offered, want) {
					t.Errorf("%s: variable %s (%s) offers %v, not %q", d.Title, v.Name, q, offered, want)
				}
			default:
				t.Fatalf("%s: variable %s of unknown type %s", d.Title, v.Name, v.Type)
			}
		}
		for _, p := range d.Panels {
			for _, expr := range p.Exprs {
				for _, q := range substitute(expr, vars) {
					if strings.Contains(q, "$") {
						t.Fatalf("%s: panel %d %q: unknown variable in %s", d.Title, p.ID, p.Title, q)
					}
					queries++
					if rs := vm.Query(t, q, at); len(rs) == 0 {
						t.Errorf("%s: panel %d (%s %q) has no data: %s", d.Title, p.ID, p.Type, p.Title, q)
					}
					if bare := vectorFallback.ReplaceAllString(q, ""); bare != q {
						queries++
						if rs := vm.Query(t, bare, at); len(rs) == 0 {
							t.Errorf("%s: panel %d (%s %q) has data only from its fallback: %s", d.Title, p.ID, p.Type, p.Title, bare)
						}
					}
				}
			}
		}
	}
	t.Logf("%d dashboard queries return data", queries)
}

// substitute expands ${name} of expr with every combination of the
// variables' values.
func substitute(expr string, vars map[string][]string) []string {
	out := []string{expr}
	for name, values := range vars {
		ref := "${" + name + "}"
		if !strings.Contains(expr, ref) {
			continue
		}
		var next []string
		for _, q := range out {
			for _, v := range values {
				next = append(next, strings.ReplaceAll(q, ref, v))
			}
		}
		out = next
	}
	return out
}
