package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

const dashboardFile = "grafana/slogate.json"

type gpanel struct {
	ID         int               `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource map[string]string `json:"datasource"`
	Targets    []struct {
		Expr       string            `json:"expr"`
		Datasource map[string]string `json:"datasource"`
	} `json:"targets"`
	Panels []gpanel `json:"panels"` // of a collapsed row
}

type gdashboard struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	SchemaVersion int      `json:"schemaVersion"`
	Panels        []gpanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Query    any    `json:"query"` // a string, or an object in newer Grafana
			AllValue string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string            `json:"name"`
			Expr       string            `json:"expr"`
			Datasource map[string]string `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d gdashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("cannot parse %s: %s", dashboardFile, err)
	}
	if d.UID == "" || d.Title != "slogate — SLOs and SLAs" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, the title, and schemaVersion 36 or later", d.UID, d.Title, d.SchemaVersion)
	}

	// Variables: the datasource is chosen on import; customer, route and
	// service list label values of the synthetic series. All of route
	// and of service is ".+": a route's series have no service label and a
	// service's no route label, so neither shows in the other's panels.
	vars, all := map[string]string{}, map[string]string{}
	for _, v := range d.Templating.List {
		q, _ := v.Query.(string)
		vars[v.Name] = v.Type + " " + q
		all[v.Name] = v.AllValue
	}
	for _, name := range []string{"route", "service"} {
		if all[name] != ".+" {
			t.Errorf("variable %s: All is %q, want .+", name, all[name])
		}
	}
	if vars["datasource"] != "datasource prometheus" {
		t.Errorf("want a datasource variable of type prometheus, got %q", vars["datasource"])
	}
	labelValues := regexp.MustCompile(`^query label_values\(([a-z_]+)[{,]`)
	for _, name := range []string{"customer", "route", "service"} {
		m := labelValues.FindStringSubmatch(vars[name])
		if m == nil || !knownMetric(m[1]) {
			t.Errorf("variable %s: want label_values over a synthetic series, got %q", name, vars[name])
		}
	}

	checkDS := func(where string, ds map[string]string) {
		if ds["uid"] != "${datasource}" {
			t.Errorf("%s: datasource %v, want the ${datasource} variable (no uid of one Grafana)", where, ds)
		}
	}
	checkExpr := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: expr %q reads no metric", where, expr)
		}
		for _, m := range names {
			if !knownMetric(m) {
				t.Errorf("%s reads %s, which is neither in the slo_* contract nor a known slogate_* metric", where, m)
			}
		}
	}

	var panels []gpanel
	for _, p := range d.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	ids := map[int]bool{}
	budgetPanel, exprs := false, 0
	servicePanels := map[string]bool{} // metric read with service=~"$service"
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		checkDS("panel "+p.Title, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkDS("panel "+p.Title, tg.Datasource)
			checkExpr("panel "+p.Title, tg.Expr)
			exprs++
			if strings.Contains(tg.Expr, "slo_error_budget_remaining_") {
				budgetPanel = true
			}
			if strings.Contains(tg.Expr, `service=~"$service"`) {
				for _, m := range metricNames(tg.Expr) {
					servicePanels[m] = true
				}
			}
		}
	}
	if !budgetPanel {
		t.Errorf("no panel shows slo_error_budget_remaining_ratio or _seconds")
	}
	for _, m := range []string{"slo_error_budget_remaining_seconds", "slo_burn_rate", "slo_slices_total", "slo_sla_credit_percent"} {
		if !servicePanels[m] {
			t.Errorf("no panel reads %s of the chosen services", m)
		}
	}

	maintenance := false
	for _, a := range d.Annotations.List {
		if a.Expr == "" {
			continue // Grafana's built-in annotations
		}
		checkDS("annotation "+a.Name, a.Datasource)
		checkExpr("annotation "+a.Name, a.Expr)
		if strings.Contains(a.Expr, "slo_maintenance_active") && strings.Contains(a.Expr, "== 1") {
			maintenance = true
		}
	}
	if !maintenance {
		t.Errorf("no annotation query on slo_maintenance_active == 1")
	}
	t.Logf("%d panels, %d queries", len(panels), exprs)
}
