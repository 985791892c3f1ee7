package synthetic

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/slo"
)

// fakeEvaluator returns fixed route and service statuses.
type fakeEvaluator struct {
	routes   []budget.RouteStatus
	services []budget.ServiceStatus
}

func (f *fakeEvaluator) Tenants() []budget.Tenant                           { return []budget.Tenant{{}} }
func (f *fakeEvaluator) Watermark(budget.Tenant) int64                      { return 0 }
func (f *fakeEvaluator) Evaluate(budget.Tenant, int64) []budget.RouteStatus { return f.routes }
func (f *fakeEvaluator) EvaluateServices(budget.Tenant, int64) []budget.ServiceStatus {
	return f.services
}

// slothRoute is a route with windows whose counts the test chooses: window
// i has total[i] events of which bad[i] are bad.
func slothRoute(route, name string, target float64, window slo.Window, total, bad [slo.NumWindows]uint64, remaining float64) budget.RouteStatus {
	st := budget.RouteStatus{
		Source: "ingress-nginx",
		Labels: []budget.Label{{Name: "host", Value: "shop.example.com"}},
		Route:  route,
		Objective: budget.Objective{
			Name: name, SLO: target, SLA: 0.99, Window: window,
			Contract: []budget.Label{{Name: "customer", Value: "acme"}},
		},
		SLO:    slo.BudgetStatus{Kind: "slo", Objective: target, RemainingRatio: remaining},
		SLA:    slo.BudgetStatus{Kind: "sla", Objective: 0.99, RemainingRatio: 0.5},
		HasSLA: true,
	}
	for i := range st.Windows {
		name := window.Label()
		if i < len(slo.ShortWindows) {
			name = slo.ShortWindows[i].Name
		}
		w := slo.WindowStatus{Name: name, Good: total[i] - bad[i], Total: total[i]}
		if total[i] > 0 {
			w.SLI = float64(w.Good) / float64(w.Total)
			w.HasSLI = true
			w.BurnRate = float64(bad[i]) / float64(total[i]) / (1 - target)
		}
		st.Windows[i] = w
	}
	return st
}

// decodeSeries decodes a WriteRequest into one entry per series, keyed
// name{label="value",...} with the labels sorted, checking one sample at at.
func decodeSeries(t *testing.T, body []byte, at int64) map[string]float64 {
	t.Helper()
	var wr remotewrite.WriteRequest
	if err := wr.Unmarshal(body, func([]byte) bool { return true }, remotewrite.Limits{}); err != nil {
		t.Fatalf("cannot decode the synthetic WriteRequest: %s", err)
	}
	out := map[string]float64{}
	for _, ts := range wr.Series {
		name := ""
		var labels []string
		seen := map[string]bool{}
		for _, l := range ts.Labels {
			if seen[l.Name] {
				t.Errorf("label %s twice in %v", l.Name, ts.Labels)
			}
			seen[l.Name] = true
			if l.Name == "__name__" {
				name = l.Value
				continue
			}
			labels = append(labels, l.Name+"="+`"`+l.Value+`"`)
		}
		sort.Strings(labels)
		key := name + "{" + strings.Join(labels, ",") + "}"
		if len(ts.Samples) != 1 || ts.Samples[0].Timestamp != at {
			t.Errorf("%s: samples %v, want one at %d", key, ts.Samples, at)
			continue
		}
		if _, dup := out[key]; dup {
			t.Errorf("series %s written twice", key)
		}
		out[key] = ts.Samples[0].Value
	}
	return out
}

func TestSyntheticSloth(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 15, 0, time.UTC).UnixMilli()
	rolling30 := slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}
	// Windows 5m ... 3d, then the 30d compliance window.
	total := [slo.NumWindows]uint64{1000, 6000, 12000, 24000, 72000, 288000, 864000, 8640000}
	bad := [slo.NumWindows]uint64{200, 210, 230, 240, 250, 260, 270, 300}
	remaining := 1 - 300.0/(0.001*8640000)
	shop := slothRoute("shop/web/shop.example.com//", "availability", 0.999, rolling30, total, bad, remaining)

	// A quiet route (no events in 5m and 30m) with a 28d window and an
	// objective whose percent has no exact float.
	qt := [slo.NumWindows]uint64{0, 0, 10, 10, 10, 10, 10, 50}
	qb := [slo.NumWindows]uint64{0, 0, 1, 1, 1, 1, 1, 1}
	quiet := slothRoute("blog/blog/blog.example.com//", "availability", 0.9995,
		slo.Window{Kind: slo.Rolling, Length: 28 * 24 * time.Hour}, qt, qb, 1-1/(0.0005*50))

	// A calendar window: no period ratio, time period from the calendar.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	month := slothRoute("api/api/api.example.com//v1", "latency", 0.99,
		slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: berlin}, total, bad, 0.25)

	eval := &fakeEvaluator{routes: []budget.RouteStatus{shop, quiet, month}}
	plain := (&Renderer{Engine: eval}).Append(nil, budget.Tenant{}, at)
	compat := (&Renderer{Engine: eval, Sloth: true}).Append(nil, budget.Tenant{}, at)
	without := decodeSeries(t, plain, at)
	with := decodeSeries(t, compat, at)

	// The slo_* series are the same with and without Sloth compatibility.
	for k, v := range without {
		if got, ok := with[k]; !ok || got != v {
			t.Errorf("%s = %v with -compat.sloth, %v without", k, got, v)
		}
		if strings.Contains(k, "sloth_") || strings.HasPrefix(k, "slo:") {
			t.Errorf("Sloth series %s without -compat.sloth", k)
		}
	}

	base := func(route, slo, source string, extra ...string) string {
		labels := append([]string{
			`customer="acme"`, `host="shop.example.com"`,
			`route="` + route + `"`, `slo="` + slo + `"`, `source="` + source + `"`,
			`sloth_id="` + route + "-" + slo + `"`, `sloth_service="` + route + `"`, `sloth_slo="` + slo + `"`,
		}, extra...)
		sort.Strings(labels)
		return "{" + strings.Join(labels, ",") + "}"
	}
	shopL := func(extra ...string) string {
		return base("shop/web/shop.example.com//", "availability", "ingress-nginx", extra...)
	}
	quietL := func(extra ...string) string {
		return base("blog/blog/blog.example.com//", "availability", "ingress-nginx", extra...)
	}
	monthL := func(extra ...string) string {
		return base("api/api/api.example.com//v1", "latency", "ingress-nginx", extra...)
	}
	want := map[string]float64{
		`slo:sli_error:ratio_rate5m` + shopL(`sloth_window="5m"`):                                                                    0.2,
		`slo:sli_error:ratio_rate30m` + shopL(`sloth_window="30m"`):                                                                  210.0 / 6000,
		`slo:sli_error:ratio_rate1h` + shopL(`sloth_window="1h"`):                                                                    230.0 / 12000,
		`slo:sli_error:ratio_rate2h` + shopL(`sloth_window="2h"`):                                                                    240.0 / 24000,
		`slo:sli_error:ratio_rate6h` + shopL(`sloth_window="6h"`):                                                                    250.0 / 72000,
		`slo:sli_error:ratio_rate1d` + shopL(`sloth_window="1d"`):                                                                    260.0 / 288000,
		`slo:sli_error:ratio_rate3d` + shopL(`sloth_window="3d"`):                                                                    270.0 / 864000,
		`slo:sli_error:ratio_rate30d` + shopL(`sloth_window="30d"`):                                                                  300.0 / 8640000,
		`slo:objective:ratio` + shopL():                                                                                              0.999,
		`slo:error_budget:ratio` + shopL():                                                                                           1 - 0.999,
		`slo:time_period:days` + shopL():                                                                                             30,
		`slo:current_burn_rate:ratio` + shopL(`sloth_window="5m"`):                                                                   0.2 / (1 - 0.999),
		`slo:period_burn_rate:ratio` + shopL(`sloth_window="30d"`):                                                                   300.0 / 8640000 / (1 - 0.999),
		`slo:period_error_budget_remaining:ratio` + shopL(`sloth_window="30d"`):                                                      remaining,
		`sloth_slo_info` + shopL(`sloth_mode="slogate"`, `sloth_spec="prometheus/v1"`, `sloth_version=""`, `sloth_objective="99.9"`): 1,

		// No events in 5m and 30m: those ratios and the current burn rate
		// are absent; 28d is "4w" as Prometheus and Sloth write it.
		`slo:sli_error:ratio_rate1h` + quietL(`sloth_window="1h"`):                                                                     0.1,
		`slo:sli_error:ratio_rate2h` + quietL(`sloth_window="2h"`):                                                                     0.1,
		`slo:sli_error:ratio_rate6h` + quietL(`sloth_window="6h"`):                                                                     0.1,
		`slo:sli_error:ratio_rate1d` + quietL(`sloth_window="1d"`):                                                                     0.1,
		`slo:sli_error:ratio_rate3d` + quietL(`sloth_window="3d"`):                                                                     0.1,
		`slo:sli_error:ratio_rate4w` + quietL(`sloth_window="4w"`):                                                                     1.0 / 50,
		`slo:objective:ratio` + quietL():                                                                                               0.9995,
		`slo:error_budget:ratio` + quietL():                                                                                            1 - 0.9995,
		`slo:time_period:days` + quietL():                                                                                              28,
		`slo:period_burn_rate:ratio` + quietL(`sloth_window="4w"`):                                                                     1.0 / 50 / (1 - 0.9995),
		`slo:period_error_budget_remaining:ratio` + quietL(`sloth_window="4w"`):                                                        1 - 1/(0.0005*50),
		`sloth_slo_info` + quietL(`sloth_mode="slogate"`, `sloth_spec="prometheus/v1"`, `sloth_version=""`, `sloth_objective="99.95"`): 1,

		// A calendar month (November 2026 in Berlin: 30 days, no DST
		// change): no period ratio, but the period burn rate and budget.
		`slo:sli_error:ratio_rate5m` + monthL(`sloth_window="5m"`):                                                                  0.2,
		`slo:sli_error:ratio_rate30m` + monthL(`sloth_window="30m"`):                                                                210.0 / 6000,
		`slo:sli_error:ratio_rate1h` + monthL(`sloth_window="1h"`):                                                                  230.0 / 12000,
		`slo:sli_error:ratio_rate2h` + monthL(`sloth_window="2h"`):                                                                  240.0 / 24000,
		`slo:sli_error:ratio_rate6h` + monthL(`sloth_window="6h"`):                                                                  250.0 / 72000,
		`slo:sli_error:ratio_rate1d` + monthL(`sloth_window="1d"`):                                                                  260.0 / 288000,
		`slo:sli_error:ratio_rate3d` + monthL(`sloth_window="3d"`):                                                                  270.0 / 864000,
		`slo:objective:ratio` + monthL():                                                                                            0.99,
		`slo:error_budget:ratio` + monthL():                                                                                         1 - 0.99,
		`slo:time_period:days` + monthL():                                                                                           30,
		`slo:current_burn_rate:ratio` + monthL(`sloth_window="5m"`):                                                                 0.2 / (1 - 0.99),
		`slo:period_burn_rate:ratio` + monthL(`sloth_window="month"`):                                                               300.0 / 8640000 / (1 - 0.99),
		`slo:period_error_budget_remaining:ratio` + monthL(`sloth_window="month"`):                                                  0.25,
		`sloth_slo_info` + monthL(`sloth_mode="slogate"`, `sloth_spec="prometheus/v1"`, `sloth_version=""`, `sloth_objective="99"`): 1,
	}
	got := map[string]float64{}
	for k, v := range with {
		if _, plain := without[k]; !plain {
			got[k] = v
		}
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing %s", k)
		case math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)):
			t.Errorf("%s = %.15g, want %.15g", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s", k)
		}
	}
}

// TestSyntheticSlothDSTMonth: slo:time_period:days of a calendar month is
// the period's real length: October 2026 in Berlin has 31 days and 1 hour.
func TestSyntheticSlothDSTMonth(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	var zero [slo.NumWindows]uint64
	st := slothRoute("r", "availability", 0.999,
		slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth, Location: berlin}, zero, zero, 1)
	body := (&Renderer{Engine: &fakeEvaluator{routes: []budget.RouteStatus{st}}, Sloth: true}).Append(nil, budget.Tenant{}, at)
	found := false
	for k, v := range decodeSeries(t, body, at) {
		switch {
		case strings.HasPrefix(k, "slo:time_period:days{"):
			found = true
			if want := 31 + 1.0/24; math.Abs(v-want) > 1e-12 {
				t.Errorf("%s = %v, want %v", k, v, want)
			}
		case strings.HasPrefix(k, "slo:sli_error:") || strings.HasPrefix(k, "slo:current_burn_rate:") || strings.HasPrefix(k, "slo:period_burn_rate:"):
			t.Errorf("%s written for a route without events", k)
		case strings.HasPrefix(k, "slo:period_error_budget_remaining:ratio{") && v != 1:
			t.Errorf("%s = %v, want 1 without events", k, v)
		}
	}
	if !found {
		t.Error("slo:time_period:days missing")
	}
}

func TestPromDuration(t *testing.T) {
	f := func(length time.Duration, want string) {
		t.Helper()
		got, ok := promDuration(slo.Window{Kind: slo.Rolling, Length: length})
		if !ok || got != want {
			t.Errorf("promDuration(%s) = %q, %v; want %q", length, got, ok, want)
		}
	}
	f(30*24*time.Hour, "30d")
	f(28*24*time.Hour, "4w")
	f(7*24*time.Hour, "1w")
	f(90*24*time.Hour, "90d")
	f(365*24*time.Hour, "1y")
	f(36*time.Hour, "1d12h")
	f(90*time.Minute, "1h30m")
	if _, ok := promDuration(slo.Window{Kind: slo.Calendar, Period: slo.PeriodMonth}); ok {
		t.Error("promDuration of a calendar window: want none")
	}
}

// TestSyntheticSlothNames: sloth_service and sloth_slo from templates over
// the route's labels, a template of an absent label falls back to the
// default, extra labels are added unless the series has them already, and
// sloth_version is the one given.
func TestSyntheticSlothNames(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 15, 0, time.UTC).UnixMilli()
	var zero [slo.NumWindows]uint64
	st := slothRoute("shop/web/shop.example.com//", "availability", 0.999,
		slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}, zero, zero, 1)
	svc := serviceStatus("acme", "gold")
	r := &Renderer{Engine: &fakeEvaluator{routes: []budget.RouteStatus{st}, services: []budget.ServiceStatus{svc}}, Sloth: true,
		SlothNames: func() SlothNames {
			return SlothNames{
				Service: "{customer}", SLO: "{slo}-{host}{absent}",
				Labels:  []remotewrite.Label{{Name: "owner", Value: "team-a"}, {Name: "customer", Value: "not-added"}},
				Version: "v1.2.3",
			}
		}}
	got := decodeSeries(t, r.Append(nil, budget.Tenant{}, at), at)
	routeInfo := `sloth_slo_info{customer="acme",host="shop.example.com",owner="team-a",route="shop/web/shop.example.com//",slo="availability",` +
		`sloth_id="acme-availability-shop.example.com",sloth_mode="slogate",sloth_objective="99.9",sloth_service="acme",` +
		`sloth_slo="availability-shop.example.com",sloth_spec="prometheus/v1",sloth_version="v1.2.3",source="ingress-nginx"}`
	// The service has no host: sloth_slo is "platform-", its customer
	// label names the service.
	serviceInfo := `sloth_slo_info{contract="gold",customer="acme",owner="team-a",service="platform",slo="platform",` +
		`sloth_id="acme-platform-",sloth_mode="slogate",sloth_objective="99.95",sloth_service="acme",` +
		`sloth_slo="platform-",sloth_spec="prometheus/v1",sloth_version="v1.2.3"}`
	for _, k := range []string{routeInfo, serviceInfo} {
		if v, ok := got[k]; !ok || v != 1 {
			t.Errorf("%s = %v, %v; want 1", k, v, ok)
		}
	}
	remaining := `slo:period_error_budget_remaining:ratio{customer="acme",host="shop.example.com",owner="team-a",route="shop/web/shop.example.com//",slo="availability",` +
		`sloth_id="acme-availability-shop.example.com",sloth_service="acme",sloth_slo="availability-shop.example.com",sloth_window="30d",source="ingress-nginx"}`
	if v, ok := got[remaining]; !ok || v != 1 {
		t.Errorf("%s = %v, %v; want 1", remaining, v, ok)
	}

	// A template that expands to nothing keeps the default.
	r.SlothNames = func() SlothNames { return SlothNames{Service: "{absent}"} }
	got = decodeSeries(t, r.Append(nil, budget.Tenant{}, at), at)
	for k := range got {
		if strings.HasPrefix(k, "sloth_slo_info{") && !strings.Contains(k, `sloth_service="shop/web/shop.example.com//"`) && !strings.Contains(k, `sloth_service="platform"`) {
			t.Errorf("%s: want the default sloth_service", k)
		}
	}
}

func TestExpand(t *testing.T) {
	labels := []remotewrite.Label{{Name: "a", Value: "x"}, {Name: "b", Value: "y"}}
	for tmpl, want := range map[string]string{
		"": "", "plain": "plain", "{a}": "x", "{a}-{b}": "x-y", "{c}": "", "pre{a}post": "prexpost", "{a": "{a", "a}{b}": "a}y",
	} {
		if got := expand(tmpl, labels); got != want {
			t.Errorf("expand(%q) = %q, want %q", tmpl, got, want)
		}
	}
}
