package openslo

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/slo"
)

// routesService is the OpenSLO Service that the per-route objectives
// belong to; each slogate service is an OpenSLO Service of its own name.
const routesService = "slogate-routes"

// calendarStart is the startTime of exported calendar windows: midnight of
// a Monday that starts a month, a quarter and a year, so it is a period
// boundary for every calendar window slogate has.
const calendarStart = "2024-01-01 00:00:00"

// OpenSLO v1 documents as Export writes them (README of OpenSLO,
// "Specification": SLO with an inline SLI, Service).
type (
	docYAML struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Metadata   metaYAML `yaml:"metadata"`
		Spec       any      `yaml:"spec"`
	}
	metaYAML struct {
		Name        string            `yaml:"name"`
		DisplayName string            `yaml:"displayName,omitempty"`
		Annotations map[string]string `yaml:"annotations,omitempty"`
	}
	serviceSpecYAML struct {
		Description string `yaml:"description"`
	}
	sloSpecYAML struct {
		Description     string           `yaml:"description"`
		Service         string           `yaml:"service"`
		Indicator       indicatorYAML    `yaml:"indicator"`
		TimeWindow      []timeWindowYAML `yaml:"timeWindow"`
		BudgetingMethod string           `yaml:"budgetingMethod"`
		Objectives      []objectiveYAML  `yaml:"objectives"`
	}
	indicatorYAML struct {
		Metadata metaYAML `yaml:"metadata"`
		Spec     struct {
			RatioMetric struct {
				Counter bool          `yaml:"counter"`
				Good    metricRefYAML `yaml:"good"`
				Total   metricRefYAML `yaml:"total"`
			} `yaml:"ratioMetric"`
		} `yaml:"spec"`
	}
	metricRefYAML struct {
		MetricSource struct {
			Type string `yaml:"type"`
			Spec struct {
				Query string `yaml:"query"`
			} `yaml:"spec"`
		} `yaml:"metricSource"`
	}
	timeWindowYAML struct {
		Duration  string        `yaml:"duration"`
		IsRolling bool          `yaml:"isRolling"`
		Calendar  *calendarYAML `yaml:"calendar,omitempty"`
	}
	calendarYAML struct {
		StartTime string `yaml:"startTime"`
		TimeZone  string `yaml:"timeZone"`
	}
	objectiveYAML struct {
		DisplayName     string  `yaml:"displayName"`
		Target          float64 `yaml:"target"`
		TimeSliceTarget float64 `yaml:"timeSliceTarget,omitempty"`
		TimeSliceWindow string  `yaml:"timeSliceWindow,omitempty"`
	}
)

// target is what an exported SLO holds: an objective rule's or a
// service's objective.
type target struct {
	SLO, SLA float64
	Window   slo.Window
	Slices   slo.Slices
	Credits  []slo.Credit
}

// Export writes the objective rules and services of cfg as OpenSLO v1
// documents: a Service per slogate service (and one, slogate-routes, for
// the per-route objectives), then an SLO per objective rule in rule order
// and one per service. The SLIs read slogate's own slo_requests_total,
// which carries the route, contract and source labels the rules match on.
// Import reads the result back to the same rules and services. Routes no
// rule matches keep the built-in default objective, which is not written.
func Export(cfg *config.Config) ([]byte, error) {
	if len(cfg.Objectives) == 0 && len(cfg.Services) == 0 {
		return nil, errors.New("nothing to export: the config has no objectives or services (routes get the built-in default, SLO 0.999 over 30d)")
	}
	var docs []docYAML
	if len(cfg.Objectives) > 0 {
		docs = append(docs, docYAML{APIVersion: "openslo/v1", Kind: "Service", Metadata: metaYAML{Name: routesService},
			Spec: serviceSpecYAML{Description: "Every route slogate tracks; each route is held to the first objective rule that matches it."}})
	}
	names := map[string]bool{routesService: true}
	for _, s := range cfg.Services {
		name := uniqueName(dnsName(s.Name), names)
		docs = append(docs, docYAML{APIVersion: "openslo/v1", Kind: "Service", Metadata: metaYAML{Name: name},
			Spec: serviceSpecYAML{Description: "slogate service " + s.Name + ": the sum of the routes it matches, one SLI per value set of its by labels."}})
	}
	for i, r := range cfg.Objectives {
		name := r.Name
		if name == "" {
			name = r.Kind
		}
		if name == "" {
			name = "objective"
		}
		ms := []matcher{{"result", "=", "good"}, {"route", "!=", ""}}
		if r.Name != "" {
			ms = append(ms, matcher{"slo", "=", r.Name})
		}
		ms = append(ms, matchers(r.Match)...)
		d := sloDoc(uniqueName(fmt.Sprintf("%s-%d", dnsName(name), i+1), names), routesService,
			fmt.Sprintf("slogate objective rule %d: one SLI per route; a route is held to the first rule that matches it.", i+1),
			query{metric: syntheticMetric, matchers: ms, sum: true, by: []string{"source", "route"}},
			target{SLO: r.SLO, SLA: r.SLA, Window: r.Window, Slices: r.Slices, Credits: r.Credits})
		if r.Kind != "" {
			d.Metadata.Annotations[annKind] = r.Kind
		}
		docs = append(docs, d)
	}
	for i, s := range cfg.Services {
		name := docs[i+btoi(len(cfg.Objectives) > 0)].Metadata.Name // the Service document's
		ms := []matcher{{"result", "=", "good"}, {"route", "!=", ""}}
		for _, m := range s.Match {
			ms = append(ms, literalOrRegexp(m.Name, pattern(m.Re)))
		}
		o := s.Objective
		d := sloDoc(name, name, "slogate service "+s.Name+": the sum of the routes it matches.",
			query{metric: syntheticMetric, matchers: ms, sum: true, by: slices.Clone(s.By)},
			target{SLO: o.SLO, SLA: o.SLA, Window: o.Window, Slices: o.Slices, Credits: o.Credits})
		if name != s.Name {
			d.Metadata.Annotations[annService] = s.Name
		}
		docs = append(docs, d)
	}
	var buf bytes.Buffer
	buf.WriteString("# OpenSLO v1 documents written by slogate openslo export; slogate openslo import reads them back.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("cannot write OpenSLO documents: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cannot write OpenSLO documents: %w", err)
	}
	return buf.Bytes(), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sloDoc builds an SLO document with an inline ratio SLI: good is q, total
// q without the result matcher.
func sloDoc(name, service, desc string, q query, t target) docYAML {
	spec := sloSpecYAML{Description: desc, Service: service}
	spec.Indicator.Metadata.Name = name
	rm := &spec.Indicator.Spec.RatioMetric
	rm.Counter = true
	rm.Good.MetricSource.Type = "Prometheus"
	rm.Good.MetricSource.Spec.Query = formatQuery(q)
	tot := q
	tot.matchers = slices.DeleteFunc(slices.Clone(q.matchers), func(m matcher) bool { return m.label == "result" })
	rm.Total.MetricSource.Type = "Prometheus"
	rm.Total.MetricSource.Spec.Query = formatQuery(tot)

	if t.Window.Kind == slo.Calendar {
		tz := "UTC"
		if t.Window.Location != nil {
			tz = t.Window.Location.String()
		}
		dur := map[string]string{slo.PeriodWeek: "1w", slo.PeriodMonth: "1M", slo.PeriodQuarter: "1Q", slo.PeriodYear: "1Y"}[t.Window.Period]
		spec.TimeWindow = []timeWindowYAML{{Duration: dur, Calendar: &calendarYAML{StartTime: calendarStart, TimeZone: tz}}}
	} else {
		spec.TimeWindow = []timeWindowYAML{{Duration: fmtRolling(t.Window.Length), IsRolling: true}}
	}
	ann := map[string]string{}
	objs := []objectiveYAML{{DisplayName: "SLO", Target: t.SLO}}
	if t.SLA > 0 {
		objs = append(objs, objectiveYAML{DisplayName: "SLA", Target: t.SLA})
	}
	spec.BudgetingMethod = "Occurrences"
	if t.Slices.Enabled() {
		spec.BudgetingMethod = "Timeslices"
		for i := range objs {
			objs[i].TimeSliceTarget = t.Slices.Target
			objs[i].TimeSliceWindow = fmtSlice(t.Slices.Length)
		}
		if t.Slices.SkipEmpty {
			ann[annEmptySlices] = "skip"
		}
	}
	spec.Objectives = objs
	if len(t.Credits) > 0 {
		var tiers []string
		for _, c := range t.Credits {
			tiers = append(tiers, strconv.FormatFloat(c.Below, 'g', -1, 64)+":"+strconv.FormatFloat(c.Percent, 'g', -1, 64))
		}
		ann[annCredits] = strings.Join(tiers, ",")
	}
	return docYAML{APIVersion: "openslo/v1", Kind: "SLO", Metadata: metaYAML{Name: name, Annotations: ann}, Spec: spec}
}

// matchers turns a rule's match into PromQL matchers, sorted by label.
func matchers(m map[string]*regexp.Regexp) []matcher {
	var out []matcher
	for _, l := range slices.Sorted(maps.Keys(m)) {
		out = append(out, literalOrRegexp(l, pattern(m[l])))
	}
	return out
}

// literalOrRegexp writes a pattern without metacharacters as l="v", which
// Import reads back to the same pattern.
func literalOrRegexp(l, p string) matcher {
	if regexp.QuoteMeta(p) == p {
		return matcher{l, "=", p}
	}
	return matcher{l, "=~", p}
}

// dnsName turns a slogate name into an RFC 1123 label, as OpenSLO wants
// metadata.name: lowercase letters, digits and '-', at most 63.
func dnsName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if len(out) > 50 {
		out = strings.Trim(out[:50], "-")
	}
	if out == "" {
		out = "slo"
	}
	return out
}

// uniqueName returns name, or name-2, name-3, ... when taken, and marks it
// taken.
func uniqueName(name string, taken map[string]bool) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s-%d", name, i)
	}
	taken[n] = true
	return n
}
