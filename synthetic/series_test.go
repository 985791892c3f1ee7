package synthetic

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"
)

// serviceStatus is a time-slice service SLI of platform for one customer
// and contract: 5m slices over a year in Berlin, SLA 99.9% with credit
// tiers, 3 bad slices of 1,000 judged in the year.
func serviceStatus(customer, contract string) budget.ServiceStatus {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	year := slo.Window{Kind: slo.Calendar, Period: slo.PeriodYear, Location: berlin}
	st := budget.ServiceStatus{
		Service: "platform",
		Labels:  []budget.Label{{Name: "customer", Value: customer}, {Name: "contract", Value: contract}},
		Objective: budget.Objective{
			Name: "platform", SLO: 0.9995, SLA: 0.999, Window: year,
			Slices:  slo.Slices{Length: 5 * time.Minute, Target: 0.99},
			Credits: []slo.Credit{{Below: 0.999, Percent: 10}, {Below: 0.99, Percent: 25}},
		},
		Routes: 3,
		Good:   123_000, Bad: 456,
		SLO:    slo.BudgetStatus{Kind: "slo", Objective: 0.9995, RemainingRatio: -0.5, RemainingSeconds: -900},
		SLA:    slo.BudgetStatus{Kind: "sla", Objective: 0.999, RemainingRatio: 0.25, RemainingSeconds: 300, ExhaustionSeconds: 600, HasExhaustion: true},
		HasSLA: true, MaintenanceActive: true, Release: slo.ReleaseFreeze,
		Slices:        slo.SliceCounts{Good: 2000, Bad: 4, Excluded: 12},
		WindowSlices:  slo.SliceCounts{Good: 997, Bad: 3, Excluded: 2},
		CreditPercent: 10, HasCredit: true,
	}
	for i := range st.Windows {
		name := year.Label()
		if i < len(slo.ShortWindows) {
			name = slo.ShortWindows[i].Name
		}
		st.Windows[i] = slo.SliceWindow(name, slo.SliceCounts{Good: 9, Bad: 1}, 0.9995)
	}
	st.Windows[slo.Window5m] = slo.SliceWindow("5m", slo.SliceCounts{}, 0.9995) // no slice judged
	st.Windows[slo.WindowCompliance] = slo.SliceWindow(year.Label(), st.WindowSlices, 0.9995)
	return st
}

// TestSyntheticServices: a service SLI's series carry slo, service and the
// By labels only (no route, source, route or contract labels), requests
// without the excluded counter, slices and the credit; a route gets
// slo_slices_total and slo_sla_credit_percent only with time slices and
// credit tiers.
func TestSyntheticServices(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 15, 0, time.UTC).UnixMilli()
	var total, bad [slo.NumWindows]uint64
	for i := range total {
		total[i], bad[i] = 1000, 1
	}
	plain := slothRoute("shop/web/shop.example.com//", "availability", 0.999, slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}, total, bad, 0.5)
	sliced := plain
	sliced.Route = "api/web/api.example.com//"
	sliced.Objective.Slices = slo.Slices{Length: time.Minute, Target: 0.95, SkipEmpty: true}
	sliced.Objective.Credits = []slo.Credit{{Below: 0.99, Percent: 5}}
	sliced.Slices = slo.SliceCounts{Good: 7, Bad: 2, Excluded: 1}
	sliced.CreditPercent, sliced.HasCredit = 0, true

	eval := &fakeEvaluator{
		routes:   []budget.RouteStatus{plain, sliced},
		services: []budget.ServiceStatus{serviceStatus("acme", "gold"), serviceStatus("globex", "")},
	}
	got := decodeSeries(t, (&Renderer{Engine: eval}).Append(nil, budget.Tenant{}, at), at)

	svc := func(customer, contract, name string, extra ...string) string {
		labels := append([]string{`contract="` + contract + `"`, `customer="` + customer + `"`, `service="platform"`, `slo="platform"`}, extra...)
		sort.Strings(labels)
		return name + "{" + strings.Join(labels, ",") + "}"
	}
	want := map[string]float64{}
	for _, c := range [][2]string{{"acme", "gold"}, {"globex", ""}} {
		s := func(name string, extra ...string) string { return svc(c[0], c[1], name, extra...) }
		for k, v := range map[string]float64{
			s("slo_requests_total", `result="good"`):               123_000,
			s("slo_requests_total", `result="bad"`):                456,
			s("slo_burn_rate", `window="5m"`):                      0,
			s("slo_sli_ratio", `window="year"`):                    0.997,
			s("slo_burn_rate", `window="year"`):                    0.003 / (1 - 0.9995),
			s("slo_objective_ratio", `kind="slo"`):                 0.9995,
			s("slo_error_budget_remaining_ratio", `kind="slo"`):    -0.5,
			s("slo_error_budget_remaining_seconds", `kind="slo"`):  -900,
			s("slo_objective_ratio", `kind="sla"`):                 0.999,
			s("slo_error_budget_remaining_ratio", `kind="sla"`):    0.25,
			s("slo_error_budget_remaining_seconds", `kind="sla"`):  300,
			s("slo_error_budget_exhaustion_seconds", `kind="sla"`): 600,
			s("slo_maintenance_active"):                            1,
			s("slo_release_state", `state="ship"`):                 0,
			s("slo_release_state", `state="caution"`):              0,
			s("slo_release_state", `state="freeze"`):               1,
			s("slo_slices_total", `result="good"`):                 2000,
			s("slo_slices_total", `result="bad"`):                  4,
			s("slo_slices_total", `result="excluded"`):             12,
			s("slo_sla_credit_percent"):                            10,
		} {
			want[k] = v
		}
		for _, w := range slo.ShortWindows[1:] {
			want[s("slo_sli_ratio", `window="`+w.Name+`"`)] = 0.9
			want[s("slo_burn_rate", `window="`+w.Name+`"`)] = 0.1 / (1 - 0.9995)
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
	routeSeries := map[string]int{}
	for k := range got {
		if strings.Contains(k, `service="`) {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected service series %s", k)
			}
			continue
		}
		route := k[strings.Index(k, `route="`):]
		route = route[len(`route="`):strings.Index(route, `",`)]
		name := k[:strings.Index(k, "{")]
		routeSeries[route+" "+name]++
	}
	// The route without time slices or credits has neither series; the
	// other has three slice counters and its credit (0: above every tier).
	for key, n := range map[string]int{
		"shop/web/shop.example.com// slo_slices_total":            0,
		"shop/web/shop.example.com// slo_sla_credit_percent":      0,
		"shop/web/shop.example.com// slo_requests_excluded_total": 2,
		"api/web/api.example.com// slo_slices_total":              3,
		"api/web/api.example.com// slo_sla_credit_percent":        1,
		"api/web/api.example.com// slo_requests_total":            2,
	} {
		if routeSeries[key] != n {
			t.Errorf("%s: %d series, want %d", key, routeSeries[key], n)
		}
	}
	for _, c := range []struct {
		result string
		want   float64
	}{{"good", 7}, {"bad", 2}, {"excluded", 1}} {
		k := `slo_slices_total{customer="acme",host="shop.example.com",result="` + c.result + `",route="api/web/api.example.com//",slo="availability",source="ingress-nginx"}`
		if got[k] != c.want {
			t.Errorf("%s = %v, want %v", k, got[k], c.want)
		}
	}
	k := `slo_sla_credit_percent{customer="acme",host="shop.example.com",route="api/web/api.example.com//",slo="availability",source="ingress-nginx"}`
	if v, ok := got[k]; !ok || v != 0 {
		t.Errorf("%s = %v, %v; want 0", k, v, ok)
	}
}

// TestSyntheticServiceSloth: a service's Sloth series are named after the
// service (sloth_service, sloth_id) and carry its By labels; a year has no
// Sloth window name.
func TestSyntheticServiceSloth(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 15, 0, time.UTC).UnixMilli()
	eval := &fakeEvaluator{services: []budget.ServiceStatus{serviceStatus("acme", "gold")}}
	got := decodeSeries(t, (&Renderer{Engine: eval, Sloth: true}).Append(nil, budget.Tenant{}, at), at)
	l := func(extra ...string) string {
		labels := append([]string{`contract="gold"`, `customer="acme"`, `service="platform"`, `slo="platform"`,
			`sloth_id="platform-platform-acme-gold"`, `sloth_service="platform"`, `sloth_slo="platform-acme-gold"`}, extra...)
		sort.Strings(labels)
		return "{" + strings.Join(labels, ",") + "}"
	}
	want := map[string]float64{
		`slo:objective:ratio` + l():                                          0.9995,
		`slo:error_budget:ratio` + l():                                       1 - 0.9995,
		`slo:time_period:days` + l():                                         365,
		`slo:period_burn_rate:ratio` + l(`sloth_window="year"`):              0.003 / (1 - 0.9995),
		`slo:period_error_budget_remaining:ratio` + l(`sloth_window="year"`): -0.5,
		`slo:sli_error:ratio_rate30m` + l(`sloth_window="30m"`):              0.1,
		`sloth_slo_info` + l(`sloth_mode="slogate"`, `sloth_spec="prometheus/v1"`, `sloth_version=""`, `sloth_objective="99.95"`): 1,
		`slo:sli_error:ratio_rate3d` + l(`sloth_window="3d"`):                                                                     0.1,
		`slo:sli_error:ratio_rate1d` + l(`sloth_window="1d"`):                                                                     0.1,
		`slo:sli_error:ratio_rate6h` + l(`sloth_window="6h"`):                                                                     0.1,
		`slo:sli_error:ratio_rate2h` + l(`sloth_window="2h"`):                                                                     0.1,
		`slo:sli_error:ratio_rate1h` + l(`sloth_window="1h"`):                                                                     0.1,
	}
	n := 0
	for k, v := range got {
		if !strings.HasPrefix(k, "slo:") && !strings.HasPrefix(k, "sloth_") {
			continue
		}
		n++
		if w, ok := want[k]; !ok {
			t.Errorf("unexpected series %s", k)
		} else if math.Abs(v-w) > 1e-12*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %.15g, want %.15g", k, v, w)
		}
	}
	if n != len(want) {
		t.Errorf("%d Sloth series, want %d", n, len(want))
	}
}

// appendEngine evaluates into the caller's slices, as budget.Engine does.
type appendEngine struct{ fakeEvaluator }

func (f *appendEngine) EachStatus(_ budget.Tenant, _ int64, buf []budget.RouteStatus, fn func([]budget.RouteStatus) error) ([]budget.RouteStatus, error) {
	for start := 0; start < len(f.routes); start += 2 { // chunks of 2
		buf = append(buf[:0], f.routes[start:min(start+2, len(f.routes))]...)
		if err := fn(buf); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func (f *appendEngine) AppendServiceStatus(dst []budget.ServiceStatus, _ budget.Tenant, _ int64) []budget.ServiceStatus {
	return append(dst, f.services...)
}

// TestRendererAllocs: rendering routes and services into a reused buffer,
// in blocks handed to flush, allocates nothing in steady state; the
// blocks hold the same series as one WriteRequest.
func TestRendererAllocs(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 15, 0, time.UTC).UnixMilli()
	var total, bad [slo.NumWindows]uint64
	for i := range total {
		total[i], bad[i] = 1000, 1
	}
	var routes []budget.RouteStatus
	for _, name := range []string{"a", "b", "c"} {
		routes = append(routes, slothRoute(name, "availability", 0.999, slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}, total, bad, 0.5))
	}
	eng := &appendEngine{fakeEvaluator{
		routes:   routes,
		services: []budget.ServiceStatus{serviceStatus("acme", "gold"), serviceStatus("globex", "")},
	}}
	r := &Renderer{Engine: eng}
	var buf []byte
	blocks := 0
	flush := func([]byte) { blocks++ }
	step := func() { buf = r.Write(buf, budget.Tenant{}, at, 7, flush) }
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Errorf("Renderer.Write allocates %v times per call", n)
	}
	whole := decodeSeries(t, r.Append(nil, budget.Tenant{}, at), at)
	series := len(whole)
	blocks = 0
	got := map[string]float64{}
	r.Write(nil, budget.Tenant{}, at, 7, func(b []byte) {
		blocks++
		for k, v := range decodeSeries(t, b, at) {
			got[k] = v
		}
	})
	if want := (series + 6) / 7; blocks != want {
		t.Errorf("%d blocks of %d series, want %d", blocks, series, want)
	}
	if len(got) != len(whole) {
		t.Errorf("blocks hold %d series, one request %d", len(got), len(whole))
	}
	for k, v := range whole {
		if got[k] != v {
			t.Errorf("%s = %v in blocks, %v in one request", k, got[k], v)
		}
	}
	// The engine's statuses are not kept between evaluations.
	for _, st := range r.routes[:cap(r.routes)] {
		if st.Route != "" {
			t.Fatalf("Renderer keeps route %s", st.Route)
		}
	}
}
