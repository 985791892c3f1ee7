// Package config reads slogate's configuration file (-config): YAML with
// file:line errors, the built-in SLI presets, contracts, objectives, the
// release policy and maintenance windows declared in the file. It turns
// them into the values package budget and package maintenance work with.
//
// It reads one file and nothing else: no network, no state; it must not
// import the HTTP packages (proxy, ui, vmclient) or store.
package config

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/slo"
)

// Config is slogate's configuration file (-config), parsed and validated.
// Without a file slogate runs DefaultConfig. The file is YAML; every key is
// optional, unknown keys are errors, and every error names file, line and
// field, e.g.
//
//	slogate.yml:12: objectives[1].slo: must be in (0,1), got 99.9 (targets are ratios, not percents)
//
// The shape (config/testdata/example.yml is a complete example):
//
//	presets:            # built-in sources to enable; default: every availability preset
//	  - ingress-nginx   # by name (see PresetNames), or with options:
//	  - {name: ingress-nginx-latency, le: 0.5, maxRoutes: 2000}
//	                    # le (seconds) is required for latency presets
//	sources:            # custom sources
//	  - name: api-gateway            # value of the label `source`; [A-Za-z0-9._-], not a preset name
//	    metric: gw_requests_total    # metric name the source reads
//	    routeLabels: [service, route]
//	    statusLabel: code            # required for availability sources
//	    bad: "5..|429"               # bad statuses; default "5.."
//	    filter: {env: "prod"}        # series must match (absent label = "")
//	    maxRoutes: 5000              # routes per tenant; default 10000
//	  - name: checkout-latency       # a latency source: histogram buckets
//	    metric: http_request_duration_seconds_bucket
//	    routeLabels: [service]
//	    latency: {le: 0.3}           # good = answered within 0.3 s
//	contracts:          # first match wins; adds contract labels to a route
//	  - labels: {customer: acme, contract: acme-gold}
//	    match: {host: "shop\\.acme\\.com|api\\.acme\\.com"}
//	objectives:         # first match wins; none matches: DefaultObjective
//	  - name: availability           # label `slo`; default: the SLI kind
//	    kind: availability           # only sources of this kind; default any
//	    match: {customer: acme}      # over route labels, contract labels and `source`
//	    slo: 0.9995                  # internal objective, a ratio in (0,1)
//	    sla: 0.999                   # contractual objective, optional, at most slo
//	    window: month                # <n>d (rolling, up to 366d) or week, month, quarter, year (calendar)
//	    timezone: Europe/Berlin      # calendar boundaries; default UTC
//	    budgeting: timeslices        # or occurrences (request-based), the default
//	    slice: 5m                    # slice length: 1m..1h dividing the hour; default 5m
//	    sliceTarget: 0.99            # a slice is good when good/total >= 0.99 (the default)
//	    emptySlices: good            # slices without events: good (default) or skip
//	    credits:                     # service-credit tiers of the SLA; need sla
//	      - {below: 0.999, percent: 10}   # SLA availability below 0.999: 10% of the fee
//	      - {below: 0.99, percent: 25}
//	services:           # service-level objectives: sums of the routes they match
//	  - name: platform               # label `service`; [A-Za-z0-9._-], unique
//	    match: {customer: ".+"}      # over route labels, contract labels and `source`
//	    by: [customer, contract]     # one SLI per distinct value set
//	    slo: 0.9995                  # then every key of objectives from slo on
//	    sla: 0.999
//	    window: year
//	    timezone: Europe/Berlin
//	    budgeting: timeslices
//	release: {caution: 0.25, freezeBurnRate1h: 14.4}
//	sloth:              # Sloth-compatible series (-compat.sloth) and alerts (slogate sloth rules)
//	  service: "{customer}"          # sloth_service: {label} placeholders; default: route or service name
//	  slo: "{slo}-{host}"            # sloth_slo; default: the objective name
//	  labels: {owner: team-a}        # added to every Sloth series, as a Sloth spec's labels
//	  alertName: ShopHighErrorRate   # default SLOErrorBudgetBurnRate
//	  pageLabels: {severity: page}   # added to the page alert
//	  ticketLabels: {severity: ticket}
//	maintenance:        # windows from the file (maintenance.Spec fields)
//	  - {start: 2026-11-24T02:00:00Z, end: 2026-11-24T03:00:00Z,
//	     match: {host: "shop\\.acme\\.com"}, reason: db upgrade}
//	  - {rrule: "FREQ=WEEKLY;BYDAY=TU", start: 2026-01-06T02:00:00,
//	     duration: 2h, timezone: Europe/Berlin, match: {customer: acme}}
//
// All match, filter and bad values are regular expressions anchored at both
// ends. A Config is immutable after parsing and safe for concurrent use.
type Config struct {
	// Sources are the enabled SLI sources: presets in the order listed,
	// then custom sources in file order.
	Sources []budget.Source
	// Contracts attach contract labels to routes; the first match wins.
	Contracts []ContractRule
	// Objectives assign objectives to routes; the first match wins.
	Objectives []ObjectiveRule
	// Services are the service-level objectives, in file order; each
	// Objective is named after its service.
	Services []budget.Service
	// Release turns the internal budget into ship / caution / freeze.
	Release slo.ReleasePolicy
	// Maintenance holds the windows of the file, Source "config", with IDs
	// derived from their content ("config-<hash>"), stable across reloads.
	Maintenance []*maintenance.Window
	// Sloth names the Sloth-compatible series (-compat.sloth) and their
	// alert rules (slogate sloth rules).
	Sloth Sloth
}

// Sloth is the file's sloth block.
type Sloth struct {
	// Service and SLO are templates of sloth_service and sloth_slo: text
	// with {label} placeholders (a route's identity and contract labels,
	// route, source, slo; a service's service, slo and By labels). ""
	// means the route or service name, and the objective name.
	Service, SLO string
	// Labels are added to every Sloth series, sorted by name.
	Labels []budget.Label
	// AlertName names the alert rules; PageLabels and TicketLabels are
	// added to the page and ticket alerts, sorted by name.
	AlertName                string
	PageLabels, TicketLabels []budget.Label
}

// DefaultSlothAlertName names the Sloth alert rules when the file does not.
const DefaultSlothAlertName = "SLOErrorBudgetBurnRate"

// ContractRule adds Labels to every route it matches.
type ContractRule struct {
	// Labels are the contract labels, sorted by name.
	Labels []budget.Label
	// Match holds anchored regular expressions over the route's identity
	// labels and `source`; an absent label matches as "".
	Match map[string]*regexp.Regexp

	match budget.Matchers
}

// ObjectiveRule gives the routes it matches an objective.
type ObjectiveRule struct {
	// Name is the objective's `slo` label; "" means the SLI kind.
	Name string
	// Kind restricts the rule to sources of one kind ("availability" or
	// "latency"); "" means any.
	Kind string
	// Match holds anchored regular expressions over the route's identity
	// labels, its contract labels and `source`.
	Match    map[string]*regexp.Regexp
	SLO, SLA float64
	Window   slo.Window
	// Slices: time-slice budgeting; zero for occurrences.
	Slices slo.Slices
	// Credits are the service-credit tiers of the SLA.
	Credits []slo.Credit

	match budget.Matchers
}

// maxConfigSize bounds the configuration file.
const maxConfigSize = 4 << 20

// DefaultReleasePolicy is the release policy when the file sets none.
func DefaultReleasePolicy() slo.ReleasePolicy {
	return slo.ReleasePolicy{Caution: 0.25, FreezeBurnRate1h: 14.4}
}

// DefaultConfig is what slogate runs without -config: every availability
// preset, no contracts or objective rules (routes get DefaultObjective),
// the default release policy and no maintenance windows.
func DefaultConfig() *Config {
	return &Config{Sources: defaultSources(), Release: DefaultReleasePolicy(), Sloth: Sloth{AlertName: DefaultSlothAlertName}}
}

// LoadConfig reads and parses the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read config %s: %w", path, err)
	}
	return ParseConfig(path, data)
}

// ContractLabels returns the contract labels of the first contract rule
// that matches the route's identity labels and `source` = src.Name (src may
// be nil), or nil. The slice is the caller's.
func (c *Config) ContractLabels(src *budget.Source, route []budget.Label) []budget.Label {
	name := ""
	if src != nil {
		name = src.Name
	}
	for i := range c.Contracts {
		if c.Contracts[i].match.Match(route, nil, name) {
			return slices.Clone(c.Contracts[i].Labels)
		}
	}
	return nil
}

// Resolve returns the objective of a newly discovered route of src: the
// contract labels come first (ContractLabels), then the first objective
// rule whose kind fits and whose match accepts the route labels, the
// contract labels and `source` = src.Name. Without a matching rule the
// route gets DefaultObjective(src). Either way the returned Objective
// carries the contract labels in a slice of its own.
//
// Resolve runs once per new route, not per sample; its cost is one anchored
// regexp match per match entry of the rules it tries.
func (c *Config) Resolve(src *budget.Source, route []budget.Label) budget.Objective {
	contract := c.ContractLabels(src, route)
	kind := src.Kind.String()
	for i := range c.Objectives {
		r := &c.Objectives[i]
		if r.Kind != "" && r.Kind != kind {
			continue
		}
		if !r.match.Match(route, contract, src.Name) {
			continue
		}
		name := r.Name
		if name == "" {
			name = kind
		}
		return budget.Objective{Name: name, SLO: r.SLO, SLA: r.SLA, Window: r.Window, Contract: contract,
			Slices: r.Slices, Credits: r.Credits}
	}
	o := budget.DefaultObjective(src)
	o.Contract = contract
	return o
}

// ConfigError is one validation error of a configuration file.
type ConfigError struct {
	File  string
	Line  int    // 1-based; 0 when the error concerns the whole file
	Field string // dotted path, e.g. "objectives[1].slo"; may be ""
	Msg   string
}

func (e *ConfigError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Field + ": " + e.Msg
}
