package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/slo"
)

func TestParseConfigExample(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("testdata", "example.yml"))
	if err != nil {
		t.Fatalf("cannot load example: %v", err)
	}
	var names []string
	for _, s := range cfg.Sources {
		names = append(names, s.Name)
	}
	if want := []string{"ingress-nginx", "traefik-service", "istio", "ingress-nginx-latency", "api-gateway", "checkout-latency"}; !slices.Equal(names, want) {
		t.Fatalf("sources: got %v, want %v", names, want)
	}
	lat := cfg.Sources[3]
	if lat.Kind != budget.Latency || lat.LE != 0.5 || lat.MaxRoutes != 2000 {
		t.Fatalf("latency preset: got %+v", lat)
	}
	gw := cfg.Sources[4]
	if !gw.Bad.MatchString("429") || !gw.Bad.MatchString("503") || gw.Bad.MatchString("4290") || gw.MaxRoutes != 5000 {
		t.Fatalf("api-gateway bad/maxRoutes wrong: %v %d", gw.Bad, gw.MaxRoutes)
	}
	if !gw.Filter["env"].MatchString("prod") || gw.Filter["env"].MatchString("preprod") {
		t.Fatalf("api-gateway filter not anchored: %v", gw.Filter["env"])
	}
	if cl := cfg.Sources[5]; cl.Kind != budget.Latency || cl.LE != 0.3 || cl.Bad != nil {
		t.Fatalf("checkout-latency: got %+v", cl)
	}
	if len(cfg.Contracts) != 2 || len(cfg.Objectives) != 4 || len(cfg.Maintenance) != 3 {
		t.Fatalf("got %d contracts, %d objectives, %d maintenance windows", len(cfg.Contracts), len(cfg.Objectives), len(cfg.Maintenance))
	}
	if cfg.Release != (slo.ReleasePolicy{Caution: 0.25, FreezeBurnRate1h: 14.4}) {
		t.Fatalf("release: got %+v", cfg.Release)
	}
	if len(cfg.Objectives[0].Credits) != 2 || len(cfg.Services) != 1 || cfg.Services[0].Objective.Window.Label() != "year" ||
		!cfg.Services[0].Objective.Slices.Enabled() {
		t.Fatalf("credits or services: %+v %+v", cfg.Objectives[0], cfg.Services)
	}
	if s := cfg.Sloth; s.Service != "{customer}" || s.SLO != "{slo}" || len(s.Labels) != 1 || s.AlertName != "SLOErrorBudgetBurnRate" ||
		len(s.PageLabels) != 1 || len(s.TicketLabels) != 1 {
		t.Fatalf("sloth: %+v", s)
	}
	for _, m := range cfg.Maintenance {
		if m.Source != maintenance.FromConfig || !strings.HasPrefix(m.ID, "config-") {
			t.Fatalf("maintenance source/id: %q %q", m.Source, m.ID)
		}
	}
	// IDs are stable across reloads.
	again, _ := LoadConfig(filepath.Join("testdata", "example.yml"))
	if again.Maintenance[1].ID != cfg.Maintenance[1].ID || cfg.Maintenance[0].ID == cfg.Maintenance[1].ID {
		t.Fatalf("maintenance IDs not stable or not distinct")
	}
}

func TestDefaultConfig(t *testing.T) {
	for _, cfg := range []*Config{DefaultConfig(), mustParse(t, ""), mustParse(t, "# nothing\n"), mustParse(t, "presets:\n")} {
		if len(cfg.Sources) != 7 || len(cfg.Contracts) != 0 || len(cfg.Objectives) != 0 || len(cfg.Maintenance) != 0 {
			t.Fatalf("unexpected default config: %+v", cfg)
		}
		for _, s := range cfg.Sources {
			if s.Kind != budget.Availability {
				t.Fatalf("default source %s is not an availability source", s.Name)
			}
		}
		if cfg.Release != (slo.ReleasePolicy{Caution: 0.25, FreezeBurnRate1h: 14.4}) {
			t.Fatalf("release: %+v", cfg.Release)
		}
		src := cfg.Sources[0]
		o := cfg.Resolve(&src, []budget.Label{{Name: "host", Value: "x"}})
		if o.Name != "availability" || o.SLO != 0.999 || o.SLA != 0 || o.Window.Label() != "30d" || o.Contract != nil {
			t.Fatalf("default objective: %+v", o)
		}
	}
	if cfg := mustParse(t, "presets: []\n"); len(cfg.Sources) != 0 {
		t.Fatalf("presets: [] must enable nothing, got %d sources", len(cfg.Sources))
	}
}

func mustParse(t *testing.T, yml string) *Config {
	t.Helper()
	cfg, err := ParseConfig("slogate.yml", []byte(yml))
	if err != nil {
		t.Fatalf("cannot parse %q: %v", yml, err)
	}
	return cfg
}

func TestParseConfigSloth(t *testing.T) {
	if got := DefaultConfig().Sloth; got.AlertName != DefaultSlothAlertName || got.Service != "" || got.Labels != nil {
		t.Errorf("default sloth block %+v", got)
	}
	cfg := mustParse(t, "sloth:\n  service: \"{customer}\"\n  slo: \"{slo}-{host}\"\n  labels: {tier: \"2\", owner: team-a}\n  alertName: ShopHighErrorRate\n  pageLabels: {severity: critical}\n  ticketLabels: {severity: warning}\n")
	s := cfg.Sloth
	if s.Service != "{customer}" || s.SLO != "{slo}-{host}" || s.AlertName != "ShopHighErrorRate" ||
		!slices.Equal(s.Labels, []budget.Label{{Name: "owner", Value: "team-a"}, {Name: "tier", Value: "2"}}) ||
		!slices.Equal(s.PageLabels, []budget.Label{{Name: "severity", Value: "critical"}}) ||
		!slices.Equal(s.TicketLabels, []budget.Label{{Name: "severity", Value: "warning"}}) {
		t.Errorf("sloth block %+v", s)
	}
}

func TestParseConfigErrors(t *testing.T) {
	f := func(yml, want string) {
		t.Helper()
		_, err := ParseConfig("slogate.yml", []byte(yml))
		if err == nil {
			t.Fatalf("no error for\n%s", yml)
		}
		if err.Error() != want {
			t.Fatalf("wrong error for\n%s\ngot  %s\nwant %s", yml, err, want)
		}
	}
	// Syntax and structure.
	f("presets: [\n", "slogate.yml:1: invalid YAML: did not find expected node content")
	f("hello\n", `slogate.yml:1: must be a mapping, got "hello"`)
	f("preset: [istio]\n", "slogate.yml:1: preset: unknown field; known: presets, sources, contracts, objectives, services, release, maintenance, sloth")
	f("release: {caution: 0.1}\nrelease: {caution: 0.2}\n", "slogate.yml:2: release: given twice")
	f("objectives: {slo: 0.9}\n", "slogate.yml:1: objectives: must be a list, got a mapping")
	// Sloth.
	f("sloth: {service: \"{customer\"}\n", `slogate.yml:1: sloth.service: must be text with {label} placeholders, got "{customer"`)
	f("sloth: {slo: \"{a-b}\"}\n", `slogate.yml:1: sloth.slo: must be text with {label} placeholders, got "{a-b}"`)
	f("sloth: {alertName: \"a b\"}\n", `slogate.yml:1: sloth.alertName: must be a Prometheus alert name ([a-zA-Z_][a-zA-Z0-9_]*), got "a b"`)
	f("sloth: {labels: {sloth_x: y}}\n", "slogate.yml:1: sloth.labels.sloth_x: sloth_x is set by slogate")
	f("sloth: {labels: {route: y}}\n", "slogate.yml:1: sloth.labels.route: route is set by slogate")
	f("sloth: {pageLabels: {alertname: y}}\n", "slogate.yml:1: sloth.pageLabels.alertname: alertname is set by slogate")
	f("sloth: {owner: x}\n", "slogate.yml:1: sloth.owner: unknown field; known: service, slo, labels, alertName, pageLabels, ticketLabels")
	// Presets.
	f("presets: [nginx]\n", `slogate.yml:1: presets[0]: unknown preset "nginx"; known: ingress-nginx, traefik-service, traefik-router, istio, envoy, haproxy, caddy, ingress-nginx-latency, traefik-service-latency, caddy-latency`)
	f("presets:\n  - istio\n  - istio\n", "slogate.yml:3: presets[1]: preset istio listed twice")
	f("presets:\n  - ingress-nginx-latency\n", "slogate.yml:2: presets[0]: latency preset ingress-nginx-latency needs a bucket boundary in seconds: {name: ingress-nginx-latency, le: 0.5}")
	f("presets:\n  - {name: istio, le: 0.5}\n", "slogate.yml:2: presets[0].le: only latency presets take le; istio is an availability preset")
	f("presets:\n  - {name: caddy-latency, le: -1}\n", "slogate.yml:2: presets[0].le: must be a bucket boundary above 0 seconds, got -1")
	f("presets:\n  - {name: caddy, maxRoutes: lots}\n", `slogate.yml:2: presets[0].maxRoutes: want an integer in 0..1000000, got "lots"`)
	// Custom sources.
	f("sources:\n  - metric: x_total\n    routeLabels: [a]\n    statusLabel: code\n", "slogate.yml:2: sources[0].name: required")
	f("sources:\n  - name: istio\n    metric: x_total\n    routeLabels: [a]\n    statusLabel: code\n", `slogate.yml:2: sources[0].name: "istio" is a built-in preset; list it under presets instead`)
	f("sources:\n  - name: gw\n    metric: 1x\n    routeLabels: [a]\n    statusLabel: code\n", `slogate.yml:3: sources[0].metric: "1x" is not a valid metric name`)
	f("sources:\n  - name: gw\n    metric: x_total\n    statusLabel: code\n", "slogate.yml:2: sources[0].routeLabels: required: the labels that identify a route")
	f("sources:\n  - name: gw\n    metric: x_total\n    routeLabels: [a, a]\n    statusLabel: code\n", "slogate.yml:4: sources[0].routeLabels[1]: a listed twice")
	f("sources:\n  - name: gw\n    metric: x_total\n    routeLabels: [a]\n", "slogate.yml:2: sources[0].statusLabel: required for availability sources (the label holding the response status)")
	f("sources:\n  - name: gw\n    metric: x_total\n    routeLabels: [a]\n    statusLabel: code\n    bad: \"5..(\"\n", `slogate.yml:6: sources[0].bad: invalid regexp "5..(": missing closing )`)
	f("sources:\n  - name: gw\n    metric: x_total\n    routeLabels: [a]\n    statusLabel: code\n    filter: {env: \"[\"}\n", `slogate.yml:6: sources[0].filter.env: invalid regexp "[": missing closing ]`)
	f("sources:\n  - name: gw\n    metric: x_seconds\n    routeLabels: [a]\n    latency: {le: 0.3}\n", "slogate.yml:3: sources[0].metric: a latency source reads histogram buckets; want a name ending in _bucket, got x_seconds")
	f("sources:\n  - name: gw\n    metric: x_bucket\n    routeLabels: [a]\n    latency: {}\n", "slogate.yml:5: sources[0].latency.le: required: the bucket boundary in seconds, e.g. 0.3")
	f("sources:\n  - name: gw\n    metric: x_bucket\n    routeLabels: [a]\n    statusLabel: code\n    latency: {le: 1}\n", "slogate.yml:2: sources[0]: statusLabel and bad are not used by latency sources; use filter to select statuses")
	f("sources:\n  - name: gw\n    metric: x_total\n    routeLabels: [a]\n    statusLabel: code\n    colour: red\n", "slogate.yml:6: sources[0].colour: unknown field; known: name, metric, routeLabels, statusLabel, bad, filter, maxRoutes, latency")
	// Contracts.
	f("contracts:\n  - match: {host: x}\n", "slogate.yml:2: contracts[0].labels: required: the contract labels to add")
	f("contracts:\n  - labels: {slo: gold}\n", "slogate.yml:2: contracts[0].labels.slo: slo is reserved: slogate sets it on synthetic series")
	f("contracts:\n  - labels: {host: x}\n", "slogate.yml:2: contracts[0].labels.host: clashes with a route label of source ingress-nginx")
	f("contracts:\n  - labels: {customer: acme}\n    match: {hots: x}\n", "slogate.yml:3: contracts[0].match.hots: no source or contract has label hots; known: destination_service_name, destination_service_namespace, envoy_cluster_name, handler, host, ingress, namespace, path, proxy, router, server, service, source")
	// Objectives.
	f("objectives:\n  - name: availability\n    slo: 99.9\n", "slogate.yml:3: objectives[0].slo: must be in (0,1), got 99.9 (targets are ratios, not percents)")
	f("objectives:\n  - slo: 1\n", "slogate.yml:2: objectives[0].slo: must be in (0,1), got 1")
	f("objectives:\n  - slo: high\n", `slogate.yml:2: objectives[0].slo: want a number, got "high"`)
	f("objectives:\n  - name: a\n", "slogate.yml:2: objectives[0].slo: required: the internal objective as a ratio, e.g. 0.999")
	f("objectives:\n  - slo: 0.999\n    sla: 0.9995\n", "slogate.yml:3: objectives[0].sla: 0.9995 exceeds slo 0.999; the internal objective is the stricter one")
	f("objectives:\n  - slo: 0.999\n    sla: 99\n", "slogate.yml:3: objectives[0].sla: must be in (0,1), or 0 for none, got 99 (targets are ratios, not percents)")
	f("objectives:\n  - slo: 0.999\n    window: 1month\n", `slogate.yml:3: objectives[0].window: invalid window "1month"; want <n>d (e.g. 30d), month, week, quarter or year`)
	f("objectives:\n  - slo: 0.999\n    window: month\n    timezone: Europe/Berlinn\n", `slogate.yml:4: objectives[0].timezone: unknown time zone "Europe/Berlinn"; want an IANA name such as Europe/Berlin`)
	f("objectives:\n  - slo: 0.999\n    kind: speed\n", `slogate.yml:3: objectives[0].kind: want availability or latency, got "speed"`)
	f("objectives:\n  - slo: 0.999\n    name: \"a b\"\n", `slogate.yml:3: objectives[0].name: "a b": want 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit`)
	f("objectives:\n  - slo: 0.999\n    match: {customer: acme}\n", "slogate.yml:3: objectives[0].match.customer: no source or contract has label customer; known: destination_service_name, destination_service_namespace, envoy_cluster_name, handler, host, ingress, namespace, path, proxy, router, server, service, source")
	f("objectives:\n  - slo: 0.999\n    match:\n      host: \"(\"\n", `slogate.yml:4: objectives[0].match.host: invalid regexp "(": missing closing )`)
	// Years, time slices and credits.
	f("objectives:\n  - slo: 0.999\n    window: 367d\n", `slogate.yml:3: objectives[0].window: `+yearErr("367d"))
	f("objectives:\n  - slo: 0.999\n    budgeting: slices\n", `slogate.yml:3: objectives[0].budgeting: want occurrences or timeslices, got "slices"`)
	f("objectives:\n  - slo: 0.999\n    slice: 5m\n", "slogate.yml:3: objectives[0].slice: only with budgeting: timeslices")
	f("objectives:\n  - slo: 0.999\n    budgeting: timeslices\n    slice: 7m\n", `slogate.yml:4: objectives[0].slice: want whole minutes from 1m to 1h that divide the hour (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h), got "7m"`)
	f("objectives:\n  - slo: 0.999\n    budgeting: timeslices\n    slice: 90s\n", `slogate.yml:4: objectives[0].slice: want whole minutes from 1m to 1h that divide the hour (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h), got "90s"`)
	f("objectives:\n  - slo: 0.999\n    budgeting: timeslices\n    sliceTarget: 99\n", "slogate.yml:4: objectives[0].sliceTarget: must be in (0,1], got 99 (targets are ratios, not percents)")
	f("objectives:\n  - slo: 0.999\n    budgeting: timeslices\n    emptySlices: bad\n", `slogate.yml:4: objectives[0].emptySlices: want good or skip, got "bad"`)
	f("objectives:\n  - slo: 0.999\n    credits: [{below: 0.99, percent: 10}]\n", "slogate.yml:3: objectives[0].credits: credits need an sla: the tiers are checked against the SLA availability")
	f("objectives:\n  - slo: 0.999\n    sla: 0.99\n    credits: [{below: 99, percent: 10}]\n", "slogate.yml:4: objectives[0].credits[0].below: must be in (0,1], got 99 (targets are ratios, not percents)")
	f("objectives:\n  - slo: 0.999\n    sla: 0.99\n    credits: [{below: 0.9, percent: 0}]\n", "slogate.yml:4: objectives[0].credits[0].percent: must be in (0,100], got 0")
	f("objectives:\n  - slo: 0.999\n    sla: 0.99\n    credits: [{percent: 10}]\n", "slogate.yml:4: objectives[0].credits[0].below: required: the SLA availability under which the tier applies, e.g. 0.999")
	f("objectives:\n  - slo: 0.999\n    sla: 0.99\n    credits: [{below: 0.9, percent: 10, cap: 1}]\n", "slogate.yml:4: objectives[0].credits[0].cap: unknown field; known: below, percent")
	// Services.
	f("services:\n  - slo: 0.999\n", "slogate.yml:2: services[0].name: required")
	f("services:\n  - name: \"a b\"\n    slo: 0.999\n", `slogate.yml:2: services[0].name: "a b": want 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit`)
	f("services:\n  - name: a\n    slo: 0.999\n  - name: a\n    slo: 0.99\n", "slogate.yml:4: services[1].name: service a defined twice")
	f("services:\n  - name: a\n", "slogate.yml:2: services[0].slo: required: the internal objective as a ratio, e.g. 0.999")
	f("services:\n  - name: a\n    slo: 0.999\n    sla: 0.9999\n", "slogate.yml:4: services[0].sla: 0.9999 exceeds slo 0.999; the internal objective is the stricter one")
	f("services:\n  - name: a\n    slo: 0.999\n    match: {customer: x}\n", "slogate.yml:4: services[0].match.customer: no source or contract has label customer; known: destination_service_name, destination_service_namespace, envoy_cluster_name, handler, host, ingress, namespace, path, proxy, router, server, service, source")
	f("services:\n  - name: a\n    slo: 0.999\n    by: [customer]\n", "slogate.yml:4: services[0].by[0]: no source or contract has label customer")
	f("services:\n  - name: a\n    slo: 0.999\n    by: [host, host]\n", "slogate.yml:4: services[0].by[1]: host listed twice")
	f("services:\n  - name: a\n    slo: 0.999\n    by: [service]\n", "slogate.yml:4: services[0].by[0]: service is reserved: slogate sets it on a service's series")
	f("services:\n  - name: a\n    slo: 0.999\n    by: [slo]\n", "slogate.yml:4: services[0].by[0]: slo is reserved: slogate sets it on a service's series")
	f("services:\n  - name: a\n    slo: 0.999\n    window: month\n    timezone: Mars/Base\n", `slogate.yml:5: services[0].timezone: unknown time zone "Mars/Base"; want an IANA name such as Europe/Berlin`)
	f("services:\n  - name: a\n    slo: 0.999\n    colour: red\n", "slogate.yml:4: services[0].colour: unknown field; known: name, match, by, slo, sla, window, timezone, budgeting, slice, sliceTarget, emptySlices, credits")
	f("services: {name: a}\n", "slogate.yml:1: services: must be a list, got a mapping")
	// Release.
	f("release:\n  caution: 25\n", "slogate.yml:2: release.caution: must be in [0,1), got 25 (targets are ratios, not percents)")
	f("release:\n  freezeBurnRate1h: 0\n", "slogate.yml:2: release.freezeBurnRate1h: must be a burn rate above 0, got 0")
	// Maintenance: maintenance.New's field errors get the field's line.
	f("maintenance:\n  - start: 2026-11-24T03:00:00Z\n    end: 2026-11-24T02:00:00Z\n", "slogate.yml:3: maintenance[0].end: must be after start")
	f("maintenance:\n  - start: 2026-11-24T03:00:00Z\n    end: 2026-11-24T04:00:00Z\n    match:\n      host: \"a(\"\n", `slogate.yml:5: maintenance[0].match.host: invalid regexp "a(": missing closing )`)
	f("maintenance:\n  - start: 2026-11-24T03:00:00Z\n    end: 2026-11-24T04:00:00Z\n    match: {hots: a}\n", "slogate.yml:4: maintenance[0].match.hots: no source or contract has label hots")
	f("maintenance:\n  - start: 2026-01-06T02:00:00\n    rrule: FREQ=WEEKLY;BYHOUR=2\n    duration: 2h\n    timezone: Europe/Berlin\n", "slogate.yml:3: maintenance[0].rrule: BYHOUR is not supported; supported parts: FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL, WKST")
	f("maintenance:\n  - end: 2026-11-24T04:00:00Z\n", "slogate.yml:2: maintenance[0].start: required")
	// Times are limited to a range every stored window reads back from.
	f("maintenance:\n  - start: 9999-12-31T23:00:00Z\n    duration: 2h\n", "slogate.yml:2: maintenance[0].start: 9999-12-31T23:00:00Z is out of range: times must be from 1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z")
	f("maintenance:\n  - start: 2199-12-31T23:00:00Z\n    duration: 2h\n", "slogate.yml:3: maintenance[0].duration: start plus duration: 2200-01-01T01:00:00Z is out of range: times must be from 1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z")
	f("maintenance:\n  - {start: 2026-11-24T03:00:00Z, duration: 1h}\n  - {start: 2026-11-24T03:00:00Z, duration: 1h}\n", "slogate.yml:3: maintenance[1]: the same window as maintenance[0]")
	// Several errors are all reported, one per line.
	f("objectives:\n  - slo: 2\n  - slo: 0\n", "slogate.yml:2: objectives[0].slo: must be in (0,1), got 2 (targets are ratios, not percents)\nslogate.yml:3: objectives[1].slo: must be in (0,1), got 0")
}

// yearErr is slo.ParseWindow's message for a window it refuses.
func yearErr(w string) string {
	_, err := slo.ParseWindow(w, "")
	return err.Error()
}

func TestParseConfigServicesAndSlices(t *testing.T) {
	cfg := mustParse(t, `
contracts:
  - labels: {customer: acme, contract: acme-gold}
    match: {host: ".*\\.acme\\.com"}
objectives:
  - name: gold
    match: {customer: acme}
    slo: 0.9995
    sla: 0.999
    window: year
    timezone: Asia/Kolkata
    budgeting: timeslices
    credits: [{below: 0.999, percent: 10}, {below: 0.99, percent: 25}]
  - slo: 0.99
    window: 366d
    budgeting: timeslices
    slice: 1h
    sliceTarget: 1
    emptySlices: skip
services:
  - name: platform
    match: {customer: ".+"}
    by: [customer, contract]
    slo: 0.9995
    sla: 0.999
    window: quarter
    timezone: Europe/Berlin
    budgeting: timeslices
    slice: 10m
    sliceTarget: 0.95
    credits:
      - {below: 0.999, percent: 10}
  - name: everything
    slo: 0.999
`)
	src := &cfg.Sources[0]
	o := cfg.Resolve(src, []budget.Label{{Name: "namespace", Value: "a"}, {Name: "host", Value: "shop.acme.com"}})
	if o.Name != "gold" || o.Window.Label() != "year" || o.Window.Location.String() != "Asia/Kolkata" ||
		o.Slices != (slo.Slices{Length: 5 * time.Minute, Target: 0.99}) ||
		!slices.Equal(o.Credits, []slo.Credit{{Below: 0.999, Percent: 10}, {Below: 0.99, Percent: 25}}) {
		t.Fatalf("gold objective: %+v", o)
	}
	o = cfg.Resolve(src, []budget.Label{{Name: "namespace", Value: "a"}, {Name: "host", Value: "example.org"}})
	if o.Window.Label() != "366d" || o.Slices != (slo.Slices{Length: time.Hour, Target: 1, SkipEmpty: true}) || o.Credits != nil {
		t.Fatalf("second objective: %+v", o)
	}
	if len(cfg.Services) != 2 {
		t.Fatalf("services: %+v", cfg.Services)
	}
	p := cfg.Services[0]
	if p.Name != "platform" || !slices.Equal(p.By, []string{"customer", "contract"}) || p.Objective.Name != "platform" ||
		p.Objective.SLO != 0.9995 || p.Objective.SLA != 0.999 || p.Objective.Window.Label() != "quarter" ||
		p.Objective.Window.Location.String() != "Europe/Berlin" ||
		p.Objective.Slices != (slo.Slices{Length: 10 * time.Minute, Target: 0.95}) || len(p.Objective.Credits) != 1 {
		t.Fatalf("platform: %+v", p)
	}
	acme := []budget.Label{{Name: "customer", Value: "acme"}}
	if !p.Match.Match(nil, acme, "ingress-nginx") || p.Match.Match(nil, nil, "ingress-nginx") {
		t.Fatalf("platform's match: %+v", p.Match)
	}
	e := cfg.Services[1]
	if e.Name != "everything" || e.Match != nil || e.By != nil || e.Objective.Window.Label() != "30d" || e.Objective.Slices.Enabled() {
		t.Fatalf("everything: %+v", e)
	}
}

func TestParseConfigAliasBomb(t *testing.T) {
	// 500 sources aliasing one source whose routeLabels alias a list of 500
	// labels: a 10 kB file that expands to 250,000 nodes.
	var b strings.Builder
	b.WriteString("x-labels: &l [")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "l%d, ", i)
	}
	b.WriteString("l]\nx-source: &s {name: gw, metric: x_total, routeLabels: *l, statusLabel: code}\nsources: [")
	for i := 0; i < 500; i++ {
		b.WriteString("*s, ")
	}
	b.WriteString("*s]\n")
	start := time.Now()
	_, err := ParseConfig("bomb.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "too complex: more than 100000 YAML nodes") || time.Since(start) > 5*time.Second {
		t.Fatalf("alias bomb: after %s: %v", time.Since(start), err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yml")); err == nil || !strings.HasPrefix(err.Error(), "cannot open config: ") {
		t.Fatalf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "big.yml")
	if err := os.WriteFile(p, make([]byte, maxConfigSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.HasSuffix(err.Error(), "big.yml: too large: more than 4194304 bytes") {
		t.Fatalf("big file: %v", err)
	}
}

func TestResolve(t *testing.T) {
	cfg := mustParse(t, `
contracts:
  - labels: {customer: acme, contract: acme-gold}
    match: {host: "shop\\.acme\\.com|api\\.acme\\.com"}
  - labels: {customer: acme, contract: acme-any}
    match: {host: ".*\\.acme\\.com"}
  - labels: {customer: traefik-users}
    match: {source: traefik-service}
objectives:
  - name: gold
    match: {contract: acme-gold}
    slo: 0.9995
    sla: 0.999
    window: month
    timezone: Europe/Berlin
  - name: latency-fast
    kind: latency
    slo: 0.99
  - name: acme
    match: {customer: acme}
    slo: 0.999
    window: 7d
  - name: gold-again
    match: {contract: acme-gold}
    slo: 0.5
  - name: internal
    match: {namespace: "", host: ""}
    slo: 0.9
presets:
  - ingress-nginx
  - traefik-service
  - {name: ingress-nginx-latency, le: 0.25}
`)
	nginx, traefik, latency := &cfg.Sources[0], &cfg.Sources[1], &cfg.Sources[2]
	f := func(src *budget.Source, route []budget.Label, wantName string, wantSLO float64, wantWindow string, wantContract string) {
		t.Helper()
		o := cfg.Resolve(src, route)
		var contract []string
		for _, l := range o.Contract {
			contract = append(contract, l.Name+"="+l.Value)
		}
		got := strings.Join(contract, ",")
		if o.Name != wantName || o.SLO != wantSLO || o.Window.Label() != wantWindow || got != wantContract {
			t.Fatalf("Resolve(%s, %v) = %s %v %s {%s}, want %s %v %s {%s}", src.Name, route, o.Name, o.SLO, o.Window.Label(), got, wantName, wantSLO, wantWindow, wantContract)
		}
	}
	host := func(h string) []budget.Label {
		return []budget.Label{{Name: "namespace", Value: "shop"}, {Name: "host", Value: h}}
	}
	// The first contract wins over the broader second one, and the first objective over "gold-again".
	f(nginx, host("shop.acme.com"), "gold", 0.9995, "month", "contract=acme-gold,customer=acme")
	// Anchored: a host that merely contains the pattern does not match the first contract.
	f(nginx, host("evilshop.acme.com"), "acme", 0.999, "7d", "contract=acme-any,customer=acme")
	f(nginx, host("shop.acme.com.evil.org"), "availability", 0.999, "30d", "")
	// Kind restricts a rule; the latency source gets the latency rule despite its contract.
	f(latency, host("shop.acme.com"), "gold", 0.9995, "month", "contract=acme-gold,customer=acme")
	f(latency, host("example.org"), "latency-fast", 0.99, "30d", "")
	// `source` takes part in contract matching.
	f(traefik, []budget.Label{{Name: "service", Value: "web@kubernetes"}}, "internal", 0.9, "30d", "customer=traefik-users")
	// Absent labels match as "".
	f(nginx, nil, "internal", 0.9, "30d", "")
	// Default objective carries the kind name.
	f(nginx, []budget.Label{{Name: "namespace", Value: "x"}, {Name: "host", Value: "example.org"}}, "availability", 0.999, "30d", "")

	// The contract slice belongs to the caller.
	o := cfg.Resolve(nginx, host("shop.acme.com"))
	o.Contract[0].Value = "mutated"
	if cfg.Contracts[0].Labels[0].Value != "acme-gold" {
		t.Fatalf("Resolve shares the contract slice with the config")
	}
	if got := cfg.ContractLabels(nil, host("api.acme.com")); len(got) != 2 || got[0].Value != "acme-gold" {
		t.Fatalf("ContractLabels: %v", got)
	}
	if loc := cfg.Objectives[0].Window.Location; loc == nil || loc.String() != "Europe/Berlin" {
		t.Fatalf("calendar window location: %v", loc)
	}
}

func BenchmarkResolve(b *testing.B) {
	cfg, err := LoadConfig(filepath.Join("testdata", "example.yml"))
	if err != nil {
		b.Fatal(err)
	}
	src := &cfg.Sources[0]
	route := []budget.Label{{Name: "namespace", Value: "shop"}, {Name: "ingress", Value: "web"}, {Name: "host", Value: "www.example.org"}, {Name: "path", Value: "/"}}
	b.ReportAllocs()
	for b.Loop() {
		cfg.Resolve(src, route)
	}
}

func FuzzParseConfig(f *testing.F) {
	example, _ := os.ReadFile(filepath.Join("testdata", "example.yml"))
	f.Add(string(example))
	f.Add("presets: [istio, {name: caddy-latency, le: 0.1}]\nobjectives:\n  - {slo: 0.9, window: week, timezone: Asia/Tokyo}\n")
	f.Add("a: &a [1]\nb: *a\nmaintenance: [{rrule: 'FREQ=MONTHLY;BYDAY=-1FR', start: '2026-01-30T02:00', duration: 1h, timezone: UTC}]\n")
	f.Add("contracts: [{labels: {c: d}, match: {host: '('}}]\n")
	f.Fuzz(func(t *testing.T, yml string) {
		cfg, err := ParseConfig("fuzz.yml", []byte(yml))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for i := range cfg.Sources {
			cfg.Resolve(&cfg.Sources[i], []budget.Label{{Name: "host", Value: "x"}})
		}
		for _, m := range cfg.Maintenance {
			m.AppendIntervals(nil, 1767225600000, 1767225600000+90*86400000)
		}
	})
}
