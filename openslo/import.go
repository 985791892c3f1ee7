// Package openslo translates between OpenSLO v1 documents
// (https://github.com/OpenSLO/OpenSLO, README "Specification") and
// slogate's configuration file: Import turns SLO, SLI and Service documents
// into the objectives and services of a config file, refusing with
// file:line what slogate cannot express; Export writes a config's
// objectives and services as OpenSLO documents that Import reads back to
// the same values.
//
// It reads and writes bytes only (no files, no network); it may import
// config, budget and slo, and nothing that serves HTTP.
package openslo

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
)

// File is a named input: the name appears in error messages.
type File struct {
	Name string
	Data []byte
}

// Annotations slogate reads and writes; metadata.annotations is where
// OpenSLO puts implementation-specific settings.
const (
	annKind        = "slogate/kind"        // objective rule kind: availability or latency
	annService     = "slogate/service"     // the service name when it is not an RFC 1123 name
	annEmptySlices = "slogate/emptySlices" // good or skip
	annCredits     = "slogate/credits"     // below:percent,... e.g. 0.999:10,0.99:25
)

// syntheticMetric is slogate's own counter of good and bad events per
// route (package synthetic); it carries the contract labels too.
const syntheticMetric = "slo_requests_total"

// Import reads OpenSLO v1 documents from files and returns a slogate config
// file holding them as objectives and services (README "OpenSLO" lists what
// maps to what). base is the config whose sources and contracts the
// queries may use; its objectives and services are replaced and everything
// else is kept. Without base, the queries may use the built-in presets.
//
// Every problem found is reported, up to 20, joined by newlines, each a
// *config.ConfigError "file:line: field: message".
func Import(base *File, files []File) ([]byte, error) {
	im := &importer{slis: map[string]sliDoc{}, sloNames: map[string]bool{}, presetLE: map[string]float64{}, known: map[string]bool{"source": true}}
	if base != nil {
		cfg, err := config.ParseConfig(base.Name, base.Data)
		if err != nil {
			return nil, err
		}
		im.base, im.sources = base, cfg.Sources
		for _, c := range cfg.Contracts {
			for _, l := range c.Labels {
				im.known[l.Name] = true
				im.contract = append(im.contract, l.Name)
			}
		}
	} else {
		im.sources = config.Presets()
	}
	for _, s := range im.sources {
		for _, l := range s.RouteLabels {
			im.known[l] = true
		}
	}
	var slos []pendingSLO
	for _, f := range files {
		for _, d := range readDocuments(f.Name, f.Data, &im.el) {
			if p := im.document(d); p != nil {
				slos = append(slos, *p)
			}
		}
	}
	for _, p := range slos {
		im.slo(p)
	}
	if len(im.el.errs) > 0 {
		return nil, im.el.err()
	}
	if len(im.rules) == 0 {
		return nil, fmt.Errorf("no SLO documents in %s", fileNames(files))
	}
	out, err := im.render()
	if err != nil {
		return nil, err
	}
	// The result must be a config slogate accepts; anything it refuses is
	// a gap in the checks above, reported against the generated text.
	if _, err := config.ParseConfig("(generated config)", out); err != nil {
		return nil, fmt.Errorf("cannot import: the generated config does not parse:\n%w", err)
	}
	return out, nil
}

func fileNames(files []File) string {
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

type importer struct {
	el       errList
	base     *File
	sources  []budget.Source
	contract []string // contract label names of base
	known    map[string]bool
	slis     map[string]sliDoc
	sloNames map[string]bool
	// presetLE is the bucket boundary chosen for each latency preset
	// (without base), from the queries' le matchers.
	presetLE map[string]float64
	rules    []rule
}

// sliDoc is an SLI document, found by indicatorRef.
type sliDoc struct {
	file string
	spec *yaml.Node
}

// pendingSLO is an SLO document whose envelope is read, waiting for every
// SLI to be known.
type pendingSLO struct {
	document
	f, meta map[string]*yaml.Node
}

// document reads the envelope of one document; SLOs are returned to be
// read once every SLI is known, SLIs are remembered, Services and
// DataSources checked.
func (im *importer) document(d document) *pendingSLO {
	r := reader{file: d.file, el: &im.el}
	f := r.fields(d.root, "", "apiVersion", "kind", "metadata", "spec")
	if f == nil {
		return nil
	}
	if v, _ := r.str(f["apiVersion"], "apiVersion"); v != "openslo/v1" {
		r.errf(orNode(f["apiVersion"], d.root), "apiVersion", "want openslo/v1, got %q", v)
		return nil
	}
	kind, _ := r.str(f["kind"], "kind")
	meta := r.fields(f["metadata"], "metadata", "name", "displayName", "labels", "annotations")
	name, _ := r.str(meta["name"], "metadata.name")
	if name == "" {
		r.errf(orNode(f["metadata"], d.root), "metadata.name", "required")
	}
	switch kind {
	case "SLO":
		return &pendingSLO{document: d, f: f, meta: meta}
	case "SLI":
		if prev, dup := im.slis[name]; dup {
			r.errf(meta["name"], "metadata.name", "SLI %s defined twice (first in %s)", name, prev.file)
		}
		im.slis[name] = sliDoc{file: d.file, spec: f["spec"]}
	case "Service":
		r.fields(f["spec"], "spec", "description")
	case "DataSource":
		// Connection details are vmagent's business; an SLI's query says
		// what slogate reads.
		r.fields(f["spec"], "spec", "description", "type", "connectionDetails")
	case "AlertPolicy", "AlertCondition", "AlertNotificationTarget":
		r.errf(f["kind"], "kind", "%s is not supported: slogate's alerts are the vmalert rules of deploy/vmalert over its burn-rate series", kind)
	default:
		r.errf(orNode(f["kind"], d.root), "kind", "want SLO, SLI, Service or DataSource, got %q", kind)
	}
	return nil
}

func orNode(n, parent *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return parent
}

// rule is one objective rule or service in the terms of the config file.
type rule struct {
	service     bool
	name, kind  string
	match       map[string]string // label -> pattern, anchored by config
	by          []string
	slo, sla    float64
	window, tz  string
	budgeting   string
	slice       string
	sliceTarget float64
	emptySlices string
	credits     string // config's credits, "below:percent,..."
}

// slo reads one SLO document into a rule.
func (im *importer) slo(d pendingSLO) {
	r := reader{file: d.file, el: &im.el}
	nerr := len(im.el.errs)
	f, meta := d.f, d.meta
	name := ""
	if n := resolve(meta["name"]); n != nil && n.Kind == yaml.ScalarNode {
		name = n.Value
	}
	ann := r.strMap(meta["annotations"], "metadata.annotations")
	spec := r.fields(f["spec"], "spec", "description", "service", "indicator", "indicatorRef", "timeWindow",
		"budgetingMethod", "objectives", "alertPolicies")
	if spec == nil {
		r.errf(orNode(f["spec"], d.root), "spec", "required")
		return
	}
	for k := range ann {
		if strings.HasPrefix(k, "slogate/") && !slices.Contains([]string{annKind, annService, annEmptySlices, annCredits}, k) {
			r.errf(valueNode(meta["annotations"], k), "metadata.annotations."+k, "unknown slogate annotation; known: %s, %s, %s, %s",
				annKind, annService, annEmptySlices, annCredits)
		}
	}
	var ru rule
	// The indicator: inline or by reference to an SLI document.
	var ind indicator
	var ok bool
	switch in, ref := spec["indicator"], spec["indicatorRef"]; {
	case in != nil && ref != nil:
		r.errf(ref, "spec.indicatorRef", "give indicator or indicatorRef, not both")
	case in != nil:
		sf := r.fields(in, "spec.indicator", "metadata", "spec")
		ind, ok = im.indicator(r, sf["spec"], orNode(sf["spec"], in), "spec.indicator.spec")
	case ref != nil:
		refName, _ := r.str(ref, "spec.indicatorRef")
		sli, found := im.slis[refName]
		if !found {
			r.errf(ref, "spec.indicatorRef", "no SLI document named %q in the files given", refName)
			break
		}
		ind, ok = im.indicator(reader{file: sli.file, el: &im.el}, sli.spec, sli.spec, "spec")
	default:
		r.errf(f["spec"], "spec.indicator", "required: an indicator or an indicatorRef")
	}
	if ok {
		ru.service, ru.match, ru.by = !ind.perRoute, ind.match, ind.by
		ru.kind, ru.name = ind.kind, ind.name
		if !ind.perRoute {
			ru.kind, ru.name = "", name
			if s := ann[annService]; s != "" {
				ru.name = s
			}
			if !validName(ru.name) {
				r.errf(meta["name"], "metadata.name", "%q cannot name a slogate service: want 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", ru.name)
			}
		} else {
			if ind.fromSource {
				ru.name = name
			}
			if ru.name != "" && !validName(ru.name) {
				r.errf(meta["name"], "metadata.name", "%q cannot name a slogate objective (the label slo): want 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", ru.name)
			}
		}
		if k, has := ann[annKind]; has {
			switch {
			case k != "availability" && k != "latency":
				r.errf(valueNode(meta["annotations"], annKind), "metadata.annotations."+annKind, "want availability or latency, got %q", k)
			case !ind.perRoute:
				r.errf(valueNode(meta["annotations"], annKind), "metadata.annotations."+annKind, "only for one SLI per route: a service sums routes of any kind")
			case ind.fromSource && k != ind.kind:
				r.errf(valueNode(meta["annotations"], annKind), "metadata.annotations."+annKind, "%s, but the query reads a %s source", k, ind.kind)
			default:
				ru.kind = k
			}
		}
	}
	im.window(r, spec["timeWindow"], &ru)
	im.objectives(r, spec, &ru)
	if v := ann[annEmptySlices]; v != "" {
		switch {
		case ru.budgeting != "timeslices":
			r.errf(valueNode(meta["annotations"], annEmptySlices), "metadata.annotations."+annEmptySlices, "only with budgetingMethod: Timeslices")
		case v != "good" && v != "skip":
			r.errf(valueNode(meta["annotations"], annEmptySlices), "metadata.annotations."+annEmptySlices, "want good or skip, got %q", v)
		default:
			ru.emptySlices = v
		}
	}
	if v := ann[annCredits]; v != "" {
		if _, err := parseCredits(v); err != nil {
			r.errf(valueNode(meta["annotations"], annCredits), "metadata.annotations."+annCredits, "%v", err)
		} else if ru.sla == 0 {
			r.errf(valueNode(meta["annotations"], annCredits), "metadata.annotations."+annCredits, "credits need an SLA: give two objectives, the lower target is the SLA")
		}
		ru.credits = v
	}
	if ap := r.seq(spec["alertPolicies"], "spec.alertPolicies"); len(ap) > 0 {
		r.errf(ap[0], "spec.alertPolicies", "not supported: slogate's alerts are the vmalert rules of deploy/vmalert over its burn-rate series")
	}
	if ru.service {
		for _, o := range im.rules {
			if o.service && o.name == ru.name {
				r.errf(meta["name"], "metadata.name", "service %s defined twice", ru.name)
			}
		}
	}
	if im.sloNames[name] {
		r.errf(meta["name"], "metadata.name", "SLO %s defined twice", name)
	}
	im.sloNames[name] = true
	if len(im.el.errs) == nerr {
		im.rules = append(im.rules, ru)
	}
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validName is config's rule for source, objective and service names.
func validName(s string) bool { return nameRe.MatchString(s) }
