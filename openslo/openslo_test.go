package openslo

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/slo"
)

func readTestdata(t *testing.T, names ...string) []File {
	t.Helper()
	var out []File
	for _, n := range names {
		p := filepath.Join("testdata", n)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("cannot read %s: %v", p, err)
		}
		out = append(out, File{Name: p, Data: data})
	}
	return out
}

func mustImport(t *testing.T, base *File, files []File) *config.Config {
	t.Helper()
	out, err := Import(base, files)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	cfg, err := config.ParseConfig("imported", out)
	if err != nil {
		t.Fatalf("imported config does not parse: %v\n%s", err, out)
	}
	return cfg
}

// rules is an objective rule or a service in comparable form.
type ruleView struct {
	Name, Kind string
	Match      string // label=pattern, sorted
	By         string
	SLO, SLA   float64
	Window, TZ string
	Slices     slo.Slices
	Credits    string
	Service    bool
}

func windowView(w slo.Window) (string, string) {
	tz := ""
	if w.Kind == slo.Calendar && w.Location != nil {
		tz = w.Location.String()
	}
	return w.Label(), tz
}

func credits(cs []slo.Credit) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(ftoa(c.Below) + ":" + ftoa(c.Percent) + ",")
	}
	return b.String()
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func views(cfg *config.Config) []ruleView {
	var out []ruleView
	for _, r := range cfg.Objectives {
		var m []string
		for _, l := range slices.Sorted(maps.Keys(r.Match)) {
			m = append(m, l+"="+r.Match[l].String())
		}
		w, tz := windowView(r.Window)
		out = append(out, ruleView{Name: r.Name, Kind: r.Kind, Match: strings.Join(m, " "), SLO: r.SLO, SLA: r.SLA,
			Window: w, TZ: tz, Slices: r.Slices, Credits: credits(r.Credits)})
	}
	for _, s := range cfg.Services {
		var m []string
		for _, x := range s.Match {
			m = append(m, x.Name+"="+x.Re.String())
		}
		o := s.Objective
		w, tz := windowView(o.Window)
		out = append(out, ruleView{Service: true, Name: s.Name, Match: strings.Join(m, " "), By: strings.Join(s.By, ","),
			SLO: o.SLO, SLA: o.SLA, Window: w, TZ: tz, Slices: o.Slices, Credits: credits(o.Credits)})
	}
	return out
}

func TestImportAdaptedSpecExamples(t *testing.T) {
	cfg := mustImport(t, nil, readTestdata(t, "spec-adapted.yaml", "shop.yaml"))
	got := views(cfg)
	want := []ruleView{
		{Name: "shop-routes", Kind: "availability", Match: `namespace=^(?:shop|checkout)$ source=^(?:ingress-nginx)$`,
			SLO: 0.9995, Window: "28d"},
		{Name: "shop-latency", Kind: "latency", Match: `namespace=^(?:shop)$ source=^(?:ingress-nginx-latency)$`,
			SLO: 0.99, Window: "7d", Slices: slo.Slices{Length: 5 * time.Minute, Target: 0.9}},
		{Service: true, Name: "service-availability", Match: `host=^(?:web\.example\.com)$ source=^(?:ingress-nginx)$`,
			SLO: 0.995, SLA: 0.99, Window: "month", TZ: "America/New_York", Slices: slo.Slices{Length: time.Minute, Target: 0.99}},
		{Service: true, Name: "important-service", Match: `namespace=^(?:shop)$ source=^(?:ingress-nginx)$`,
			SLO: 0.9995, Window: "week", TZ: "America/New_York", Slices: slo.Slices{Length: time.Minute, Target: 0.95}},
		{Service: true, Name: "shop-hosts", Match: `host=^(?:shop\.example\.com|api\.example\.com)$ source=^(?:ingress-nginx)$`, By: "host",
			SLO: 0.9995, SLA: 0.999, Window: "quarter", TZ: "Europe/Berlin", Credits: "0.999:10,0.99:25,"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("imported:\n got %+v\nwant %+v", got, want)
	}
	// The latency preset is on with the query's bucket, next to every
	// availability preset (the default a config without presets has).
	var lat *budget.Source
	for i := range cfg.Sources {
		if cfg.Sources[i].Name == "ingress-nginx-latency" {
			lat = &cfg.Sources[i]
		}
	}
	if lat == nil || lat.LE != 0.5 || len(cfg.Sources) != len(config.DefaultConfig().Sources)+1 {
		t.Fatalf("sources: latency preset %+v among %d sources", lat, len(cfg.Sources))
	}
	// Routes resolve as the SLOs say.
	src, _ := config.Preset("ingress-nginx")
	if o := cfg.Resolve(&src, []budget.Label{{Name: "namespace", Value: "checkout"}}); o.Name != "shop-routes" || o.SLO != 0.9995 {
		t.Fatalf("checkout route: %+v", o)
	}
	if o := cfg.Resolve(&src, []budget.Label{{Name: "namespace", Value: "shopx"}}); o.Name != "availability" || o.SLO != 0.999 {
		t.Fatalf("a route no SLO selects keeps the default: %+v", o)
	}
}

func TestImportRefusesSpecExamples(t *testing.T) {
	_, err := Import(nil, readTestdata(t, "spec-examples.yaml"))
	if err == nil {
		t.Fatal("the unmodified spec examples were accepted")
	}
	// Every refusal at once, each with file:line.
	for _, want := range []string{
		"testdata/spec-examples.yaml:23: spec.indicator.spec.thresholdMetric: not supported",
		`testdata/spec-examples.yaml:55: spec.indicator.spec.ratioMetric.good.metricSource.type: want Prometheus or VictoriaMetrics`,
		"testdata/spec-examples.yaml:66: spec.budgetingMethod: RatioTimeslices",
		"testdata/spec-examples.yaml:99: spec.timeWindow[0].duration: 1m: slogate's calendar windows are one week (1w), month (1M)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in:\n%v", want, err)
		}
	}
}

// sloDocText is an SLO document whose parts the refusal cases replace.
func sloDocText(indicator, window, budgeting, objectives string) string {
	return `apiVersion: openslo/v1
kind: SLO
metadata:
  name: web
spec:
  service: web
  indicator:
    metadata:
      name: web
    spec:
` + indicator + `
  timeWindow:
` + window + `
  budgetingMethod: ` + budgeting + `
  objectives:
` + objectives + "\n"
}

func ratio(good, total string) string {
	return `      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: '` + good + `'
        total:
          metricSource:
            type: Prometheus
            spec:
              query: '` + total + `'`
}

const (
	okGood      = `sum(rate(nginx_ingress_controller_requests{status!~"5.."}[5m]))`
	okTotal     = `sum(rate(nginx_ingress_controller_requests[5m]))`
	okWindow    = "    - duration: 30d\n      isRolling: true"
	okObjective = "    - target: 0.999"
)

func TestImportRefusals(t *testing.T) {
	f := func(name, doc, want string) {
		t.Helper()
		_, err := Import(nil, []File{{Name: "in.yaml", Data: []byte(doc)}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want error containing %q, got %v", name, want, err)
		}
	}
	// Line 17 is good's query, 22 total's, 24 the window's duration, 26
	// budgetingMethod, 28 the first objective.
	ok := ratio(okGood, okTotal)
	f("ok doc is accepted", sloDocText(ok, okWindow, "Occurrences", okObjective)+"---\nkind: AlertPolicy\napiVersion: openslo/v1\nmetadata: {name: x}\n",
		"in.yaml:30: kind: AlertPolicy is not supported")
	f("status regexp differs from the source's", sloDocText(ratio(`sum(rate(nginx_ingress_controller_requests{status!~"5..|429"}[5m]))`, okTotal), okWindow, "Occurrences", okObjective),
		`in.yaml:17: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: want status!~"5.." in the good query`)
	f("no aggregation", sloDocText(ratio(`rate(nginx_ingress_controller_requests{status!~"5.."}[5m])`, okTotal), okWindow, "Occurrences", okObjective),
		"in.yaml:17: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: wrap the selector in sum(...)")
	f("unknown metric", sloDocText(ratio(`sum(rate(http_requests_total{code!~"5.."}[5m]))`, `sum(rate(http_requests_total[5m]))`), okWindow, "Occurrences", okObjective),
		"in.yaml:17: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: metric http_requests_total: no preset reads it")
	f("label that is not a route label", sloDocText(ratio(`sum(rate(nginx_ingress_controller_requests{method="GET", status!~"5.."}[5m]))`, `sum(rate(nginx_ingress_controller_requests{method="GET"}[5m]))`), okWindow, "Occurrences", okObjective),
		"in.yaml:17: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: method=\"GET\": method is not a route label of source ingress-nginx")
	f("negative matcher", sloDocText(ratio(`sum(rate(nginx_ingress_controller_requests{host!="a", status!~"5.."}[5m]))`, `sum(rate(nginx_ingress_controller_requests{host!="a"}[5m]))`), okWindow, "Occurrences", okObjective),
		"negative matchers are not supported")
	f("total selects other series", sloDocText(ratio(`sum(rate(nginx_ingress_controller_requests{host="a", status!~"5.."}[5m]))`, okTotal), okWindow, "Occurrences", okObjective),
		"in.yaml:22: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: the total must select the same series")
	f("by differs", sloDocText(ratio(`sum by (host) (rate(nginx_ingress_controller_requests{status!~"5.."}[5m]))`, okTotal), okWindow, "Occurrences", okObjective),
		"in.yaml:22: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: sum by () differs")
	f("PromQL outside the subset", sloDocText(ratio(`sum(rate(nginx_ingress_controller_requests{status!~"5.."}[5m])) / 2`, okTotal), okWindow, "Occurrences", okObjective),
		`in.yaml:17: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: cannot parse query at offset 64: unexpected "/ 2"`)
	f("contract label without -config", sloDocText(ratio(`sum by (source, route) (rate(slo_requests_total{result="good", route!="", customer="acme"}[5m]))`, `sum by (source, route) (rate(slo_requests_total{route!="", customer="acme"}[5m]))`), okWindow, "Occurrences", okObjective),
		"no source or contract has label customer (pass -config with the contracts that add it)")
	f("service series counted", sloDocText(ratio(`sum(rate(slo_requests_total{result="good"}[5m]))`, `sum(rate(slo_requests_total[5m]))`), okWindow, "Occurrences", okObjective),
		`want route!=""`)
	f("gauge", strings.Replace(sloDocText(ratio(okGood, okTotal), okWindow, "Occurrences", okObjective), "counter: true", "counter: false", 1),
		"in.yaml:12: spec.indicator.spec.ratioMetric.counter: slogate reads monotonic counters only")
	f("rolling month", sloDocText(ok, "    - duration: 1M\n      isRolling: true", "Occurrences", okObjective),
		"in.yaml:24: spec.timeWindow[0].duration: 1M has no fixed length")
	f("rolling too short", sloDocText(ok, "    - duration: 30m\n      isRolling: true", "Occurrences", okObjective),
		"in.yaml:24: spec.timeWindow[0].duration: 30m: a rolling window is whole minutes from 1h")
	f("calendar start not a boundary", sloDocText(ok, "    - duration: 1M\n      calendar: {startTime: 2022-01-01 12:00:00, timeZone: UTC}", "Occurrences", okObjective),
		`in.yaml:25: spec.timeWindow[0].calendar.startTime: "2022-01-01 12:00:00": slogate's months start at midnight`)
	f("unknown zone", sloDocText(ok, "    - duration: 1M\n      calendar: {timeZone: Mars/Olympus}", "Occurrences", okObjective),
		`in.yaml:25: spec.timeWindow[0].calendar.timeZone: unknown time zone "Mars/Olympus"`)
	f("three objectives", sloDocText(ok, okWindow, "Occurrences", okObjective+"\n    - target: 0.99\n    - target: 0.9"),
		"in.yaml:28: spec.objectives: want one objective (the SLO) or two (SLO and SLA), got 3")
	f("percent as target", sloDocText(ok, okWindow, "Occurrences", "    - target: 99.9"),
		"in.yaml:28: spec.objectives[0].target: must be in (0,1)")
	f("slice that does not divide the hour", sloDocText(ok, okWindow, "Timeslices", "    - {target: 0.999, timeSliceTarget: 0.9, timeSliceWindow: 7m}"),
		`in.yaml:28: spec.objectives[0].timeSliceWindow: "7m": slogate's slices are whole minutes`)
	f("SLO and SLA slices differ", sloDocText(ok, okWindow, "Timeslices", "    - {target: 0.999, timeSliceTarget: 0.9, timeSliceWindow: 5m}\n    - {target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 1m}"),
		"in.yaml:29: spec.objectives[1]: the SLO and the SLA share one slice length")
	f("slices with occurrences", sloDocText(ok, okWindow, "Occurrences", "    - {target: 0.999, timeSliceWindow: 5m}"),
		"in.yaml:28: spec.objectives[0]: timeSliceTarget and timeSliceWindow only with budgetingMethod: Timeslices")
	f("composite", sloDocText(ok, okWindow, "Occurrences", "    - {target: 0.999, compositeWeight: 2}"),
		"in.yaml:28: spec.objectives[0].compositeWeight: composite SLOs are not supported")
	f("missing SLI", strings.Replace(sloDocText(ok, okWindow, "Occurrences", okObjective), "  indicator:\n", "  indicatorRef: nope\n  x:\n", 1),
		"in.yaml:7: spec.indicatorRef: no SLI document named \"nope\"")
	f("wrong apiVersion", "apiVersion: openslo/v2alpha\nkind: SLO\nmetadata: {name: x}\n", `in.yaml:1: apiVersion: want openslo/v1, got "openslo/v2alpha"`)
	f("invalid YAML", "apiVersion: [\n", "in.yaml:1: invalid YAML")
	f("unknown slogate annotation", strings.Replace(sloDocText(ok, okWindow, "Occurrences", okObjective), "  name: web\nspec:", "  name: web\n  annotations: {slogate/colour: red}\nspec:", 1),
		"in.yaml:5: metadata.annotations.slogate/colour: unknown slogate annotation")
	f("SLO twice", sloDocText(ok, okWindow, "Occurrences", okObjective)+"---\n"+sloDocText(ok, okWindow, "Occurrences", okObjective),
		"in.yaml:33: metadata.name: SLO web defined twice")
	f("name that cannot be a label value", strings.Replace(sloDocText(ratio(`sum by (namespace, ingress, host, path) (rate(nginx_ingress_controller_requests{status!~"5.."}[5m]))`, `sum by (namespace, ingress, host, path) (rate(nginx_ingress_controller_requests[5m]))`), okWindow, "Occurrences", okObjective), "name: web\nspec", "name: web shop\nspec", 1),
		`in.yaml:4: metadata.name: "web shop" cannot name a slogate objective`)
	unknown := strings.Replace(sloDocText(ok, okWindow, "Occurrences", okObjective), "kind: SLO\n", "kind: SLO\nstatus: {}\n", 1)
	f("unknown field", unknown, "in.yaml:3: status: unknown field; OpenSLO v1 knows: apiVersion, kind, metadata, spec")
	if _, err := Import(nil, []File{{Name: "in.yaml", Data: []byte(unknown)}}); err == nil || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("an unknown field is reported once, got %v", err)
	}
	f("no SLO at all", "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: x}\n", "no SLO documents in in.yaml")
}

func TestImportWithBaseConfig(t *testing.T) {
	base := readTestdata(t, "../../config/testdata/example.yml")[0]
	doc := sloDocText(ratio(`sum by (service, path) (rate(gw_requests_total{env="prod", code!~"5..|429"}[5m]))`, `sum by (service, path) (rate(gw_requests_total{env="prod"}[5m]))`),
		okWindow, "Occurrences", okObjective)
	out, err := Import(&base, []File{{Name: "gw.yaml", Data: []byte(doc)}})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	cfg, err := config.ParseConfig("out", out)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := config.ParseConfig("example", base.Data)
	// The objectives are replaced; sources, contracts, release and
	// maintenance stay.
	if len(cfg.Objectives) != 1 || cfg.Objectives[0].Name != "web" || cfg.Objectives[0].Match["source"].String() != "^(?:api-gateway)$" ||
		len(cfg.Services) != 0 || len(cfg.Sources) != len(orig.Sources) || len(cfg.Contracts) != len(orig.Contracts) ||
		len(cfg.Maintenance) != len(orig.Maintenance) || !strings.HasPrefix(string(out), "# slogate configuration: a complete example") {
		t.Fatalf("unexpected config:\n%s", out)
	}
	// A latency bucket other than the source's is refused.
	doc = sloDocText(ratio(`sum by (service) (rate(http_request_duration_seconds_bucket{le="0.5"}[5m]))`, `sum by (service) (rate(http_request_duration_seconds_bucket{le="+Inf"}[5m]))`),
		okWindow, "Occurrences", okObjective)
	if _, err := Import(&base, []File{{Name: "lat.yaml", Data: []byte(doc)}}); err == nil || !strings.Contains(err.Error(), `lat.yaml:17: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: le="0.5", but source checkout-latency counts le=0.3 as good`) {
		t.Fatalf("want the le refused, got %v", err)
	}
}

// TestRoundTripConfig: config -> export -> import -> the same objectives
// and services.
func TestRoundTripConfig(t *testing.T) {
	base := readTestdata(t, "../../config/testdata/example.yml")[0]
	orig, err := config.ParseConfig(base.Name, base.Data)
	if err != nil {
		t.Fatal(err)
	}
	// Rules the example lacks: no name, a rolling window in hours, slices
	// skipping empty ones, a service name that is not an RFC 1123 label.
	extra := []byte(strings.Replace(string(base.Data), "services:\n", `  - kind: availability
    match: {host: "api\\..*", source: "ingress-nginx|istio"}
    slo: 0.99
    window: 36h
    budgeting: timeslices
    slice: 10m
    sliceTarget: 0.95
    emptySlices: skip
services:
  - name: Everything_All
    slo: 0.999
    window: week
`, 1))
	withExtra, err := config.ParseConfig("extra", extra)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		cfg  *config.Config
	}{{"example", base.Data, orig}, {"extra", extra, withExtra}} {
		docs, err := Export(c.cfg)
		if err != nil {
			t.Fatalf("%s: export: %v", c.name, err)
		}
		got := mustImport(t, &File{Name: c.name, Data: c.data}, []File{{Name: "exported.yaml", Data: docs}})
		if g, w := views(got), views(c.cfg); !slices.Equal(g, w) {
			t.Fatalf("%s: round trip changed the rules:\n got %+v\nwant %+v\nexported:\n%s", c.name, g, w, docs)
		}
		if len(views(c.cfg)) < 5 {
			t.Fatalf("%s: too few rules to be a test: %d", c.name, len(views(c.cfg)))
		}
	}
}

// TestRoundTripOpenSLO: OpenSLO -> import -> export -> import gives the
// same config.
func TestRoundTripOpenSLO(t *testing.T) {
	first, err := Import(nil, readTestdata(t, "spec-adapted.yaml", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg1, err := config.ParseConfig("first", first)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := Export(cfg1)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Import(&File{Name: "first", Data: first}, []File{{Name: "exported.yaml", Data: docs}})
	if err != nil {
		t.Fatalf("re-import: %v\n%s", err, docs)
	}
	if string(second) != string(first) {
		t.Fatalf("not stable:\nfirst:\n%s\nsecond:\n%s", first, second)
	}
	// And once more from the second export: the documents are stable too.
	cfg2, _ := config.ParseConfig("second", second)
	docs2, err := Export(cfg2)
	if err != nil || string(docs2) != string(docs) {
		t.Fatalf("export not stable (%v):\n%s\n---- vs ----\n%s", err, docs, docs2)
	}
}

func TestExportNothing(t *testing.T) {
	if _, err := Export(config.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "nothing to export") {
		t.Fatalf("want nothing to export, got %v", err)
	}
}

func TestParseQuery(t *testing.T) {
	f := func(s, want string) {
		t.Helper()
		q, err := parseQuery(s)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = formatQuery(q)
		}
		if !strings.Contains(got, want) {
			t.Errorf("parseQuery(%q) = %q, want %q", s, got, want)
		}
	}
	f(`sum(rate(m{a="x", b=~'y|z', c!="", d!~`+"`\\d+`"+`}[5m]))`, `sum(rate(m{a="x", b=~"y|z", c!="", d!~"\\d+"}[5m]))`)
	f(`sum by (a, b) (increase(m[1h]))`, `sum by (a, b) (rate(m[5m]))`)
	f(`sum(m{a="x"}) by (a)`, `sum by (a) (rate(m{a="x"}[5m]))`)
	f(`m`, `rate(m[5m])`)
	f(`sum(rate(m[5m])) by (a) by (b)`, `unexpected "by (b)"`)
	f(`sum by (a) (rate(m[5m])) by (b)`, "by given twice")
	f(`sum without (a) (rate(m[5m]))`, "sum without (...) is not supported")
	f(`sum(irate(m[5m]))`, "irate(...) is not supported")
	f(`sum(rate(m{a="x}[5m]))`, "unterminated string")
	f(`sum(rate(m{a~"x"}[5m]))`, "want one of = != =~ !~")
	f(`sum(rate(m[5m]))+1`, `unexpected "+1"`)
	f(strings.Repeat("x", maxQueryLen+1), "query too long")
}
