package synthetic

import (
	"testing"
	"time"

	"github.com/slogate/slogate/budget"

	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/slo"
)

// TestReservedCoversEverySeriesWritten renders every series the Renderer
// writes (slo_* and Sloth's, of routes and services, with an SLA,
// exhaustion, time slices and a credit) and
// checks that Reserved names each of them: a new synthetic series must not
// be forgeable through the write path.
func TestReservedCoversEverySeriesWritten(t *testing.T) {
	var total, bad [slo.NumWindows]uint64
	for i := range total {
		total[i], bad[i] = 1000, 10
	}
	st := slothRoute("shop", "availability", 0.999, slo.Window{Kind: slo.Rolling, Length: 30 * 24 * time.Hour}, total, bad, 0.5)
	st.SLO.HasExhaustion = true
	st.MaintenanceActive = true
	st.Objective.Slices = slo.Slices{Length: 5 * time.Minute, Target: 0.99}
	st.HasCredit = true
	r := &Renderer{Engine: &fakeEvaluator{routes: []budget.RouteStatus{st}, services: []budget.ServiceStatus{serviceStatus("acme", "gold")}}, Sloth: true}
	body := r.Append(nil, budget.Tenant{}, 60_000)
	var wr remotewrite.WriteRequest
	names := map[string]bool{}
	if err := wr.Unmarshal(body, func(name []byte) bool {
		names[string(name)] = true
		return false
	}, remotewrite.Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"slo_slices_total", "slo_sla_credit_percent", "slo_error_budget_exhaustion_seconds", "sloth_slo_info"} {
		if !names[name] {
			t.Errorf("%s not rendered", name)
		}
	}
	if len(names) < 15 {
		t.Fatalf("rendered only %d names: %v", len(names), names)
	}
	for name := range names {
		if !Reserved([]byte(name)) {
			t.Errorf("synthetic series %s is not Reserved: it could be forged through the write path", name)
		}
	}
	for _, name := range []string{"nginx_ingress_controller_requests", "slo", "slo_requests", "slogate_write_series_total", "sloth_service", ""} {
		if Reserved([]byte(name)) {
			t.Errorf("Reserved(%q) = true, want false", name)
		}
	}
}

func TestReservedAllocatesNothing(t *testing.T) {
	name := []byte("slo_error_budget_remaining_ratio")
	other := []byte("nginx_ingress_controller_requests")
	if n := testing.AllocsPerRun(100, func() { Reserved(name); Reserved(other) }); n != 0 {
		t.Fatalf("Reserved allocates %v times per call", n)
	}
}
