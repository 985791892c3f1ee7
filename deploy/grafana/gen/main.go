// Command gen writes slogate's Grafana dashboard, deploy/grafana/slogate.json.
//
// The committed JSON is what users import; this program only keeps its many
// panels consistent (one label selector, one datasource variable, grid
// positions and ids computed, not typed). Change the dashboard here, then
//
//	go generate ./deploy/grafana/gen
//
// main_test.go fails when the committed file and this program disagree.
//
// Every query reads the synthetic series of design.md's contract (slo_*) or
// slogate's self-metrics (slogate_*); deploy/deploy_test.go checks that. It
// imports no slogate package: the dashboard depends on the series names,
// not on the code.
package main

//go:generate go run . -o ../slogate.json

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "", "file to write the dashboard to; empty means stdout")
	flag.Parse()
	b, err := render()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: %s\n", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: cannot write dashboard: %s\n", err)
		os.Exit(1)
	}
}

// render returns the dashboard as indented JSON with a final newline.
// encoding/json sorts map keys, so the output is deterministic.
func render() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// PromQL has < and > (and Grafana templates &): keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(dashboard()); err != nil {
		return nil, fmt.Errorf("cannot encode dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

type obj = map[string]any

// Identity of the dashboard: links and provisioning rely on the uid.
const (
	uid   = "slogate-slos"
	title = "slogate — SLOs and SLAs"
)

// ds is the datasource of every panel, target and annotation: the
// dashboard variable, never a uid of one Grafana installation.
var ds = obj{"type": "prometheus", "uid": "${datasource}"}

// sel restricts a synthetic series to the chosen customers, objectives and
// routes. A route without a customer label matches customer=~".*" (All);
// a service's series, which have no route label, never match (All is
// ".+" for routes).
const sel = `customer=~"$customer", slo=~"$slo", route=~"$route"`

// svc restricts a synthetic series to the chosen services; All is ".+",
// so routes (no service label) never match.
const svc = `service=~"$service"`

// fixedWindows are the windows of slo_sli_ratio that are not a compliance
// window. The compliance window's label varies per objective (30d, month,
// quarter, 7d ...), and the contract marks it no other way: it is the one
// window not in this list.
const fixedWindows = `5m|30m|1h|2h|6h|1d|3d`

func dashboard() obj {
	l := &layout{}
	overview(l)
	services(l)
	drilldown(l)
	burndown(l)
	self(l)
	return obj{
		"uid":                  uid,
		"title":                title,
		"description":          "Error budgets of slogate's synthetic series: SLA budget per customer, services (SLA downtime, credits, slices), SLI and burn rate per route, budget burn-down, maintenance. Runbook: deploy/RUNBOOK.md.",
		"tags":                 []string{"slogate", "slo", "sla"},
		"schemaVersion":        39,
		"version":              1,
		"editable":             true,
		"graphTooltip":         1, // shared crosshair
		"liveNow":              false,
		"refresh":              "1m",
		"time":                 obj{"from": "now-24h", "to": "now"},
		"timepicker":           obj{},
		"timezone":             "browser",
		"fiscalYearStartMonth": 0,
		"weekStart":            "",
		"__requires": []obj{
			{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
			{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
		},
		"links": []obj{{
			"title": "Runbook", "type": "link", "icon": "doc", "targetBlank": true,
			"url": "https://github.com/slogate/slogate/blob/main/deploy/RUNBOOK.md",
		}},
		"templating":  obj{"list": variables()},
		"annotations": obj{"list": annotations()},
		"panels":      l.panels,
	}
}

func variables() []obj {
	query := func(name, label, q, all string) obj {
		return obj{
			"name": name, "label": label, "type": "query",
			"datasource": ds, "query": q, "definition": q,
			"refresh":    2, // on time range change: routes come and go
			"includeAll": true, "multi": true, "allValue": all,
			"current": obj{}, "options": []obj{}, "sort": 1, "hide": 0, "regex": "",
		}
	}
	return []obj{
		{
			"name": "datasource", "label": "Data source", "type": "datasource",
			"query": "prometheus", "current": obj{}, "options": []obj{},
			"refresh": 1, "hide": 0, "regex": "", "includeAll": false, "multi": false,
		},
		query("customer", "Customer", `label_values(slo_objective_ratio, customer)`, ".*"),
		query("slo", "Objective", `label_values(slo_objective_ratio{customer=~"$customer"}, slo)`, ".*"),
		// ".+": a route has a route label, a service's series have none.
		query("route", "Route", `label_values(slo_objective_ratio{customer=~"$customer", slo=~"$slo"}, route)`, ".+"),
		query("service", "Service", `label_values(slo_objective_ratio, service)`, ".+"),
	}
}

// annotations shows maintenance windows as regions: Grafana joins the
// consecutive points of one series (one route and objective) into one.
func annotations() []obj {
	return []obj{
		{
			"name": "Annotations & Alerts", "type": "dashboard", "builtIn": 1,
			"datasource": obj{"type": "grafana", "uid": "-- Grafana --"},
			"enable":     true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)",
		},
		{
			"name": "Maintenance", "datasource": ds, "enable": true, "hide": false,
			"iconColor":       "rgba(255, 152, 48, 0.6)",
			"expr":            `max by (route, slo) (slo_maintenance_active{` + sel + `}) == 1`,
			"step":            "60s",
			"titleFormat":     "Maintenance",
			"textFormat":      "{{route}} ({{slo}})",
			"tagKeys":         "route,slo",
			"useValueForTime": false,
		},
	}
}

// Release state as one number per route and objective, for value mappings:
// slo_release_state is 1 for the current state and 0 for the others.
const releaseState = `max by (customer, contract, route, slo) (slo_release_state{state="caution", ` + sel + `})` +
	` + 2 * max by (customer, contract, route, slo) (slo_release_state{state="freeze", ` + sel + `})`

var releaseMappings = []obj{{
	"type": "value",
	"options": obj{
		"0": obj{"text": "ship", "color": "green", "index": 0},
		"1": obj{"text": "caution", "color": "yellow", "index": 1},
		"2": obj{"text": "freeze", "color": "red", "index": 2},
	},
}}

// budgetThresholds colour a remaining-budget ratio: spent, low, fine.
var budgetThresholds = thresholds("red", 0, "orange", 0.0001, "yellow", 0.25, "green")

func overview(l *layout) {
	l.row("Overview per customer")
	by := "by (customer, contract, route, slo)"
	l.add(12, 6, stat("Worst SLA budget left, per customer",
		"Lowest remaining SLA error budget (ratio of the compliance window's allowed errors) over the customer's routes. Below 0: SLA breached.",
		"percentunit", budgetThresholds,
		target("A", `min by (customer) (slo_error_budget_remaining_ratio{kind="sla", `+sel+`})`, "{{customer}}")))
	l.add(12, 6, stat("SLA downtime left, per customer",
		"Remaining SLA error budget as time at full outage: how much longer the worst route of each customer may be down this period.",
		"s", thresholds("red", 1, "orange", 3600, "green"),
		target("A", `min by (customer) (slo_error_budget_remaining_seconds{kind="sla", `+sel+`})`, "{{customer}}")))

	columns := []struct {
		ref, name, expr, unit string
	}{
		{"A", "Availability", `max ` + by + ` (slo_sli_ratio{window!~"` + fixedWindows + `", ` + sel + `})`, "percentunit"},
		{"B", "SLA target", `max ` + by + ` (slo_objective_ratio{kind="sla", ` + sel + `})`, "percentunit"},
		{"C", "SLA budget left", `min ` + by + ` (slo_error_budget_remaining_ratio{kind="sla", ` + sel + `})`, "percentunit"},
		{"D", "SLA downtime left", `min ` + by + ` (slo_error_budget_remaining_seconds{kind="sla", ` + sel + `})`, "s"},
		{"E", "SLA breached in", `min ` + by + ` (slo_error_budget_exhaustion_seconds{kind="sla", ` + sel + `})`, "s"},
		{"F", "SLO target", `max ` + by + ` (slo_objective_ratio{kind="slo", ` + sel + `})`, "percentunit"},
		{"G", "SLO budget left", `min ` + by + ` (slo_error_budget_remaining_ratio{kind="slo", ` + sel + `})`, "percentunit"},
		{"H", "Release", releaseState, "none"},
	}
	var targets, overrides []obj
	rename := obj{}
	for _, c := range columns {
		targets = append(targets, obj{
			"datasource": ds, "refId": c.ref, "expr": c.expr,
			"instant": true, "range": false, "format": "table", "legendFormat": "__auto",
		})
		field := "Value #" + c.ref
		rename[field] = c.name
		props := []obj{{"id": "unit", "value": c.unit}}
		switch c.ref {
		case "A", "B", "F":
			props = append(props, obj{"id": "decimals", "value": 3})
		case "C", "G":
			props = append(props,
				obj{"id": "thresholds", "value": budgetThresholds},
				obj{"id": "custom.cellOptions", "value": obj{"type": "color-background", "mode": "basic"}},
				obj{"id": "decimals", "value": 1})
		case "E":
			props = append(props, obj{"id": "noValue", "value": "not burning"})
		case "H":
			props = append(props,
				obj{"id": "mappings", "value": releaseMappings},
				obj{"id": "custom.cellOptions", "value": obj{"type": "color-text"}})
		}
		overrides = append(overrides, obj{
			"matcher":    obj{"id": "byName", "options": field},
			"properties": props,
		})
	}
	l.add(24, 10, obj{
		"type":        "table",
		"title":       "SLAs and SLOs per route",
		"description": "Now, per route and objective. Availability is over the compliance window (the SLI window that is not one of " + fixedWindows + "). SLA breached in: at the 5m burn rate; empty when nothing burns. Release: ship / caution / freeze from the internal budget.",
		"datasource":  ds,
		"targets":     targets,
		"transformations": []obj{
			{"id": "merge", "options": obj{}},
			{"id": "organize", "options": obj{
				"excludeByName": obj{"Time": true},
				"indexByName": obj{
					"customer": 0, "contract": 1, "route": 2, "slo": 3,
					"Value #A": 4, "Value #B": 5, "Value #C": 6, "Value #D": 7,
					"Value #E": 8, "Value #F": 9, "Value #G": 10, "Value #H": 11,
				},
				"renameByName": rename,
			}},
		},
		"fieldConfig": obj{
			"defaults":  obj{"custom": obj{"align": "auto", "filterable": true}},
			"overrides": overrides,
		},
		"options": obj{
			"showHeader": true, "cellHeight": "sm",
			"sortBy": []obj{{"displayName": "SLA budget left", "desc": false}},
		},
	})
}

// services shows the service SLIs (a service and one value set of its
// by labels): SLA downtime left, the credit the period is heading for, time
// slices and burn rates. A service's series carry its by labels instead of
// route labels, so the table keeps every label but the one it aggregates
// away ("without"), whatever by labels a service has.
func services(l *layout) {
	l.row("Services")
	l.add(8, 6, stat("SLA downtime left, per service",
		"Remaining SLA error budget of the worst SLI of each service; with time slices, downtime: the bad slices still allowed this period, as time.",
		"s", thresholds("red", 1, "orange", 3600, "green"),
		target("A", `min by (service) (slo_error_budget_remaining_seconds{kind="sla", `+svc+`})`, "{{service}}")))
	l.add(8, 6, stat("Service credit due, per service",
		"The service credit (percent of the fee) of the highest credit tier the compliance window's SLA availability is below now: what the period is heading for. 0: above every tier.",
		"percent", thresholds("green", 0.0001, "red"),
		target("A", `max by (service) (slo_sla_credit_percent{`+svc+`})`, "{{service}}")))
	l.add(8, 6, stat("Bad slices in range, per service",
		"Time slices judged bad (below the slice target) within the dashboard's time range, over every SLI of the service. Time-slice services only.",
		"none", thresholds("green", 1, "orange"),
		target("A", `sum by (service) (increase(slo_slices_total{result="bad", `+svc+`}[$__range]))`, "{{service}}")))

	columns := []struct {
		ref, name, expr, unit string
	}{
		{"A", "Availability", `max without (window) (slo_sli_ratio{window!~"` + fixedWindows + `", ` + svc + `})`, "percentunit"},
		{"B", "SLA target", `max without (kind) (slo_objective_ratio{kind="sla", ` + svc + `})`, "percentunit"},
		{"C", "SLA budget left", `min without (kind) (slo_error_budget_remaining_ratio{kind="sla", ` + svc + `})`, "percentunit"},
		{"D", "SLA downtime left", `min without (kind) (slo_error_budget_remaining_seconds{kind="sla", ` + svc + `})`, "s"},
		{"E", "SLA breached in", `min without (kind) (slo_error_budget_exhaustion_seconds{kind="sla", ` + svc + `})`, "s"},
		{"F", "Credit due", `max without () (slo_sla_credit_percent{` + svc + `})`, "percent"},
		{"G", "Release", `max without (state) (slo_release_state{state="caution", ` + svc + `}) + 2 * max without (state) (slo_release_state{state="freeze", ` + svc + `})`, "none"},
	}
	var targets, overrides []obj
	rename := obj{}
	for _, c := range columns {
		targets = append(targets, obj{
			"datasource": ds, "refId": c.ref, "expr": c.expr,
			"instant": true, "range": false, "format": "table", "legendFormat": "__auto",
		})
		field := "Value #" + c.ref
		rename[field] = c.name
		props := []obj{{"id": "unit", "value": c.unit}}
		switch c.ref {
		case "A", "B":
			props = append(props, obj{"id": "decimals", "value": 3})
		case "C":
			props = append(props,
				obj{"id": "thresholds", "value": budgetThresholds},
				obj{"id": "custom.cellOptions", "value": obj{"type": "color-background", "mode": "basic"}},
				obj{"id": "decimals", "value": 1})
		case "E":
			props = append(props, obj{"id": "noValue", "value": "not burning"})
		case "F":
			props = append(props, obj{"id": "noValue", "value": "no credits"})
		case "G":
			props = append(props,
				obj{"id": "mappings", "value": releaseMappings},
				obj{"id": "custom.cellOptions", "value": obj{"type": "color-text"}})
		}
		overrides = append(overrides, obj{
			"matcher":    obj{"id": "byName", "options": field},
			"properties": props,
		})
	}
	l.add(24, 8, obj{
		"type":        "table",
		"title":       "Service SLIs",
		"description": "Now, per service and value set of its by labels. Availability is over the compliance window (with time slices, the good-slice ratio). SLA breached in: at the 5m burn rate; empty when nothing burns.",
		"datasource":  ds,
		"targets":     targets,
		"transformations": []obj{
			{"id": "merge", "options": obj{}},
			{"id": "organize", "options": obj{
				"excludeByName": obj{"Time": true},
				"indexByName":   obj{"service": 0, "slo": 1},
				"renameByName":  rename,
			}},
		},
		"fieldConfig": obj{
			"defaults":  obj{"custom": obj{"align": "auto", "filterable": true}},
			"overrides": overrides,
		},
		"options": obj{
			"showHeader": true, "cellHeight": "sm",
			"sortBy": []obj{{"displayName": "SLA budget left", "desc": false}},
		},
	})

	downtime := timeseries("Service SLA downtime left",
		"Remaining SLA budget of every service SLI as time (downtime with time slices). Last 30 days.",
		"s", thresholds("red", 0, "green"), nil,
		target("A", `slo_error_budget_remaining_seconds{kind="sla", `+svc+`}`, "__auto"))
	downtime["timeFrom"] = "30d"
	l.add(8, 8, downtime)
	burn := timeseries("Service burn rate per window",
		"Error rate relative to the service's internal SLO (with time slices: the bad-slice rate), per window.",
		"none", thresholds("green", 1, "yellow", 6, "orange", 14.4, "red"), nil,
		target("A", `slo_burn_rate{`+svc+`}`, "__auto"))
	burn["fieldConfig"].(obj)["defaults"].(obj)["custom"].(obj)["scaleDistribution"] = obj{"type": "symlog", "log": 10, "linearThreshold": 1}
	l.add(8, 8, burn)
	l.add(8, 8, timeseries("Service slices",
		"Time slices judged per service and verdict (good, bad, excluded: wholly in maintenance or empty and skipped).",
		"none", nil, nil,
		target("A", `sum by (service, result) (increase(slo_slices_total{`+svc+`}[$__rate_interval]))`, "{{service}} {{result}}")))
}

func drilldown(l *layout) {
	l.row("Route drill-down")
	l.add(12, 9, timeseries("SLI ratio per window",
		"Good / total events without maintenance, per window; dashed: the SLO and SLA targets.",
		"percentunit", obj{"mode": "absolute", "steps": []obj{{"color": "text", "value": nil}}},
		[]obj{{
			"matcher":    obj{"id": "byFrameRefID", "options": "B"},
			"properties": []obj{{"id": "custom.lineStyle", "value": obj{"fill": "dash", "dash": []int{10, 10}}}},
		}},
		target("A", `slo_sli_ratio{`+sel+`}`, "{{route}} {{slo}} {{window}}"),
		target("B", `slo_objective_ratio{`+sel+`}`, "{{route}} {{slo}} {{kind}} target")))
	burn := timeseries("Burn rate per window",
		"Error rate relative to the internal SLO's allowance (1 = the budget lasts exactly the window). Lines at the alert thresholds: 14.4 (1h/5m) and 6 (6h/30m) page, 3 (1d/2h) and 1 (3d/6h) ticket.",
		"none", thresholds("green", 1, "yellow", 3, "orange", 6, "red", 14.4, "dark-red"), nil,
		target("A", `slo_burn_rate{`+sel+`}`, "{{route}} {{slo}} {{window}}"))
	custom := burn["fieldConfig"].(obj)["defaults"].(obj)["custom"].(obj)
	custom["thresholdsStyle"] = obj{"mode": "dashed"}
	// symlog: linear below 1 (a healthy route burns 0, which a log axis
	// cannot show), logarithmic above, so 0.5 and 50 both stay readable.
	custom["scaleDistribution"] = obj{"type": "symlog", "log": 10, "linearThreshold": 1}
	l.add(12, 9, burn)

	l.add(12, 8, timeseries("Requests",
		"Events per second as slogate counted them (raw), and those removed by maintenance windows.",
		"reqps", nil, nil,
		target("A", `sum by (route, result) (rate(slo_requests_total{`+sel+`}[$__rate_interval]))`, "{{route}} {{result}}"),
		target("B", `sum by (route, result) (rate(slo_requests_excluded_total{`+sel+`}[$__rate_interval]))`, "{{route}} excluded {{result}}")))
	l.add(6, 8, stat("Budget exhausted in",
		"Time until the remaining budget reaches 0 at the 5m burn rate, per route, objective and kind (slo / sla). Empty: nothing burns.",
		"s", thresholds("red", 3600, "orange", 86400, "green"),
		target("A", `slo_error_budget_exhaustion_seconds{`+sel+`}`, "{{route}} {{slo}} {{kind}}")))
	st := obj{
		"type":        "state-timeline",
		"title":       "Release state and maintenance",
		"description": "Release state from the internal budget (ship / caution / freeze), and maintenance windows.",
		"datasource":  ds,
		"targets": []obj{
			target("A", `max by (route, slo) (slo_release_state{state="caution", `+sel+`}) + 2 * max by (route, slo) (slo_release_state{state="freeze", `+sel+`})`, "{{route}} {{slo}} release"),
			target("B", `max by (route, slo) (slo_maintenance_active{`+sel+`})`, "{{route}} {{slo}} maintenance"),
		},
		"fieldConfig": obj{
			"defaults": obj{
				"mappings": releaseMappings,
				"color":    obj{"mode": "thresholds"},
				"custom":   obj{"fillOpacity": 80, "lineWidth": 0},
			},
			"overrides": []obj{{
				"matcher": obj{"id": "byFrameRefID", "options": "B"},
				"properties": []obj{{"id": "mappings", "value": []obj{{
					"type": "value",
					"options": obj{
						"0": obj{"text": "-", "color": "transparent", "index": 0},
						"1": obj{"text": "maintenance", "color": "blue", "index": 1},
					},
				}}}},
			}},
		},
		"options": obj{"showValue": "never", "mergeValues": true, "rowHeight": 0.8, "legend": obj{"showLegend": false}},
	}
	l.add(6, 8, st)
}

func burndown(l *layout) {
	l.row("Error budget burn-down")
	// The burn-down is about the compliance period, not the last hours:
	// these panels show 30 days whatever the dashboard's range (timeFrom).
	ratio := timeseries("Error budget remaining",
		"1 - consumed / allowed over the compliance window, per route, objective and kind (slo = internal, sla = contract). 0: budget spent; below 0: overspent. Last 30 days.",
		"percentunit", budgetThresholds, nil,
		target("A", `slo_error_budget_remaining_ratio{`+sel+`}`, "{{route}} {{slo}} {{kind}}"))
	ratio["timeFrom"] = "30d"
	ratio["fieldConfig"].(obj)["defaults"].(obj)["custom"].(obj)["thresholdsStyle"] = obj{"mode": "line+area"}
	l.add(12, 9, ratio)
	secs := timeseries("Error budget remaining as time",
		"Remaining budget as time at full outage: remaining ratio x (1 - objective) x window length. Last 30 days.",
		"s", thresholds("red", 0, "green"), nil,
		target("A", `slo_error_budget_remaining_seconds{`+sel+`}`, "{{route}} {{slo}} {{kind}}"))
	secs["timeFrom"] = "30d"
	l.add(12, 9, secs)
}

// self is a collapsed row with slogate's own health, for "are the numbers
// above current?" without leaving the dashboard.
func self(l *layout) {
	r := l.collapsedRow("slogate itself")
	r.add(8, 7, timeseries("Writes by status",
		"Remote writes answered by slogate, by path class and status. 204: forwarded and accepted.",
		"reqps", nil, nil,
		target("A", `sum by (path, code) (rate(slogate_http_requests_total{path=~".*write"}[$__rate_interval]))`, "{{path}} {{code}}")))
	r.add(8, 7, timeseries("Upstream errors and rejected writes",
		"Upstream errors (503 to the sender, retried; 4xx passed through, dropped) and writes slogate refused itself.",
		"reqps", nil, nil,
		target("A", `sum by (reason) (rate(slogate_upstream_errors_total[$__rate_interval]))`, "upstream {{reason}}"),
		target("B", `sum by (reason) (rate(slogate_write_rejected_total[$__rate_interval]))`, "rejected {{reason}}")))
	r.add(8, 7, timeseries("Upstream write latency",
		"99th percentile and mean of the forwarded write's round trip to VictoriaMetrics.",
		"s", nil, nil,
		// vmrange buckets: the histogram of the VictoriaMetrics/metrics package.
		target("A", `histogram_quantile(0.99, sum by (vmrange) (rate(slogate_upstream_request_duration_seconds_bucket[$__rate_interval])))`, "p99"),
		target("B", `sum(rate(slogate_upstream_request_duration_seconds_sum[$__rate_interval])) / sum(rate(slogate_upstream_request_duration_seconds_count[$__rate_interval]))`, "mean")))
	r.add(12, 7, timeseries("SLI samples counted",
		"Samples of recognised SLI series per second, and series over the label limits (forwarded, not counted).",
		"short", nil, nil,
		target("A", `sum(rate(slogate_sli_samples_total[$__rate_interval]))`, "SLI samples/s"),
		target("B", `sum(rate(slogate_sli_series_refused_total[$__rate_interval]))`, "refused series/s")))
	r.add(12, 7, timeseries("Synthetic series writes",
		"Blocks of slo_* series written, pending (upstream unavailable) and dropped.",
		"short", nil, nil,
		target("A", `sum(rate(slogate_synthetic_blocks_written_total[$__rate_interval]))`, "written/s"),
		target("B", `sum(slogate_synthetic_blocks_pending)`, "pending"),
		target("C", `sum(increase(slogate_synthetic_blocks_dropped_total[$__rate_interval]))`, "dropped")))
}

func target(ref, expr, legend string) obj {
	return obj{"datasource": ds, "refId": ref, "expr": expr, "legendFormat": legend, "range": true, "instant": false}
}

// thresholds builds absolute threshold steps from a colour, then
// value/colour pairs: thresholds("red", 0, "green") is red below 0.
func thresholds(base string, rest ...any) obj {
	steps := []obj{{"color": base, "value": nil}}
	for i := 0; i+1 < len(rest); i += 2 {
		steps = append(steps, obj{"value": rest[i], "color": rest[i+1]})
	}
	return obj{"mode": "absolute", "steps": steps}
}

func stat(title, desc, unit string, th obj, targets ...obj) obj {
	return obj{
		"type": "stat", "title": title, "description": desc, "datasource": ds,
		"targets": targets,
		"fieldConfig": obj{
			"defaults":  obj{"unit": unit, "thresholds": th, "color": obj{"mode": "thresholds"}, "noValue": "no data", "decimals": 1},
			"overrides": []obj{},
		},
		"options": obj{
			"reduceOptions": obj{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "background", "graphMode": "none", "justifyMode": "auto",
			"orientation": "auto", "textMode": "value_and_name", "wideLayout": true,
		},
	}
}

func timeseries(title, desc, unit string, th obj, overrides []obj, targets ...obj) obj {
	if th == nil {
		th = thresholds("green")
	}
	if overrides == nil {
		overrides = []obj{}
	}
	return obj{
		"type": "timeseries", "title": title, "description": desc, "datasource": ds,
		"targets": targets,
		"fieldConfig": obj{
			"defaults": obj{
				"unit": unit, "thresholds": th, "color": obj{"mode": "palette-classic"},
				"custom": obj{
					"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0,
					"showPoints": "never", "spanNulls": false,
					"thresholdsStyle": obj{"mode": "off"},
				},
			},
			"overrides": overrides,
		},
		"options": obj{
			"legend":  obj{"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []string{"lastNotNull"}},
			"tooltip": obj{"mode": "multi", "sort": "desc"},
		},
	}
}

// layout places panels left to right on Grafana's 24-column grid and
// numbers them.
type layout struct {
	panels []obj
	nextID int
	x, y   int
	rowH   int // height of the tallest panel in the current line
}

func (l *layout) id() int { l.nextID++; return l.nextID }

func (l *layout) newline() {
	if l.x > 0 {
		l.y += l.rowH
	}
	l.x, l.rowH = 0, 0
}

func (l *layout) row(title string) {
	l.newline()
	l.panels = append(l.panels, obj{
		"type": "row", "title": title, "id": l.id(), "collapsed": false, "panels": []obj{},
		"gridPos": obj{"x": 0, "y": l.y, "w": 24, "h": 1},
	})
	l.y++
}

func (l *layout) add(w, h int, p obj) {
	l.place(&l.panels, w, h, p)
}

func (l *layout) place(dst *[]obj, w, h int, p obj) {
	if l.x+w > 24 {
		l.newline()
	}
	p["id"] = l.id()
	p["gridPos"] = obj{"x": l.x, "y": l.y, "w": w, "h": h}
	l.x += w
	l.rowH = max(l.rowH, h)
	*dst = append(*dst, p)
}

// collapsedRow starts a collapsed row: its panels live inside the row
// panel, positioned as if it were expanded.
func (l *layout) collapsedRow(title string) *rowLayout {
	l.newline()
	r := obj{
		"type": "row", "title": title, "id": l.id(), "collapsed": true,
		"gridPos": obj{"x": 0, "y": l.y, "w": 24, "h": 1},
	}
	l.y++
	rl := &rowLayout{l: l, row: r}
	l.panels = append(l.panels, r)
	r["panels"] = []obj{}
	return rl
}

type rowLayout struct {
	l   *layout
	row obj
}

func (r *rowLayout) add(w, h int, p obj) {
	inner := r.row["panels"].([]obj)
	r.l.place(&inner, w, h, p)
	r.row["panels"] = inner
}
