package config

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/slo"
)

// Bounds on the configuration file. Aliases let a small file describe a
// huge tree, so the walk counts nodes instead of trusting the size.
const (
	maxConfigNodes  = 100_000
	maxConfigErrors = 20
	maxRouteLabels  = 16
	maxRoutesLimit  = 1_000_000
	maxNameLen      = 64
)

// ParseConfig parses and validates a configuration file (see Config for
// the format); filename is only used in error messages. Every problem found
// is reported, up to 20, joined by newlines, each as a *ConfigError
// "file:line: field: message".
func ParseConfig(filename string, data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, &ConfigError{File: filename, Msg: fmt.Sprintf("too large: more than %d bytes", maxConfigSize)}
	}
	var doc yaml.Node
	if err := unmarshalYAML(data, &doc); err != nil {
		return nil, yamlError(filename, err)
	}
	p := &cfgParser{file: filename}
	cfg := p.config(&doc)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return cfg, nil
}

// unmarshalYAML guards against panics in the YAML library: the file is
// input, and input must not crash slogate.
func unmarshalYAML(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

// yamlError turns "yaml: line 3: msg" into a ConfigError at line 3.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, tail
			}
		}
	}
	return &ConfigError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

type cfgParser struct {
	file  string
	errs  []error
	nodes int
	// labels that routes can carry: route labels of the enabled sources,
	// contract labels and "source"; match keys must be among them.
	known map[string]bool
}

func (p *cfgParser) config(doc *yaml.Node) *Config {
	cfg := &Config{Release: DefaultReleasePolicy()}
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	f, _ := p.fields(root, "", "presets", "sources", "contracts", "objectives", "services", "release", "maintenance", "sloth")
	if v := f["presets"]; v != nil && !isNull(v) {
		cfg.Sources = p.presets(v)
	} else {
		cfg.Sources = defaultSources()
	}
	cfg.Sources = append(cfg.Sources, p.sources(f["sources"], cfg.Sources)...)
	p.known = map[string]bool{"source": true}
	for i := range cfg.Sources {
		for _, l := range cfg.Sources[i].RouteLabels {
			p.known[l] = true
		}
	}
	cfg.Contracts = p.contracts(f["contracts"], cfg.Sources)
	cfg.Objectives = p.objectives(f["objectives"])
	cfg.Services = p.services(f["services"])
	if v := f["release"]; v != nil {
		cfg.Release = p.release(v)
	}
	cfg.Maintenance = p.maintenance(f["maintenance"])
	cfg.Sloth = p.sloth(f["sloth"])
	return cfg
}

// slothTemplate matches a sloth service or slo template: text and
// {label} placeholders, no other braces.
var slothTemplate = regexp.MustCompile(`^(?:[^{}]|\{[a-zA-Z_][a-zA-Z0-9_]*\})*$`)

func (p *cfgParser) sloth(n *yaml.Node) Sloth {
	s := Sloth{AlertName: DefaultSlothAlertName}
	if n = p.node(n); n == nil || isNull(n) {
		return s
	}
	f, _ := p.fields(n, "sloth", "service", "slo", "labels", "alertName", "pageLabels", "ticketLabels")
	for _, t := range []struct {
		key string
		dst *string
	}{{"service", &s.Service}, {"slo", &s.SLO}} {
		v := f[t.key]
		if v == nil {
			continue
		}
		if x, ok := p.str(v, "sloth."+t.key); ok {
			if !slothTemplate.MatchString(x) {
				p.errf(v, "sloth."+t.key, "must be text with {label} placeholders, got %q", x)
			}
			*t.dst = x
		}
	}
	if v := f["alertName"]; v != nil {
		if x, ok := p.str(v, "sloth.alertName"); ok {
			if !validMetricName(x) || strings.Contains(x, ":") {
				p.errf(v, "sloth.alertName", "must be a Prometheus alert name ([a-zA-Z_][a-zA-Z0-9_]*), got %q", x)
			}
			s.AlertName = x
		}
	}
	labels := func(key string, reserved func(string) bool) []budget.Label {
		var out []budget.Label
		for _, kv := range p.strMap(f[key], "sloth."+key) {
			path := "sloth." + key + "." + kv.key
			switch {
			case !budget.ValidLabelName(kv.key):
				p.errf(kv.keyNode, path, "not a label name")
			case reserved(kv.key):
				p.errf(kv.keyNode, path, "%s is set by slogate", kv.key)
			default:
				out = append(out, budget.Label{Name: kv.key, Value: kv.value})
			}
		}
		slices.SortFunc(out, func(a, b budget.Label) int { return strings.Compare(a.Name, b.Name) })
		return out
	}
	s.Labels = labels("labels", func(name string) bool { return isReservedLabel(name) || strings.HasPrefix(name, "sloth_") })
	alertReserved := func(name string) bool {
		return strings.HasPrefix(name, "sloth_") || name == "alertname" || name == "alertstate"
	}
	s.PageLabels = labels("pageLabels", alertReserved)
	s.TicketLabels = labels("ticketLabels", alertReserved)
	return s
}

func (p *cfgParser) presets(n *yaml.Node) []budget.Source {
	var out []budget.Source
	for i, it := range p.seq(n, "presets") {
		path := fmt.Sprintf("presets[%d]", i)
		if it = p.node(it); it == nil {
			continue
		}
		var name string
		var f map[string]*yaml.Node
		if it.Kind == yaml.MappingNode {
			f, _ = p.fields(it, path, "name", "le", "maxRoutes")
			if name, _ = p.str(f["name"], path+".name"); name == "" {
				p.errf(it, path+".name", "required")
				continue
			}
		} else {
			var ok bool
			if name, ok = p.str(it, path); !ok {
				continue
			} else if name == "" {
				p.errf(it, path, "empty preset name")
				continue
			}
		}
		src, ok := Preset(name)
		if !ok {
			p.errf(it, path, "unknown preset %q; known: %s", name, strings.Join(PresetNames(), ", "))
			continue
		}
		if slices.ContainsFunc(out, func(s budget.Source) bool { return s.Name == name }) {
			p.errf(it, path, "preset %s listed twice", name)
			continue
		}
		if v := f["le"]; v != nil {
			if src.Kind != budget.Latency {
				p.errf(v, path+".le", "only latency presets take le; %s is an availability preset", name)
			} else {
				src.LE = p.le(v, path+".le")
			}
		} else if src.Kind == budget.Latency {
			p.errf(it, path, "latency preset %s needs a bucket boundary in seconds: {name: %s, le: 0.5}", name, name)
		}
		if v := f["maxRoutes"]; v != nil {
			src.MaxRoutes, _ = p.intv(v, path+".maxRoutes", 0, maxRoutesLimit)
		}
		out = append(out, src)
	}
	return out
}

func (p *cfgParser) sources(n *yaml.Node, enabled []budget.Source) []budget.Source {
	var out []budget.Source
	for i, it := range p.seq(n, "sources") {
		path := fmt.Sprintf("sources[%d]", i)
		f, it := p.fields(it, path, "name", "metric", "routeLabels", "statusLabel", "bad", "filter", "maxRoutes", "latency")
		if it == nil {
			continue
		}
		var s budget.Source
		s.Name = p.name(f["name"], it, path+".name")
		if _, isPreset := Preset(s.Name); isPreset {
			p.errf(f["name"], path+".name", "%q is a built-in preset; list it under presets instead", s.Name)
		} else if s.Name != "" && (slices.ContainsFunc(enabled, func(e budget.Source) bool { return e.Name == s.Name }) ||
			slices.ContainsFunc(out, func(e budget.Source) bool { return e.Name == s.Name })) {
			p.errf(f["name"], path+".name", "source %s defined twice", s.Name)
		}
		if s.Metric, _ = p.str(f["metric"], path+".metric"); s.Metric == "" {
			p.errf(it, path+".metric", "required")
		} else if !validMetricName(s.Metric) {
			p.errf(f["metric"], path+".metric", "%q is not a valid metric name", s.Metric)
		}
		s.RouteLabels = p.routeLabels(f["routeLabels"], it, path+".routeLabels")
		s.Filter, _ = p.regexMap(f["filter"], path+".filter", false)
		if v := f["maxRoutes"]; v != nil {
			s.MaxRoutes, _ = p.intv(v, path+".maxRoutes", 0, maxRoutesLimit)
		}
		status, _ := p.str(f["statusLabel"], path+".statusLabel")
		bad, hasBad := p.str(f["bad"], path+".bad")
		if v := f["latency"]; v != nil {
			s.Kind = budget.Latency
			lf, ln := p.fields(v, path+".latency", "le")
			if ln != nil && lf["le"] == nil {
				p.errf(ln, path+".latency.le", "required: the bucket boundary in seconds, e.g. 0.3")
			} else if lf["le"] != nil {
				s.LE = p.le(lf["le"], path+".latency.le")
			}
			if !strings.HasSuffix(s.Metric, "_bucket") && s.Metric != "" {
				p.errf(f["metric"], path+".metric", "a latency source reads histogram buckets; want a name ending in _bucket, got %s", s.Metric)
			}
			if status != "" || hasBad {
				p.errf(it, path, "statusLabel and bad are not used by latency sources; use filter to select statuses")
			}
		} else {
			if s.StatusLabel = status; status == "" {
				p.errf(it, path+".statusLabel", "required for availability sources (the label holding the response status)")
			} else if !budget.ValidLabelName(status) {
				p.errf(f["statusLabel"], path+".statusLabel", "%q is not a valid label name", status)
			} else if slices.Contains(s.RouteLabels, status) {
				p.errf(f["statusLabel"], path+".statusLabel", "%s is also a route label", status)
			}
			if !hasBad || bad == "" {
				bad = "5.."
			}
			re, err := budget.CompileAnchored(bad)
			if err != nil {
				p.errf(f["bad"], path+".bad", "%v", err)
			}
			s.Bad = re
		}
		out = append(out, s)
	}
	return out
}

func (p *cfgParser) routeLabels(n, parent *yaml.Node, path string) []string {
	if n == nil {
		p.errf(parent, path, "required: the labels that identify a route")
		return nil
	}
	var out []string
	for i, it := range p.seq(n, path) {
		l, ok := p.str(it, fmt.Sprintf("%s[%d]", path, i))
		switch {
		case !ok:
		case !budget.ValidLabelName(l) || l == "le":
			p.errf(it, fmt.Sprintf("%s[%d]", path, i), "%q is not a valid route label name", l)
		case isReservedLabel(l):
			p.errf(it, fmt.Sprintf("%s[%d]", path, i), "%s is reserved: slogate sets it on synthetic series; relabel it in vmagent", l)
		case slices.Contains(out, l):
			p.errf(it, fmt.Sprintf("%s[%d]", path, i), "%s listed twice", l)
		default:
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		p.errf(n, path, "must list at least one label")
	} else if len(out) > maxRouteLabels {
		p.errf(n, path, "too many labels: %d, at most %d", len(out), maxRouteLabels)
	}
	return out
}

func (p *cfgParser) contracts(n *yaml.Node, sources []budget.Source) []ContractRule {
	var out []ContractRule
	var added []string
	for i, it := range p.seq(n, "contracts") {
		path := fmt.Sprintf("contracts[%d]", i)
		f, it := p.fields(it, path, "labels", "match")
		if it == nil {
			continue
		}
		var r ContractRule
		kvs := p.strMap(f["labels"], path+".labels")
		if len(kvs) == 0 {
			p.errf(it, path+".labels", "required: the contract labels to add")
		}
		for _, kv := range kvs {
			lp := path + ".labels." + kv.key
			switch {
			case !budget.ValidLabelName(kv.key):
				p.errf(kv.keyNode, lp, "%q is not a valid label name", kv.key)
			case isReservedLabel(kv.key):
				p.errf(kv.keyNode, lp, "%s is reserved: slogate sets it on synthetic series", kv.key)
			case kv.value == "" || len(kv.value) > 256:
				p.errf(kv.valNode, lp, "must be 1 to 256 characters")
			default:
				if s := sourceWithRouteLabel(sources, kv.key); s != "" {
					p.errf(kv.keyNode, lp, "clashes with a route label of source %s", s)
					continue
				}
				r.Labels = append(r.Labels, budget.Label{Name: kv.key, Value: kv.value})
				added = append(added, kv.key)
			}
		}
		slices.SortFunc(r.Labels, func(a, b budget.Label) int { return strings.Compare(a.Name, b.Name) })
		r.Match, r.match = p.regexMap(f["match"], path+".match", true)
		out = append(out, r)
	}
	for _, l := range added {
		p.known[l] = true
	}
	return out
}

func (p *cfgParser) release(n *yaml.Node) slo.ReleasePolicy {
	rp := DefaultReleasePolicy()
	f, _ := p.fields(n, "release", "caution", "freezeBurnRate1h")
	if v := f["caution"]; v != nil {
		if x, ok := p.float(v, "release.caution"); ok {
			if rp.Caution = x; !(x >= 0 && x < 1) {
				p.errf(v, "release.caution", "must be in [0,1), got %s%s", fmtFloat(x), percentHint(x))
			}
		}
	}
	if v := f["freezeBurnRate1h"]; v != nil {
		if x, ok := p.float(v, "release.freezeBurnRate1h"); ok {
			if rp.FreezeBurnRate1h = x; !(x > 0 && x <= 1e6) {
				p.errf(v, "release.freezeBurnRate1h", "must be a burn rate above 0, got %s", fmtFloat(x))
			}
		}
	}
	return rp
}

func (p *cfgParser) maintenance(n *yaml.Node) []*maintenance.Window {
	var out []*maintenance.Window
	for i, it := range p.seq(n, "maintenance") {
		path := fmt.Sprintf("maintenance[%d]", i)
		f, it := p.fields(it, path, "start", "end", "match", "reason", "author", "rrule", "duration", "timezone")
		if it == nil {
			continue
		}
		var spec maintenance.Spec
		for _, fld := range [...]struct {
			key string
			dst *string
		}{{"start", &spec.Start}, {"end", &spec.End}, {"reason", &spec.Reason}, {"author", &spec.Author},
			{"rrule", &spec.RRule}, {"duration", &spec.Duration}, {"timezone", &spec.Timezone}} {
			*fld.dst, _ = p.str(f[fld.key], path+"."+fld.key)
		}
		valNodes := map[string]*yaml.Node{}
		if kvs := p.strMap(f["match"], path+".match"); len(kvs) > 0 {
			spec.Match = make(map[string]string, len(kvs))
			for _, kv := range kvs {
				spec.Match[kv.key] = kv.value
				valNodes[kv.key] = kv.valNode
				if budget.ValidLabelName(kv.key) && !p.known[kv.key] {
					p.errf(kv.keyNode, path+".match."+kv.key, "no source or contract has label %s", kv.key)
				}
			}
		}
		m, err := maintenance.New(spec, time.Time{})
		if err != nil {
			var fe *maintenance.FieldError
			field, at := "", it
			if errors.As(err, &fe) {
				field = fe.Field
				top, sub, _ := strings.Cut(field, ".")
				if v := valNodes[sub]; top == "match" && v != nil {
					at = v
				} else if v := f[top]; v != nil {
					at = v
				}
				err = fe.Err
			}
			p.errf(at, joinPath(path, field), "%v", err)
			continue
		}
		m.Source = maintenance.FromConfig
		m.ID = maintenanceID(m.Spec())
		for j, prev := range out {
			if prev.ID == m.ID {
				p.errf(it, path, "the same window as maintenance[%d]", j)
			}
		}
		out = append(out, m)
	}
	return out
}

// maintenanceID derives a stable ID from a window's content, so a reload of
// an unchanged file keeps the IDs the API and the audit log refer to.
func maintenanceID(s maintenance.Spec) string {
	h := fnv.New64a()
	for _, v := range [...]string{s.Start, s.End, s.RRule, s.Duration, s.Timezone, s.Reason, s.Author} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	for _, k := range slices.Sorted(maps.Keys(s.Match)) {
		h.Write([]byte(k + "=" + s.Match[k]))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("config-%016x", h.Sum64())
}
