package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"
)

// tenantsEngine is an Evaluator of fixed statuses in several tenants,
// without EachStatus: WriteSLOs takes its whole-tenant path.
type tenantsEngine struct {
	tenants  []budget.Tenant
	statuses map[budget.Tenant][]budget.RouteStatus
	services map[budget.Tenant][]budget.ServiceStatus
	wm       int64
}

func (f *tenantsEngine) Tenants() []budget.Tenant      { return f.tenants }
func (f *tenantsEngine) Watermark(budget.Tenant) int64 { return f.wm }
func (f *tenantsEngine) Evaluate(t budget.Tenant, _ int64) []budget.RouteStatus {
	return f.statuses[t]
}
func (f *tenantsEngine) EvaluateServices(t budget.Tenant, _ int64) []budget.ServiceStatus {
	return f.services[t]
}

// encodingJSON is the answer as encoding/json writes it: the reference of
// the hand-written encoder.
func encodingJSON(t *testing.T, a *API) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a.Evaluate()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func writeSLOs(t *testing.T, a *API) string {
	t.Helper()
	var buf bytes.Buffer
	if err := a.WriteSLOs(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// oddStatuses cover every optional field of SLOStatus and ServiceJSON, the
// strings JSON escapes and the numbers it writes with an exponent.
func oddStatuses() ([]budget.RouteStatus, []budget.ServiceStatus) {
	var routes []budget.RouteStatus
	for _, r := range pageRoutes {
		routes = append(routes, r.status())
	}
	// Time slices (skip empty) with credits, a credit reached, and
	// labels and a contract with names out of order and one repeated.
	st := &routes[0]
	st.Objective.Slices = slo.Slices{Length: time.Hour, Target: 0.95, SkipEmpty: true}
	st.Objective.Credits = []slo.Credit{{Below: 0.999, Percent: 5}, {Below: 0.99, Percent: 25}}
	st.Slices, st.WindowSlices = slo.SliceCounts{Good: 9, Bad: 1, Excluded: 2}, slo.SliceCounts{Good: 4, Bad: 1}
	st.CreditPercent, st.HasCredit = 5, true
	st.Objective.Contract = []budget.Label{{Name: "zone", Value: "b"}, {Name: "customer", Value: "acme"}, {Name: "zone", Value: "a"}}
	st.MaintenanceActive = true
	// Time slices (empty ones good), no SLA; non-finite numbers.
	st = &routes[2]
	st.Objective.Slices = slo.Slices{Length: 5 * time.Minute, Target: 0.9}
	st.WindowSlices = slo.SliceCounts{Bad: 3}
	st.SLO.RemainingSeconds, st.SLO.RemainingRatio = math.Inf(-1), math.NaN()
	st.Windows[0].BurnRate = math.Inf(1)
	// No labels; strings to escape; numbers with an exponent.
	st = &routes[3]
	st.Labels = nil
	st.Source = "a<b>&\"q\"\\\n\r\t\b\f\x01\x7f é \u2028\u2029 \xff end"
	st.Route = "ünï/cødé/\U0001F600"
	st.Objective.Name = "</script>"
	st.Objective.Window = slo.Window{Kind: slo.Rolling, Length: 36 * time.Hour}
	st.Windows[1].SLI, st.Windows[1].HasSLI = 1e-7, true
	st.Windows[2].BurnRate = 1e21
	st.Windows[3].BurnRate = 123456789.125
	st.SLO.ExhaustionSeconds, st.SLO.HasExhaustion = 1.5e-9, true
	st.Good, st.Bad, st.ExcludedGood, st.ExcludedBad = math.MaxUint64, 1, 2, 3
	st.Tenant = budget.Tenant{AccountID: math.MaxUint32, ProjectID: 7}
	for _, q := range []slo.Window{month, {Kind: slo.Calendar, Period: slo.PeriodYear, Location: time.FixedZone("x", 5*3600+1800)}} {
		r := routes[1]
		r.Objective.Window = q
		routes = append(routes, r)
	}
	services := pageServices()
	services[0].Objective.Slices = slo.Slices{Length: time.Minute, Target: 0.5, SkipEmpty: true}
	services[0].Slices = slo.SliceCounts{Good: 1, Bad: 2, Excluded: 3}
	services[0].Objective.Credits = []slo.Credit{{Below: 0.5, Percent: 100}}
	services[0].CreditPercent, services[0].HasCredit = 100, true
	services[1].Labels = nil
	services[1].Service = "<&>"
	return routes, services
}

// The hand-written encoder writes what encoding/json writes, byte for
// byte: one tenant, several, none.
func TestSLOsEncoder(t *testing.T) {
	routes, services := oddStatuses()
	t1, t2 := budget.Tenant{}, budget.Tenant{AccountID: 42, ProjectID: 1}
	engines := map[string]*tenantsEngine{
		"none": {},
		"one": {tenants: []budget.Tenant{t1}, wm: pageNow.UnixMilli(),
			statuses: map[budget.Tenant][]budget.RouteStatus{t1: routes},
			services: map[budget.Tenant][]budget.ServiceStatus{t1: services}},
		"routes only": {tenants: []budget.Tenant{t1}, wm: pageNow.UnixMilli() + 1234,
			statuses: map[budget.Tenant][]budget.RouteStatus{t1: routes}},
		"services only": {tenants: []budget.Tenant{t1}, wm: pageNow.UnixMilli(),
			services: map[budget.Tenant][]budget.ServiceStatus{t1: services}},
		"two and one without watermark": {tenants: []budget.Tenant{t1, t2, {AccountID: 9}}, wm: pageNow.UnixMilli(),
			statuses: map[budget.Tenant][]budget.RouteStatus{t1: routes[:2], t2: routes[2:]},
			services: map[budget.Tenant][]budget.ServiceStatus{t1: services[:1], t2: services[1:]}},
	}
	for name, e := range engines {
		a := &API{Engine: e, Step: time.Minute}
		want := encodingJSON(t, a)
		for range 2 { // the second call with the pooled scratch
			if got := writeSLOs(t, a); got != want {
				t.Fatalf("%s: the encoder differs from encoding/json:\n%s\nwant:\n%s", name, got, want)
			}
		}
	}
}

// Over a real engine, evaluated a chunk at a time, the answer is the same
// too.
func TestSLOsEncoderEngine(t *testing.T) {
	for _, routes := range []int{100, 1000} {
		e, _ := newBenchEngine(routes)
		a := &API{Engine: e, Step: time.Minute}
		if got, want := writeSLOs(t, a), encodingJSON(t, a); got != want {
			t.Fatalf("%d routes: the encoder differs from encoding/json:\n%s\nwant:\n%s", routes, got, want)
		}
	}
}

// TestSLOsAllocs: the answer's allocations do not grow with the routes
// (without -race, whose sync.Pool drops objects at random: make test runs
// it once more without).
func TestSLOsAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector's sync.Pool drops objects at random")
	}
	allocs := map[int]float64{}
	for _, routes := range []int{100, 1000} {
		e, _ := newBenchEngine(routes)
		a := &API{Engine: e, Step: time.Minute}
		allocs[routes] = testing.AllocsPerRun(5, func() {
			if err := a.WriteSLOs(io.Discard); err != nil {
				t.Fatal(err)
			}
		})
	}
	if allocs[1000] > allocs[100]+5 {
		t.Fatalf("%v allocations per call at 100 routes, %v at 1,000: they grow with the routes", allocs[100], allocs[1000])
	}
}
