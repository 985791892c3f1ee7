package config

import (
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/slo"
)

// Bounds on objectives and services.
const (
	maxServices     = 100
	maxCreditTiers  = 20
	defaultSlice    = 5 * time.Minute
	defaultSliceTgt = 0.99
)

// targetKeys are the keys route objectives and services share: targets,
// window, budgeting and credits.
var targetKeys = []string{"slo", "sla", "window", "timezone", "budgeting", "slice", "sliceTarget", "emptySlices", "credits"}

// targets are the parsed targetKeys of one objective or service.
type targets struct {
	SLO, SLA float64
	Window   slo.Window
	Slices   slo.Slices
	Credits  []slo.Credit
}

func (p *cfgParser) objectives(n *yaml.Node) []ObjectiveRule {
	var out []ObjectiveRule
	for i, it := range p.seq(n, "objectives") {
		path := fmt.Sprintf("objectives[%d]", i)
		f, it := p.fields(it, path, append([]string{"name", "kind", "match"}, targetKeys...)...)
		if it == nil {
			continue
		}
		var r ObjectiveRule
		if f["name"] != nil {
			r.Name = p.name(f["name"], it, path+".name")
		}
		if r.Kind, _ = p.str(f["kind"], path+".kind"); r.Kind != "" && r.Kind != "availability" && r.Kind != "latency" {
			p.errf(f["kind"], path+".kind", "want availability or latency, got %q", r.Kind)
		}
		r.Match, r.match = p.regexMap(f["match"], path+".match", true)
		tg := p.targets(f, it, path)
		r.SLO, r.SLA, r.Window, r.Slices, r.Credits = tg.SLO, tg.SLA, tg.Window, tg.Slices, tg.Credits
		out = append(out, r)
	}
	return out
}

// services parses the top-level services list; each service's objective
// is named after the service.
func (p *cfgParser) services(n *yaml.Node) []budget.Service {
	var out []budget.Service
	items := p.seq(n, "services")
	if len(items) > maxServices {
		p.errf(n, "services", "too many services: %d, at most %d", len(items), maxServices)
		return nil
	}
	for i, it := range items {
		path := fmt.Sprintf("services[%d]", i)
		f, it := p.fields(it, path, append([]string{"name", "match", "by"}, targetKeys...)...)
		if it == nil {
			continue
		}
		var s budget.Service
		s.Name = p.name(f["name"], it, path+".name")
		if s.Name != "" && slices.ContainsFunc(out, func(o budget.Service) bool { return o.Name == s.Name }) {
			p.errf(f["name"], path+".name", "service %s defined twice", s.Name)
		}
		_, s.Match = p.regexMap(f["match"], path+".match", true)
		s.By = p.byLabels(f["by"], path+".by")
		tg := p.targets(f, it, path)
		s.Objective = budget.Objective{Name: s.Name, SLO: tg.SLO, SLA: tg.SLA, Window: tg.Window, Slices: tg.Slices, Credits: tg.Credits}
		out = append(out, s)
	}
	return out
}

// byLabels parses a service's by list: labels routes carry (route,
// contract or `source`), each once. `service` and slogate's other labels
// are refused: the service's series carry them already.
func (p *cfgParser) byLabels(n *yaml.Node, path string) []string {
	var out []string
	items := p.seq(n, path)
	if len(items) > maxRouteLabels {
		p.errf(n, path, "too many labels: %d, at most %d", len(items), maxRouteLabels)
		return nil
	}
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", path, i)
		l, ok := p.str(it, ip)
		switch {
		case !ok:
		case !budget.ValidLabelName(l):
			p.errf(it, ip, "%q is not a valid label name", l)
		case l == "service" || l != "source" && isReservedLabel(l):
			p.errf(it, ip, "%s is reserved: slogate sets it on a service's series", l)
		case !p.known[l]:
			p.errf(it, ip, "no source or contract has label %s", l)
		case slices.Contains(out, l):
			p.errf(it, ip, "%s listed twice", l)
		default:
			out = append(out, l)
		}
	}
	return out
}

// targets parses the targetKeys of the mapping f at path (it is the
// mapping, for errors about missing keys).
func (p *cfgParser) targets(f map[string]*yaml.Node, it *yaml.Node, path string) targets {
	var tg targets
	if v := f["slo"]; v == nil {
		p.errf(it, path+".slo", "required: the internal objective as a ratio, e.g. 0.999")
	} else if x, ok := p.float(v, path+".slo"); ok {
		if tg.SLO = x; !(x > 0 && x < 1) {
			p.errf(v, path+".slo", "must be in (0,1), got %s%s", fmtFloat(x), percentHint(x))
		}
	}
	if v := f["sla"]; v != nil {
		if x, ok := p.float(v, path+".sla"); ok {
			tg.SLA = x
			switch {
			case !(x >= 0 && x < 1):
				p.errf(v, path+".sla", "must be in (0,1), or 0 for none, got %s%s", fmtFloat(x), percentHint(x))
			case tg.SLO > 0 && tg.SLO < 1 && x > tg.SLO:
				p.errf(v, path+".sla", "%s exceeds slo %s; the internal objective is the stricter one", fmtFloat(x), fmtFloat(tg.SLO))
			}
		}
	}
	tz, _ := p.str(f["timezone"], path+".timezone")
	if _, err := slo.LoadLocation(tz); err != nil {
		p.errf(f["timezone"], path+".timezone", "%v", err)
		tz = ""
	}
	win, ok := "30d", true
	if f["window"] != nil {
		win, ok = p.str(f["window"], path+".window")
	}
	if w, err := slo.ParseWindow(win, tz); err != nil && ok {
		p.errf(f["window"], path+".window", "%v", err)
	} else {
		tg.Window = w
	}
	tg.Slices = p.slices(f, path)
	tg.Credits = p.credits(f["credits"], path+".credits")
	if len(tg.Credits) > 0 && tg.SLA == 0 {
		p.errf(f["credits"], path+".credits", "credits need an sla: the tiers are checked against the SLA availability")
	}
	return tg
}

// slices parses budgeting, slice, sliceTarget and emptySlices.
func (p *cfgParser) slices(f map[string]*yaml.Node, path string) slo.Slices {
	budgeting, _ := p.str(f["budgeting"], path+".budgeting")
	switch budgeting {
	case "", "occurrences":
		for _, k := range [...]string{"slice", "sliceTarget", "emptySlices"} {
			if v := f[k]; v != nil {
				p.errf(v, path+"."+k, "only with budgeting: timeslices")
			}
		}
		return slo.Slices{}
	case "timeslices":
	default:
		p.errf(f["budgeting"], path+".budgeting", "want occurrences or timeslices, got %q", budgeting)
		return slo.Slices{}
	}
	s := slo.Slices{Length: defaultSlice, Target: defaultSliceTgt}
	if v := f["slice"]; v != nil {
		if str, ok := p.str(v, path+".slice"); ok {
			d, err := time.ParseDuration(str)
			if err == nil {
				err = slo.Slices{Length: d, Target: 1}.Validate()
			}
			if err != nil || d <= 0 {
				p.errf(v, path+".slice", "want whole minutes from 1m to 1h that divide the hour (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h), got %q", str)
			} else {
				s.Length = d
			}
		}
	}
	if v := f["sliceTarget"]; v != nil {
		if x, ok := p.float(v, path+".sliceTarget"); ok {
			if !(x > 0 && x <= 1) {
				p.errf(v, path+".sliceTarget", "must be in (0,1], got %s%s", fmtFloat(x), percentHint(x))
			} else {
				s.Target = x
			}
		}
	}
	if v := f["emptySlices"]; v != nil {
		switch e, _ := p.str(v, path+".emptySlices"); e {
		case "good":
		case "skip":
			s.SkipEmpty = true
		default:
			p.errf(v, path+".emptySlices", "want good or skip, got %q", e)
		}
	}
	return s
}

// credits parses service-credit tiers: {below: <ratio>, percent: <0..100>}.
func (p *cfgParser) credits(n *yaml.Node, path string) []slo.Credit {
	items := p.seq(n, path)
	if len(items) > maxCreditTiers {
		p.errf(n, path, "too many tiers: %d, at most %d", len(items), maxCreditTiers)
		return nil
	}
	var out []slo.Credit
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", path, i)
		f, it := p.fields(it, ip, "below", "percent")
		if it == nil {
			continue
		}
		var c slo.Credit
		ok := true
		if v := f["below"]; v == nil {
			p.errf(it, ip+".below", "required: the SLA availability under which the tier applies, e.g. 0.999")
			ok = false
		} else if x, good := p.float(v, ip+".below"); !good {
			ok = false
		} else if c.Below = x; !(x > 0 && x <= 1) {
			p.errf(v, ip+".below", "must be in (0,1], got %s%s", fmtFloat(x), percentHint(x))
			ok = false
		}
		if v := f["percent"]; v == nil {
			p.errf(it, ip+".percent", "required: the credit in percent of the period's fee, e.g. 10")
			ok = false
		} else if x, good := p.float(v, ip+".percent"); !good {
			ok = false
		} else if c.Percent = x; !(x > 0 && x <= 100) {
			p.errf(v, ip+".percent", "must be in (0,100], got %s", fmtFloat(x))
			ok = false
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}
