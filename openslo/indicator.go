package openslo

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/budget"
)

// indicator is what an SLI's ratio metric means to slogate: which routes
// (match), one SLI per route or per value set of by.
type indicator struct {
	perRoute bool
	// fromSource: the query reads a source's metric (a preset's or one of
	// the base config); else slogate's own slo_requests_total.
	fromSource bool
	kind       string            // objective kind; "" for any
	name       string            // objective name from slo="..." (slo_requests_total)
	match      map[string]string // label -> pattern
	by         []string
}

// indicator reads an SLI spec (at node at, path) and maps its ratio metric.
func (im *importer) indicator(r reader, spec, at *yaml.Node, path string) (indicator, bool) {
	var ind indicator
	f := r.fields(spec, path, "description", "thresholdMetric", "ratioMetric")
	if f == nil {
		r.errf(at, path, "required: an SLI spec with a ratioMetric")
		return ind, false
	}
	if v := f["thresholdMetric"]; v != nil {
		r.errf(v, path+".thresholdMetric", "not supported: slogate budgets counted good and bad events; use a ratioMetric of counters (for latency, histogram buckets: good le=\"0.5\" over total le=\"+Inf\")")
		return ind, false
	}
	rp := path + ".ratioMetric"
	rm := r.fields(f["ratioMetric"], rp, "counter", "good", "bad", "total", "rawType", "raw")
	if rm == nil {
		r.errf(at, rp, "required: good or bad over total")
		return ind, false
	}
	if v := orNode(rm["raw"], rm["rawType"]); v != nil {
		r.errf(v, rp+".raw", "not supported: a precomputed ratio has no events to count; give good or bad over total")
		return ind, false
	}
	if v := rm["counter"]; v != nil {
		if c, ok := r.boolean(v, rp+".counter"); ok && !c {
			r.errf(v, rp+".counter", "slogate reads monotonic counters only (counter: true)")
			return ind, false
		}
	}
	numKey := "good"
	switch {
	case rm["good"] != nil && rm["bad"] != nil:
		r.errf(rm["bad"], rp+".bad", "give good or bad, not both")
		return ind, false
	case rm["bad"] != nil:
		numKey = "bad"
	case rm["good"] == nil:
		r.errf(at, rp+".good", "required: good or bad")
		return ind, false
	}
	if rm["total"] == nil {
		r.errf(at, rp+".total", "required")
		return ind, false
	}
	num, numAt, ok1 := im.metricQuery(r, rm[numKey], rp+"."+numKey)
	tot, totAt, ok2 := im.metricQuery(r, rm["total"], rp+".total")
	if !ok1 || !ok2 {
		return ind, false
	}
	m := mapper{r: r, im: im, numKey: numKey, num: num, tot: tot, numAt: numAt, totAt: totAt,
		numPath: rp + "." + numKey + ".metricSource.spec.query", totPath: rp + ".total.metricSource.spec.query"}
	return m.run()
}

// metricQuery reads {metricSource: {metricSourceRef, type, spec: {query}}}
// and parses the query.
func (im *importer) metricQuery(r reader, n *yaml.Node, path string) (query, *yaml.Node, bool) {
	ms := r.fields(r.fields(n, path, "metricSource")["metricSource"], path+".metricSource", "metricSourceRef", "type", "spec")
	if ms == nil {
		r.errf(n, path+".metricSource", "required")
		return query{}, nil, false
	}
	if t, _ := r.str(ms["type"], path+".metricSource.type"); t != "" &&
		!slices.Contains([]string{"prometheus", "victoriametrics"}, strings.ToLower(t)) {
		r.errf(ms["type"], path+".metricSource.type", "want Prometheus or VictoriaMetrics (slogate reads the remote-write stream), got %q", t)
		return query{}, nil, false
	}
	qn := r.fields(ms["spec"], path+".metricSource.spec", "query")["query"]
	qs, ok := r.str(qn, path+".metricSource.spec.query")
	if !ok {
		r.errf(orNode(ms["spec"], n), path+".metricSource.spec.query", "required: a PromQL query")
		return query{}, nil, false
	}
	q, err := parseQuery(qs)
	if err != nil {
		r.errf(qn, path+".metricSource.spec.query", "%v", err)
		return query{}, nil, false
	}
	return q, qn, true
}

// mapper maps the numerator and total queries of one ratio metric.
type mapper struct {
	r                reader
	im               *importer
	numKey           string // good or bad
	num, tot         query
	numAt, totAt     *yaml.Node
	numPath, totPath string
}

func (m *mapper) run() (indicator, bool) {
	if !m.num.sum || !m.tot.sum {
		at, p := m.numAt, m.numPath
		if m.num.sum {
			at, p = m.totAt, m.totPath
		}
		m.r.errf(at, p, "wrap the selector in sum(...) for one SLI, or sum by (<route labels>) (...) for one per route: slogate has no SLI per series")
		return indicator{}, false
	}
	if !sameSet(m.num.by, m.tot.by) {
		m.r.errf(m.totAt, m.totPath, "sum by (%s) differs from the %s query's by (%s)", strings.Join(m.tot.by, ", "), m.numKey, strings.Join(m.num.by, ", "))
		return indicator{}, false
	}
	if m.num.metric == syntheticMetric || m.tot.metric == syntheticMetric {
		return m.synthetic()
	}
	return m.source()
}

// synthetic maps queries over slo_requests_total{result, route, slo, ...}:
// the form Export writes, because these series carry contract labels.
func (m *mapper) synthetic() (indicator, bool) {
	ind := indicator{match: map[string]string{}}
	if m.num.metric != m.tot.metric {
		m.r.errf(m.totAt, m.totPath, "want %s like the %s query, got %s", m.num.metric, m.numKey, m.tot.metric)
		return ind, false
	}
	numRest, numResult, numRoute := splitSynthetic(m.num.matchers)
	totRest, totResult, totRoute := splitSynthetic(m.tot.matchers)
	if numResult != (matcher{"result", "=", m.numKey}) {
		m.r.errf(m.numAt, m.numPath, "want result=%q on %s for the %s events", m.numKey, syntheticMetric, m.numKey)
		return ind, false
	}
	if totResult != (matcher{}) && totResult != (matcher{"result", "=~", "good|bad"}) && totResult != (matcher{"result", "=~", "bad|good"}) {
		m.r.errf(m.totAt, m.totPath, "the total counts good and bad events: no result matcher, got %s", totResult)
		return ind, false
	}
	route := matcher{"route", "!=", ""}
	if numRoute != route || totRoute != route {
		at, p := m.numAt, m.numPath
		if numRoute == route {
			at, p = m.totAt, m.totPath
		}
		m.r.errf(at, p, `want route!="": the series of routes, not those of services`)
		return ind, false
	}
	if !sameMatchers(numRest, totRest) {
		m.r.errf(m.totAt, m.totPath, "the total must select the same series as the %s query apart from result", m.numKey)
		return ind, false
	}
	ind.perRoute = slices.Contains(m.num.by, "route")
	for _, x := range numRest {
		if x.label == "slo" {
			if !ind.perRoute || x.op != "=" || ind.name != "" {
				m.r.errf(m.numAt, m.numPath, `slo="<name>" names the objective of one SLI per route (sum by (source, route)); got %s`, x)
				return ind, false
			}
			ind.name = x.value
			continue
		}
		if !m.matchEntry(ind.match, x) {
			return ind, false
		}
	}
	if !ind.perRoute && !m.byLabels(&ind, nil) {
		return ind, false
	}
	return ind, true
}

// splitSynthetic takes the result and route matchers out of ms.
func splitSynthetic(ms []matcher) (rest []matcher, result, route matcher) {
	for _, x := range ms {
		switch x.label {
		case "result":
			result = x
		case "route":
			route = x
		default:
			rest = append(rest, x)
		}
	}
	return rest, result, route
}

// matchEntry adds a matcher over a route, contract or source label to a
// match: = is a literal, =~ a regular expression (anchored in both).
func (m *mapper) matchEntry(match map[string]string, x matcher) bool {
	switch {
	case !m.im.known[x.label]:
		m.r.errf(m.numAt, m.numPath, "%s: no source or contract has label %s%s", x, x.label, m.contractHint())
	case x.op == "!=" || x.op == "!~":
		m.r.errf(m.numAt, m.numPath, "%s: negative matchers are not supported (slogate's match selects with regular expressions only)", x)
	case match[x.label] != "":
		m.r.errf(m.numAt, m.numPath, "%s: label %s matched twice", x, x.label)
	default:
		p := x.value
		if x.op == "=" {
			p = regexp.QuoteMeta(p)
		}
		if _, err := budget.CompileAnchored(p); err != nil {
			m.r.errf(m.numAt, m.numPath, "%s: %v", x, err)
			return false
		}
		match[x.label] = p
		return true
	}
	return false
}

func (m *mapper) contractHint() string {
	if m.im.base == nil {
		return " (pass -config with the contracts that add it)"
	}
	return ""
}

// byLabels checks the by labels of a service: labels routes carry (within
// allowed, when not nil).
func (m *mapper) byLabels(ind *indicator, allowed []string) bool {
	for _, l := range m.num.by {
		switch {
		case l == "route" || l == "slo" || l == "result" || l == "service":
			m.r.errf(m.numAt, m.numPath, "sum by (%s): %s is slogate's own label; by names route, contract or source labels", strings.Join(m.num.by, ", "), l)
			return false
		case allowed != nil && !slices.Contains(allowed, l) || !m.im.known[l]:
			m.r.errf(m.numAt, m.numPath, "sum by (%s): routes have no label %s%s", strings.Join(m.num.by, ", "), l, m.contractHint())
			return false
		}
	}
	ind.by = slices.Clone(m.num.by)
	return true
}

// source maps queries over the metric of a known source: for availability,
// good = status!~"<bad>" (or bad = status=~"<bad>") over the same
// selector without the status matcher; for latency, good = bucket{le="x"}
// over bucket{le="+Inf"} or the histogram's _count.
func (m *mapper) source() (indicator, bool) {
	ind := indicator{fromSource: true, match: map[string]string{}}
	var src *budget.Source
	for i := range m.im.sources {
		if m.im.sources[i].Metric == m.num.metric {
			src = &m.im.sources[i]
			break
		}
	}
	if src == nil {
		hint := "enable a preset or add a source in -config that reads it"
		if m.im.base == nil {
			hint = "no preset reads it; pass -config with a source that does"
		}
		m.r.errf(m.numAt, m.numPath, "metric %s: %s (or query slogate's own %s)", m.num.metric, hint, syntheticMetric)
		return ind, false
	}
	ind.kind = src.Kind.String()
	var numRest, totRest []matcher
	var ok bool
	if src.Kind == budget.Latency {
		numRest, totRest, ok = m.latency(src)
	} else {
		numRest, totRest, ok = m.availability(src)
	}
	if !ok {
		return ind, false
	}
	if !sameMatchers(numRest, totRest) {
		m.r.errf(m.totAt, m.totPath, "the total must select the same series as the %s query apart from the %s", m.numKey, map[bool]string{true: "le matcher", false: "status matcher"}[src.Kind == budget.Latency])
		return ind, false
	}
	for _, x := range numRest {
		if f := src.Filter[x.label]; f != nil {
			// A matcher that repeats the source's filter says nothing new.
			if (x.op == "=" && f.String() == "^(?:"+regexp.QuoteMeta(x.value)+")$") || (x.op == "=~" && f.String() == "^(?:"+x.value+")$") {
				continue
			}
		}
		if !slices.Contains(src.RouteLabels, x.label) {
			m.r.errf(m.numAt, m.numPath, "%s: %s is not a route label of source %s (%s); slogate sums a route's series over every other label",
				x, x.label, src.Name, strings.Join(src.RouteLabels, ", "))
			return ind, false
		}
		if !m.matchEntry(ind.match, x) {
			return ind, false
		}
	}
	ind.match["source"] = regexp.QuoteMeta(src.Name)
	ind.perRoute = sameSet(m.num.by, src.RouteLabels)
	if !ind.perRoute && !m.byLabels(&ind, src.RouteLabels) {
		return ind, false
	}
	return ind, true
}

func (m *mapper) availability(src *budget.Source) (numRest, totRest []matcher, ok bool) {
	if m.tot.metric != src.Metric {
		m.r.errf(m.totAt, m.totPath, "want %s like the %s query, got %s", src.Metric, m.numKey, m.tot.metric)
		return nil, nil, false
	}
	bad := pattern(src.Bad)
	want := matcher{src.StatusLabel, "!~", bad}
	if m.numKey == "bad" {
		want = matcher{src.StatusLabel, "=~", bad}
	}
	var status matcher
	for _, x := range m.num.matchers {
		if x.label == src.StatusLabel {
			status = x
		} else {
			numRest = append(numRest, x)
		}
	}
	if status != want {
		m.r.errf(m.numAt, m.numPath, "want %s in the %s query: source %s counts %s=~%q as bad", want, m.numKey, src.Name, src.StatusLabel, bad)
		return nil, nil, false
	}
	for _, x := range m.tot.matchers {
		if x.label == src.StatusLabel {
			m.r.errf(m.totAt, m.totPath, "%s: the total counts every status", x)
			return nil, nil, false
		}
	}
	return numRest, m.tot.matchers, true
}

func (m *mapper) latency(src *budget.Source) (numRest, totRest []matcher, ok bool) {
	if m.numKey != "good" {
		m.r.errf(m.numAt, m.numPath, "a latency SLI counts good events: good is the bucket le=\"<seconds>\"")
		return nil, nil, false
	}
	var le matcher
	for _, x := range m.num.matchers {
		if x.label == "le" {
			le = x
		} else {
			numRest = append(numRest, x)
		}
	}
	x, err := strconv.ParseFloat(le.value, 64)
	if le.op != "=" || err != nil || !(x > 0) || x > 1e9 {
		m.r.errf(m.numAt, m.numPath, "want le=\"<seconds>\" on %s: the bucket of the good requests", src.Metric)
		return nil, nil, false
	}
	switch want := src.LE; {
	case m.im.base != nil && want != x:
		m.r.errf(m.numAt, m.numPath, "le=%q, but source %s counts le=%s as good", le.value, src.Name, strconv.FormatFloat(want, 'g', -1, 64))
		return nil, nil, false
	case m.im.base == nil && m.im.presetLE[src.Name] != 0 && m.im.presetLE[src.Name] != x:
		m.r.errf(m.numAt, m.numPath, "le=%q, but another SLO of preset %s uses le=%s: a source has one boundary", le.value, src.Name,
			strconv.FormatFloat(m.im.presetLE[src.Name], 'g', -1, 64))
		return nil, nil, false
	case m.im.base == nil:
		m.im.presetLE[src.Name] = x
	}
	count := strings.TrimSuffix(src.Metric, "_bucket") + "_count"
	switch m.tot.metric {
	case count:
		totRest = m.tot.matchers
	case src.Metric:
		var inf matcher
		for _, y := range m.tot.matchers {
			if y.label == "le" {
				inf = y
			} else {
				totRest = append(totRest, y)
			}
		}
		if inf != (matcher{"le", "=", "+Inf"}) {
			m.r.errf(m.totAt, m.totPath, "want le=\"+Inf\" on %s (or %s): every request", src.Metric, count)
			return nil, nil, false
		}
	default:
		m.r.errf(m.totAt, m.totPath, "want %s{le=\"+Inf\"} or %s for the total, got %s", src.Metric, count, m.tot.metric)
		return nil, nil, false
	}
	for _, y := range totRest {
		if y.label == "le" {
			m.r.errf(m.totAt, m.totPath, "%s: the total counts every request", y)
			return nil, nil, false
		}
	}
	return numRest, totRest, true
}

// pattern returns the user's pattern of an anchored regexp (config
// compiles "^(?:p)$").
func pattern(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	s := re.String()
	if strings.HasPrefix(s, "^(?:") && strings.HasSuffix(s, ")$") {
		return s[4 : len(s)-2]
	}
	return s
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x string) bool { return !slices.Contains(b, x) })
}

func sameMatchers(a, b []matcher) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x matcher) bool { return !slices.Contains(b, x) })
}
