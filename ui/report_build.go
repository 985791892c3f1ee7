package ui

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/maintenance"
	"github.com/slogate/slogate/slo"
)

// reportPeriod is a calendar month, quarter or year; its instants depend
// on the time zone (bounds).
type reportPeriod struct {
	label, kind string
	year        int
	month       time.Month // the first month
	months      int
}

// parsePeriod parses YYYY-MM, YYYY-Qn or YYYY; "" is the current month in
// UTC.
func parsePeriod(s string, now time.Time) (reportPeriod, error) {
	month := func(y int, m time.Month) reportPeriod {
		return reportPeriod{label: fmt.Sprintf("%04d-%02d", y, m), kind: slo.PeriodMonth, year: y, month: m, months: 1}
	}
	if s == "" {
		y, m, _ := now.UTC().Date()
		return month(y, m), nil
	}
	bad := fmt.Errorf("cannot parse period %q: want a month YYYY-MM (2026-11), a quarter YYYY-Qn (2026-Q4) or a year YYYY (2026): %w", s, errBadRequest)
	if len(s) < 4 {
		return reportPeriod{}, bad
	}
	y, err := strconv.Atoi(s[:4])
	if err != nil || y < 1970 || y >= 2200 || s[0] == '+' || s[0] == '-' {
		return reportPeriod{}, bad
	}
	switch rest := s[4:]; {
	case rest == "":
		return reportPeriod{label: s, kind: slo.PeriodYear, year: y, month: time.January, months: 12}, nil
	case len(rest) == 3 && rest[:2] == "-Q" && rest[2] >= '1' && rest[2] <= '4':
		q := int(rest[2] - '0')
		return reportPeriod{label: s, kind: slo.PeriodQuarter, year: y, month: time.Month(3*q - 2), months: 3}, nil
	case len(rest) == 3 && rest[0] == '-':
		m, err := strconv.Atoi(rest[1:])
		if err != nil || m < 1 || m > 12 || rest[1] == '+' {
			return reportPeriod{}, bad
		}
		return month(y, time.Month(m)), nil
	}
	return reportPeriod{}, bad
}

// bounds returns the period's first instant and the one after it, at
// local midnight in loc.
func (p reportPeriod) bounds(loc *time.Location) (start, end time.Time) {
	start = time.Date(p.year, p.month, 1, 0, 0, 0, 0, loc)
	return start, start.AddDate(0, p.months, 0)
}

// reportRoute is a route found in VictoriaMetrics, with its objective.
type reportRoute struct {
	key    string
	labels []budget.Label // the series' labels without __name__ and result
	obj    budget.Objective
	src    *budget.Source
	loc    *time.Location
}

// reportBuild is one report in the making.
type reportBuild struct {
	r        *Report
	cfg      *config.Config
	tenant   budget.Tenant
	now      time.Time
	period   reportPeriod
	sel      string
	masks    []*maintenance.Window
	customer string

	routes    map[string]ReportRoute       // route rows by route key
	contracts map[string]map[string]string // their contract labels
	services  []*serviceSLI
}

// serviceSLI is one value set of a service's by labels in the making.
type serviceSLI struct {
	order   int // the service's index in the configuration
	svc     *budget.Service
	labels  []budget.Label // by labels, in by order
	members []string       // route keys
	fig     ReportFigures
}

// Build makes the report that req asks for.
func (r *Report) Build(req ReportRequest) (*ReportJSON, error) {
	now := r.cfg.Now()
	per, err := parsePeriod(req.Period, now)
	if err != nil {
		return nil, err
	}
	var tenant budget.Tenant
	if req.Tenant != "" {
		if tenant, err = budget.ParseTenant([]byte(req.Tenant)); err != nil {
			return nil, fmt.Errorf("%w: %w", err, errBadRequest)
		}
	}
	if tenant != (budget.Tenant{}) && !r.cfg.Client.Cluster() {
		return nil, fmt.Errorf("cannot report tenant %s: the upstream is a single-node VictoriaMetrics, which holds tenant 0 only (a cluster needs -upstream.cluster and a vmselect -upstream.readURL): %w", tenant, errBadRequest)
	}
	rep := &ReportJSON{Period: per.label, PeriodKind: per.kind, Tenant: tenant.String(), Customer: req.Customer,
		GeneratedAt: now.UTC().Format(time.RFC3339), Services: []ReportService{}, Contracts: []ReportContract{}}
	if first, _ := per.bounds(time.UTC); first.Add(-14 * time.Hour).After(now) {
		return nil, fmt.Errorf("cannot report period %s: it has not started: %w", rep.Period, errBadRequest)
	}
	b := &reportBuild{r: r, cfg: r.cfg.Config(), tenant: tenant, now: now, period: per, customer: req.Customer,
		sel: `slo_requests_total{route!=""}`, routes: map[string]ReportRoute{}, contracts: map[string]map[string]string{}}
	if req.Customer != "" {
		b.sel = `slo_requests_total{route!="",customer=` + strconv.Quote(req.Customer) + `}`
	}
	if r.cfg.Maintenance != nil {
		b.masks = r.cfg.Maintenance.List()
	}
	// One pass per time zone the configuration uses: the period starts
	// and ends at a different instant in each.
	for _, loc := range b.locations() {
		if err := b.pass(loc); err != nil {
			return nil, err
		}
	}
	contracts := map[string]*ReportContract{}
	for key, row := range b.routes {
		contract := b.contracts[key]
		ck := seriesKey(contract)
		c := contracts[ck]
		if c == nil {
			c = &ReportContract{Customer: contract["customer"], Contract: contract}
			contracts[ck] = c
		}
		c.Routes = append(c.Routes, row)
	}
	for _, k := range slices.Sorted(maps.Keys(contracts)) {
		c := contracts[k]
		sortRoutes(c.Routes)
		rep.Contracts = append(rep.Contracts, *c)
	}
	slices.SortFunc(b.services, func(x, y *serviceSLI) int {
		return cmp.Or(cmp.Compare(x.order, y.order), slices.CompareFunc(x.labels, y.labels, func(a, b budget.Label) int { return strings.Compare(a.Value, b.Value) }))
	})
	for _, s := range b.services {
		row := ReportService{Service: s.svc.Name, Labels: map[string]string{}, ReportFigures: s.fig, Routes: []ReportRoute{}}
		for _, l := range s.labels {
			row.Labels[l.Name] = l.Value
		}
		for _, k := range s.members {
			if rt, ok := b.routes[k]; ok {
				row.Routes = append(row.Routes, rt)
			}
		}
		sortRoutes(row.Routes)
		rep.Services = append(rep.Services, row)
	}
	return rep, nil
}

func sortRoutes(rs []ReportRoute) {
	slices.SortFunc(rs, func(a, b ReportRoute) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Objective, b.Objective))
	})
}

// pass reports the routes whose objective is in loc and the services in
// loc, over the period's bounds in loc.
func (b *reportBuild) pass(loc *time.Location) error {
	start, end := b.period.bounds(loc)
	if start.After(b.now) {
		return nil
	}
	until := end
	if b.now.Before(end) {
		until = b.now
	}
	raw, err := b.r.increase(b.tenant, b.sel, start, until)
	if err != nil {
		return err
	}
	lo, endMin := budget.Interval{Start: start.UnixMilli(), End: end.UnixMilli()}.Minutes()
	_, hi := budget.Interval{Start: start.UnixMilli(), End: until.UnixMilli()}.Minutes()
	sameLoc := func(l *time.Location) bool { return l.String() == loc.String() }

	// The routes of this pass, and the services' members among all routes.
	var own []reportRoute
	all := map[string]reportRoute{}
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		rt := b.resolve(key, raw[key].labels)
		all[key] = rt
		if sameLoc(rt.loc) {
			own = append(own, rt)
		}
	}
	var svcs []*serviceSLI
	for i := range b.cfg.Services {
		s := &b.cfg.Services[i]
		if !sameLoc(windowLoc(s.Objective.Window)) || b.customer != "" && !slices.Contains(s.By, "customer") {
			continue
		}
		byKey := map[string]*serviceSLI{}
		for _, key := range slices.Sorted(maps.Keys(all)) {
			rt := all[key]
			source, _ := labelOf(rt.labels, "source")
			if !s.Match.Match(rt.labels, nil, source) {
				continue
			}
			labels := make([]budget.Label, len(s.By))
			for j, n := range s.By {
				v, _ := labelOf(rt.labels, n)
				labels[j] = budget.Label{Name: n, Value: v}
			}
			k := seriesKey(labelMap(labels))
			sli := byKey[k]
			if sli == nil {
				sli = &serviceSLI{order: i, svc: s, labels: labels}
				byKey[k] = sli
				svcs = append(svcs, sli)
			}
			sli.members = append(sli.members, key)
		}
	}

	// Maintenance: each needed route's minutes in its windows.
	spans := map[string][]span{}
	for _, rt := range own {
		spans[rt.key] = routeSpans(rt, b.masks, lo, endMin)
	}
	for _, s := range svcs {
		for _, k := range s.members {
			if _, ok := spans[k]; !ok {
				spans[k] = routeSpans(all[k], b.masks, lo, endMin)
			}
		}
	}
	excl, err := b.r.excluded(b.tenant, b.sel, spans, hi)
	if err != nil {
		return err
	}

	// Time slices: one accumulator per slice objective of the pass.
	var accs []*sliceAcc
	routeAcc := map[string]*sliceAcc{}
	feeds := map[string][]sliceFeed{}
	for _, rt := range own {
		if rt.obj.Slices.Enabled() {
			a := newSliceAcc(rt.obj.Slices, gridPhase(rt.obj.Window), lo, hi, endMin, spans[rt.key])
			accs = append(accs, a)
			routeAcc[rt.key] = a
			feeds[rt.key] = append(feeds[rt.key], sliceFeed{a, spans[rt.key]})
		}
	}
	svcAcc := map[*serviceSLI]*sliceAcc{}
	for _, s := range svcs {
		if s.svc.Objective.Slices.Enabled() {
			a := newSliceAcc(s.svc.Objective.Slices, gridPhase(s.svc.Objective.Window), lo, hi, endMin, serviceSpans(s.members, spans))
			accs = append(accs, a)
			svcAcc[s] = a
			for _, k := range s.members {
				feeds[k] = append(feeds[k], sliceFeed{a, spans[k]})
			}
		}
	}
	if len(accs) > 0 {
		if err := b.r.sliceCounts(b.tenant, b.sel, b.customer, start, until, lo, hi, accs, feeds); err != nil {
			return err
		}
	}

	bounds := periodBounds{loc: loc, start: start, end: end, until: until}
	for _, rt := range own {
		c, e := raw[rt.key], excl[rt.key]
		fig := figuresOf(rt.obj, bounds, c, e, spanMinutes(spans[rt.key]), routeAcc[rt.key])
		if name, ok := labelOf(rt.labels, "slo"); ok {
			fig.Objective = name // as written during the period
		}
		fig.Maintenance = routeWindows(rt, b.masks, start, until)
		row := ReportRoute{Labels: map[string]string{}, ReportFigures: fig}
		row.Route, _ = labelOf(rt.labels, "route")
		row.Source, _ = labelOf(rt.labels, "source")
		if rt.src != nil {
			for _, n := range rt.src.RouteLabels {
				row.Labels[n], _ = labelOf(rt.labels, n)
			}
		}
		b.routes[rt.key] = row
		_, b.contracts[rt.key] = contractOf(rt)
	}
	for _, s := range svcs {
		var sum, sumExcl counts
		var windows []ReportWindow
		for _, k := range s.members {
			sum.good += raw[k].good
			sum.bad += raw[k].bad
			sumExcl.good += min(excl[k].good, raw[k].good)
			sumExcl.bad += min(excl[k].bad, raw[k].bad)
			windows = append(windows, routeWindows(all[k], b.masks, start, until)...)
		}
		s.fig = figuresOf(s.svc.Objective, bounds, sum, sumExcl, spanMinutes(serviceSpans(s.members, spans)), svcAcc[s])
		slices.SortFunc(windows, func(a, b ReportWindow) int { return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.ID, b.ID)) })
		s.fig.Maintenance = slices.Compact(windows)
		b.services = append(b.services, s)
	}
	return nil
}

// windowLoc is the time zone of a window's period boundaries: its own for
// calendar windows, UTC otherwise.
func windowLoc(w slo.Window) *time.Location {
	if w.Kind == slo.Calendar && w.Location != nil {
		return w.Location
	}
	return time.UTC
}

// gridPhase is the slice grid's phase of an objective's window (see
// slo.SlicePhase): the zone's for calendar windows, 0 otherwise.
func gridPhase(w slo.Window) int64 {
	if w.Kind == slo.Calendar {
		return slo.SlicePhase(windowLoc(w))
	}
	return 0
}

// locations are the time zones of the configuration's calendar
// objectives and services, and UTC, by name.
func (b *reportBuild) locations() []*time.Location {
	out := []*time.Location{time.UTC}
	add := func(w slo.Window) {
		if l := windowLoc(w); !slices.ContainsFunc(out, func(x *time.Location) bool { return x.String() == l.String() }) {
			out = append(out, l)
		}
	}
	for _, o := range b.cfg.Objectives {
		add(o.Window)
	}
	for _, s := range b.cfg.Services {
		add(s.Objective.Window)
	}
	return out
}

// resolve finds a series' source and objective as the engine would.
func (b *reportBuild) resolve(key string, labels []budget.Label) reportRoute {
	rt := reportRoute{key: key, labels: labels, loc: time.UTC}
	srcName, _ := labelOf(labels, "source")
	for i := range b.cfg.Sources {
		if b.cfg.Sources[i].Name == srcName {
			rt.src = &b.cfg.Sources[i]
		}
	}
	if rt.src == nil {
		// A source no longer configured: the default objective, in UTC.
		rt.obj = budget.Objective{SLO: 0.999}
		rt.obj.Name, _ = labelOf(labels, "slo")
		return rt
	}
	ident := make([]budget.Label, len(rt.src.RouteLabels))
	for i, n := range rt.src.RouteLabels {
		v, _ := labelOf(labels, n)
		ident[i] = budget.Label{Name: n, Value: v}
	}
	rt.obj = b.cfg.Resolve(rt.src, ident)
	rt.loc = windowLoc(rt.obj.Window)
	return rt
}

// contractOf returns a route's contract labels (those that are neither
// identity labels nor slogate's own) and a key that groups them.
func contractOf(rt reportRoute) (string, map[string]string) {
	m := map[string]string{}
	for _, l := range rt.labels {
		if l.Name == "slo" || l.Name == "route" || l.Name == "source" || rt.src != nil && slices.Contains(rt.src.RouteLabels, l.Name) {
			continue
		}
		m[l.Name] = l.Value
	}
	return seriesKey(m), m
}

// periodBounds are a period's instants in one time zone.
type periodBounds struct {
	loc               *time.Location
	start, end, until time.Time
}

// figuresOf computes the figures of an objective over a period from the
// raw and excluded events (summed over a service's routes), the minutes of
// the period in maintenance and, for time slices, the slice accumulator.
func figuresOf(obj budget.Objective, pb periodBounds, raw, excl counts, maintained int64, acc *sliceAcc) ReportFigures {
	f := ReportFigures{
		Objective: obj.Name,
		Timezone:  pb.loc.String(),
		Start:     pb.start.Format(time.RFC3339),
		End:       pb.end.Format(time.RFC3339),
		Until:     pb.until.In(pb.loc).Format(time.RFC3339),
		Complete:  !pb.until.Before(pb.end),
		Target:    obj.SLO, TargetKind: "slo",
		Budgeting:   "occurrences",
		Credits:     []ReportCredit{},
		Maintenance: []ReportWindow{},
	}
	if obj.SLA > 0 {
		f.Target, f.TargetKind = obj.SLA, "sla"
		for _, c := range obj.Credits {
			f.Credits = append(f.Credits, ReportCredit{Below: c.Below, Percent: c.Percent})
		}
	}
	good, bad := toCount(raw.good), toCount(raw.bad)
	exGood, exBad := min(toCount(excl.good), good), min(toCount(excl.bad), bad)
	f.Requests, f.Excluded, f.Bad = good+bad, exGood+exBad, bad-exBad
	if counted := f.Requests - f.Excluded; counted > 0 {
		a := 1 - float64(f.Bad)/float64(counted)
		f.Availability = &a
	}
	var allowed, used float64
	if acc == nil {
		judged := max(pb.end.Sub(pb.start).Seconds()-float64(maintained)*60, 0)
		f.JudgedSeconds = judged
		allowed = (1 - f.Target) * judged
		if f.Availability != nil {
			used = (1 - *f.Availability) * judged
		}
		f.Compliance = f.Availability
	} else {
		c, total := acc.counts()
		l := float64(acc.l * 60)
		f.Budgeting, f.SliceSeconds, f.SliceTarget = "timeslices", l, acc.sl.Target
		f.Slices = &ReportSlices{Good: c.Good, Bad: c.Bad, Excluded: c.Excluded, Total: uint64(total)}
		if judged := c.Good + c.Bad; judged > 0 {
			g := float64(c.Good) / float64(judged)
			f.GoodSliceRatio = &g
		}
		f.JudgedSeconds = float64(max(total-int64(c.Excluded), 0)) * l
		allowed = (1 - f.Target) * f.JudgedSeconds
		used = float64(c.Bad) * l
		f.Compliance = f.GoodSliceRatio
	}
	// Compared with a relative tolerance: 1 - 0.999 is not exact in
	// binary. Shown to the millisecond.
	f.Met = used <= allowed*(1+1e-9)
	f.JudgedSeconds = roundMs(f.JudgedSeconds)
	f.AllowedSeconds, f.UsedSeconds = roundMs(allowed), roundMs(used)
	f.Status = "breached"
	if f.Met {
		f.Status = "met"
	}
	if obj.SLA > 0 && len(obj.Credits) > 0 && f.Compliance != nil {
		p := slo.CreditFor(obj.Credits, *f.Compliance)
		f.CreditPercent = &p
	}
	return f
}

func roundMs(s float64) float64 { return math.Round(s*1e3) / 1e3 }

func toCount(v float64) uint64 {
	if !(v > 0) {
		return 0
	}
	return uint64(math.Round(v))
}

// routeWindows lists the occurrences of the windows matching a route that
// overlap [start, until).
func routeWindows(rt reportRoute, masks []*maintenance.Window, start, until time.Time) []ReportWindow {
	out := []ReportWindow{}
	for _, m := range masks {
		if !m.Matches(rt.labels) {
			continue
		}
		for _, iv := range m.AppendIntervals(nil, start.UnixMilli(), until.UnixMilli()) {
			out = append(out, ReportWindow{ID: m.ID, Reason: m.Reason, Author: m.Author,
				Start: time.UnixMilli(iv.Start).UTC().Format(time.RFC3339), End: time.UnixMilli(iv.End).UTC().Format(time.RFC3339)})
		}
	}
	slices.SortFunc(out, func(a, b ReportWindow) int { return cmp.Compare(a.Start, b.Start) })
	return out
}
