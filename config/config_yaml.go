package config

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/budget"
)

// Node helpers. Each resolves aliases, charges the node budget and reports
// its own errors; a nil node means "absent" and is no error.

func (p *cfgParser) errf(n *yaml.Node, field, format string, args ...any) {
	if len(p.errs) >= maxConfigErrors {
		return
	}
	e := &ConfigError{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	p.errs = append(p.errs, e)
}

func (p *cfgParser) node(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	if p.nodes++; p.nodes > maxConfigNodes {
		if p.nodes == maxConfigNodes+1 {
			// Reported even past maxConfigErrors: it explains the others.
			p.errs = append(p.errs, &ConfigError{File: p.file, Line: n.Line,
				Msg: fmt.Sprintf("too complex: more than %d YAML nodes (after expanding aliases)", maxConfigNodes)})
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// fields checks that n is a mapping with only the known keys, each once,
// and returns the value nodes by key together with n resolved (nil when n
// is absent, null or not a mapping).
func (p *cfgParser) fields(n *yaml.Node, path string, known ...string) (map[string]*yaml.Node, *yaml.Node) {
	if n = p.node(n); n == nil || isNull(n) || n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, path, "must be a mapping, got %s", kindName(n))
		return nil, nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.node(n.Content[i])
		if k == nil {
			return out, n
		}
		kp := joinPath(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errf(k, path, "keys must be strings, got %s", kindName(k))
		case !slices.Contains(known, k.Value):
			p.errf(k, kp, "unknown field; known: %s", strings.Join(known, ", "))
		case out[k.Value] != nil:
			p.errf(k, kp, "given twice")
		default:
			out[k.Value] = n.Content[i+1]
		}
	}
	return out, n
}

func (p *cfgParser) seq(n *yaml.Node, path string) []*yaml.Node {
	if n = p.node(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, path, "must be a list, got %s", kindName(n))
		return nil
	}
	return n.Content
}

// str returns a scalar's text; ok is false (and an error reported) for
// anything else. null is "".
func (p *cfgParser) str(n *yaml.Node, path string) (string, bool) {
	if n = p.node(n); n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.errf(n, path, "must be a string, got %s", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

func (p *cfgParser) float(n *yaml.Node, path string) (float64, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		p.errf(n, path, "want a number, got %q", s)
		return 0, false
	}
	return x, true
}

func (p *cfgParser) intv(n *yaml.Node, path string, lo, hi int) (int, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return 0, false
	}
	x, err := strconv.Atoi(s)
	if err != nil || x < lo || x > hi {
		p.errf(n, path, "want an integer in %d..%d, got %q", lo, hi, s)
		return 0, false
	}
	return x, true
}

// le parses a histogram bucket boundary in seconds.
func (p *cfgParser) le(n *yaml.Node, path string) float64 {
	x, ok := p.float(n, path)
	if ok && !(x > 0) {
		p.errf(n, path, "must be a bucket boundary above 0 seconds, got %s", fmtFloat(x))
	}
	return x
}

// name parses a source or objective name: a label value that is also safe
// in URLs and file names.
func (p *cfgParser) name(n, parent *yaml.Node, path string) string {
	s, ok := p.str(n, path)
	switch {
	case !ok && n == nil || ok && s == "":
		p.errf(parent, path, "required")
	case ok && !validName(s):
		p.errf(n, path, "%q: want 1 to %d characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", s, maxNameLen)
	}
	return s
}

type yamlKV struct {
	key, value       string
	keyNode, valNode *yaml.Node
}

// strMap parses a mapping of strings to strings, in file order.
func (p *cfgParser) strMap(n *yaml.Node, path string) []yamlKV {
	if n = p.node(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, path, "must be a mapping, got %s", kindName(n))
		return nil
	}
	var out []yamlKV
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.node(n.Content[i]), p.node(n.Content[i+1])
		if k == nil || v == nil {
			break
		}
		kp := joinPath(path, k.Value)
		key, ok1 := p.str(k, path)
		val, ok2 := p.str(v, kp)
		switch {
		case !ok1 || !ok2:
		case slices.ContainsFunc(out, func(e yamlKV) bool { return e.key == key }):
			p.errf(k, kp, "given twice")
		default:
			out = append(out, yamlKV{key, val, k, v})
		}
	}
	return out
}

// regexMap parses a mapping of label names to anchored regexps. With
// checkKnown, every key must be a label that routes can carry.
func (p *cfgParser) regexMap(n *yaml.Node, path string, checkKnown bool) (map[string]*regexp.Regexp, budget.Matchers) {
	kvs := p.strMap(n, path)
	if len(kvs) == 0 {
		return nil, nil
	}
	if len(kvs) > budget.MaxMatchLabels {
		p.errf(n, path, "too many labels: %d, at most %d", len(kvs), budget.MaxMatchLabels)
		return nil, nil
	}
	m := make(map[string]*regexp.Regexp, len(kvs))
	var list budget.Matchers
	for _, kv := range kvs {
		kp := path + "." + kv.key
		if !budget.ValidLabelName(kv.key) {
			p.errf(kv.keyNode, kp, "%q is not a valid label name", kv.key)
			continue
		}
		if checkKnown && !p.known[kv.key] {
			p.errf(kv.keyNode, kp, "no source or contract has label %s; known: %s", kv.key, strings.Join(slices.Sorted(maps.Keys(p.known)), ", "))
			continue
		}
		re, err := budget.CompileAnchored(kv.value)
		if err != nil {
			p.errf(kv.valNode, kp, "%v", err)
			continue
		}
		m[kv.key] = re
		list = append(list, budget.LabelMatcher{Name: kv.key, Re: re})
	}
	slices.SortFunc(list, func(a, b budget.LabelMatcher) int { return strings.Compare(a.Name, b.Name) })
	return m, list
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func joinPath(path, field string) string {
	switch {
	case path == "":
		return field
	case field == "":
		return path
	}
	return path + "." + field
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func percentHint(x float64) string {
	if x > 1 && x <= 100 {
		return " (targets are ratios, not percents)"
	}
	return ""
}

// isReservedLabel reports label names slogate sets on synthetic series.
func isReservedLabel(s string) bool {
	switch s {
	case "slo", "route", "source", "window", "kind", "result", "state", "le":
		return true
	}
	return false
}

func sourceWithRouteLabel(sources []budget.Source, label string) string {
	for i := range sources {
		if slices.Contains(sources[i].RouteLabels, label) {
			return sources[i].Name
		}
	}
	return ""
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

func validMetricName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
