package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/vmclient"
)

// TestReportTenantOfCluster writes the routes of report_vm_test.go into
// tenant 42 of a real VictoriaMetrics cluster and reads the report through
// vmselect: the same figures as the reference.
func TestReportTenantOfCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a VictoriaMetrics cluster")
	}
	c := testenv.StartCluster(t)
	routes := vmRoutes()
	postImport(t, c.InsertURL()+"/insert/42/prometheus/api/v1/import", importLines(routes))
	c.ForceFlush(t)
	client, err := vmclient.New(vmclient.Config{URL: c.InsertURL(), ReadURL: c.SelectURL(), Cluster: true})
	if err != nil {
		t.Fatal(err)
	}
	rep := newVMReport(t, client)
	// vminsert hands the samples to vmstorage within a moment: wait until
	// the quarter holds every request.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := reference(routes, time.Date(2025, 10, 1, 0, 0, 0, 0, berlin), time.Date(2026, 1, 1, 0, 0, 0, 0, berlin), 0.999, 0, 0, 0, nil).requests
	if err := testenv.Poll(60*time.Second, func() error {
		c.ForceFlush(t)
		got, err := rep.Build(ReportRequest{Period: "2025-Q4", Tenant: "42"})
		if err != nil {
			return err
		}
		if len(got.Services) == 0 || got.Services[0].Requests != want {
			return fmt.Errorf("not all samples searchable yet: %+v", got.Services)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, routes, "42:0")
	got, err := rep.Build(ReportRequest{Period: "2025-11"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tenant != "0:0" || len(got.Contracts) != 0 || len(got.Services) != 0 {
		t.Errorf("tenant 0 holds nothing, got %+v", got)
	}
}
