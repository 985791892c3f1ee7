package ui

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/maintenance"
)

// pageView is what page.html renders; page.js derives the same from the
// JSON API.
type pageView struct {
	Host, Query, Sort string
	Services          []viewRow
	ServicesShown     int
	Groups            []viewGroup
	AtRisk            []viewRisk
	Windows           []viewWindow
	Routes, Shown     int
	EvaluatedAt       string
	MutationsEnabled  bool
	HasMaintenance    bool
	RetroactiveLimit  string
}

type viewGroup struct {
	Title  string
	Hidden bool
	Rows   []viewRow
	key    float64
}

// viewRow is a route's row, or a service SLI's (Route is then the
// service's name and Labels its By labels).
type viewRow struct {
	Class                           string // "route" or "service"
	ID, Search, Route, Meta, Labels string
	SLO, SLA, Availability          string
	// Slices sums up the compliance window's slices (time slices only).
	Slices                string
	Budgets               []viewBudget
	Burn                  []viewBurn
	Release               string
	Warnings, Maintenance []string
	// InMaintenance: the evaluation minute lies in a maintenance window
	// of the route (of every route of a service); the row shows a badge.
	InMaintenance      bool
	Hidden             bool
	budgetKey, burnKey float64
}

type viewBudget struct {
	Kind, Text string
	Meter      float64 // remaining ratio clamped to [0, 1]
	Low        bool    // exhausted
}

type viewBurn struct {
	Text, Class string
}

type viewRisk struct {
	ID, Text string
}

type viewWindow struct {
	State, When, Match, Reason, Author, ID, Source string
}

// Sort orders of the page; the first is the default.
var pageSorts = []string{"budget", "burn", "name"}

// burnWindows are the burn rates the page shows, by window name.
var burnWindows = []string{"5m", "1h", "6h", "1d", "3d"}

func (p *Page) view(query, sortBy string) *pageView {
	if !slices.Contains(pageSorts, sortBy) {
		sortBy = pageSorts[0]
	}
	now := p.cfg.Now()
	v := &pageView{Query: query, Sort: sortBy}
	var masks []*maintenance.Window
	if m := p.cfg.Maintenance; m != nil {
		v.HasMaintenance = true
		v.MutationsEnabled = len(m.Tokens) > 0
		// "72h", not "72h0m0s".
		lim := m.Store.Limit().String()
		if strings.HasSuffix(lim, "m0s") {
			lim = strings.TrimSuffix(strings.TrimSuffix(lim, "0s"), "0m")
		}
		v.RetroactiveLimit = lim
		masks = m.Store.List()
		ws := make([]MaintenanceWindowJSON, len(masks))
		for i, mw := range masks {
			ws[i] = m.windowJSON(mw)
		}
		v.Windows = viewWindows(ws, now)
	}
	soon := upcomingWindows(masks, now)
	terms := strings.Fields(strings.ToLower(query))
	groups := map[string]*viewGroup{}
	// Rows are made as the statuses are evaluated, routes first per
	// tenant; the services' risks are listed before the routes'.
	var routeRisks []viewRisk
	route := func(st *SLOStatus) {
		r := viewRowOf(st, soon)
		r.Hidden = !matchesTerms(r.Search, terms)
		title := groupTitle(st)
		g := groups[title]
		if g == nil {
			g = &viewGroup{Title: title}
			groups[title] = g
		}
		g.Rows = append(g.Rows, r)
		v.Routes++
		if !r.Hidden {
			v.Shown++
			for _, w := range r.Warnings {
				routeRisks = append(routeRisks, viewRisk{ID: r.ID, Text: title + " · " + r.Route + ": " + w})
			}
		}
		v.EvaluatedAt = max(v.EvaluatedAt, st.EvaluatedAt)
	}
	service := func(st *ServiceJSON) {
		r := viewServiceRow(st)
		r.Hidden = !matchesTerms(r.Search, terms)
		v.Services = append(v.Services, r)
		if !r.Hidden {
			v.ServicesShown++
			for _, w := range r.Warnings {
				v.AtRisk = append(v.AtRisk, viewRisk{ID: r.ID, Text: serviceTitle(st) + ": " + w})
			}
		}
		v.EvaluatedAt = max(v.EvaluatedAt, st.EvaluatedAt)
	}
	p.cfg.API.eachSLO(route, service)
	v.AtRisk = append(v.AtRisk, routeRisks...)
	sortRows(v.Services, sortBy)
	if v.EvaluatedAt != "" {
		v.EvaluatedAt = fmtRFC3339(v.EvaluatedAt)
	}
	for _, g := range groups {
		sortRows(g.Rows, sortBy)
		g.key = groupKey(g.Rows, sortBy)
		g.Hidden = !slices.ContainsFunc(g.Rows, func(r viewRow) bool { return !r.Hidden })
		v.Groups = append(v.Groups, *g)
	}
	slices.SortFunc(v.Groups, func(a, b viewGroup) int {
		if sortBy == "name" {
			return cmp.Compare(a.Title, b.Title)
		}
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.Title, b.Title))
	})
	return v
}

// sortRows orders a group's rows: "budget" least remaining budget first
// (the SLA's when the route has one, else the SLO's), "burn" highest 1h
// burn rate first, "name" by route. Ties go by route, then keep their
// order (services: the configuration's, then By values).
func sortRows(rows []viewRow, sortBy string) {
	slices.SortStableFunc(rows, func(a, b viewRow) int {
		switch sortBy {
		case "budget":
			return cmp.Or(cmp.Compare(a.budgetKey, b.budgetKey), cmp.Compare(a.Route, b.Route))
		case "burn":
			return cmp.Or(cmp.Compare(b.burnKey, a.burnKey), cmp.Compare(a.Route, b.Route))
		}
		return cmp.Compare(a.Route, b.Route)
	})
}

// groupKey orders groups by their most urgent row (rows are sorted).
func groupKey(rows []viewRow, sortBy string) float64 {
	switch sortBy {
	case "budget":
		return rows[0].budgetKey
	case "burn":
		return -rows[0].burnKey
	}
	return 0
}

func matchesTerms(search string, terms []string) bool {
	for _, t := range terms {
		if !strings.Contains(search, t) {
			return false
		}
	}
	return true
}

// groupTitle names a route's group: its contract label values, customer
// first, and the tenant when it is not the default one.
func groupTitle(st *SLOStatus) string {
	var parts []string
	if st.Tenant != "0:0" {
		parts = append(parts, "tenant "+st.Tenant)
	}
	if c, ok := st.Contract["customer"]; ok {
		parts = append(parts, c)
	}
	for _, k := range sortedKeys(st.Contract) {
		if k != "customer" {
			parts = append(parts, k+" "+st.Contract[k])
		}
	}
	if len(st.Contract) == 0 {
		parts = append(parts, "no contract")
	}
	return strings.Join(parts, " · ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func viewRowOf(st *SLOStatus, soon []upcoming) viewRow {
	r := viewRow{
		Class:   "route",
		ID:      rowID(st.Tenant + "|" + st.Source + "|" + st.Route + "|" + st.Objective.Name),
		Route:   st.Route,
		Meta:    st.Source + " · " + objectiveMeta(&st.Objective),
		Release: st.Release,
	}
	var pairs []string
	for _, k := range sortedKeys(st.Labels) {
		pairs = append(pairs, k+"="+st.Labels[k])
	}
	r.Labels = strings.Join(pairs, " ")
	search := []string{st.Tenant, st.Source, st.Route, st.Objective.Name, r.Labels}
	for _, k := range sortedKeys(st.Contract) {
		search = append(search, k+"="+st.Contract[k])
	}
	r.Search = strings.ToLower(strings.Join(search, " "))
	r.fill(&st.Objective, st.EvaluatedAt, st.Availability, st.Budgets, st.Windows, st.WindowSlices, st.CreditPercent)
	r.Maintenance = routeMaintenance(st, soon)
	r.InMaintenance = st.Maintenance
	return r
}

// viewServiceRow is a service SLI's row: the service's name, its By labels
// in order, the number of routes it sums.
func viewServiceRow(st *ServiceJSON) viewRow {
	r := viewRow{
		Class:   "service",
		ID:      rowID("service|" + st.Tenant + "|" + st.Service + "|" + serviceLabels(st)),
		Route:   st.Service,
		Labels:  serviceLabels(st),
		Meta:    routesText(st.Routes) + " · " + objectiveMeta(&st.Objective),
		Release: st.Release,
	}
	r.Search = strings.ToLower(strings.Join([]string{st.Tenant, "service=" + st.Service, st.Objective.Name, r.Labels}, " "))
	r.fill(&st.Objective, st.EvaluatedAt, st.Availability, st.Budgets, st.Windows, st.WindowSlices, st.CreditPercent)
	r.InMaintenance = st.Maintenance
	return r
}

// serviceLabels are a service SLI's By labels, in By order.
func serviceLabels(st *ServiceJSON) string {
	pairs := make([]string, len(st.By))
	for i, k := range st.By {
		pairs[i] = k + "=" + st.Labels[k]
	}
	return strings.Join(pairs, " ")
}

// serviceTitle names a service SLI in the at-risk list.
func serviceTitle(st *ServiceJSON) string {
	t := "service " + st.Service
	if st.Tenant != "0:0" {
		t = "tenant " + st.Tenant + " · " + t
	}
	if l := serviceLabels(st); l != "" {
		t += " " + l
	}
	return t
}

func routesText(n int) string {
	if n == 1 {
		return "1 route"
	}
	return strconv.Itoa(n) + " routes"
}

// objectiveMeta is an objective's name and window, and its slice length
// with time slices.
func objectiveMeta(o *ObjectiveJSON) string {
	m := o.Name + " · " + o.Window
	if o.Budgeting == "timeslices" {
		m += " · " + fmtSliceLength(o.SliceSeconds) + " slices"
	}
	return m
}

// fmtSliceLength is a slice length as the configuration writes it: "5m",
// "1h".
func fmtSliceLength(s float64) string {
	if s >= 3600 {
		return strconv.FormatFloat(s/3600, 'f', -1, 64) + "h"
	}
	return strconv.FormatFloat(s/60, 'f', -1, 64) + "m"
}

// fill sets what routes and services show alike: targets, availability,
// budgets (downtime with time slices) and their warnings, the credit due,
// burn rates and the sort keys.
func (r *viewRow) fill(o *ObjectiveJSON, evaluatedAt string, availability *float64, budgets map[string]BudgetJ, windows []WindowJSON, slices *SliceCountsJSON, credit *float64) {
	r.SLO = fmtTarget(o.SLO)
	decimals := targetDecimals(o.SLO)
	if o.SLA != nil {
		r.SLA = fmtTarget(*o.SLA)
		decimals = max(decimals, targetDecimals(*o.SLA))
	}
	r.Availability = "no requests"
	if availability != nil {
		r.Availability = fmtAvailability(*availability, decimals)
	}
	if slices != nil {
		r.Slices = slicesText(slices)
	}
	timeLeft := o.WindowSeconds
	if o.PeriodEnd != nil {
		end, err1 := time.Parse(time.RFC3339, *o.PeriodEnd)
		at, err2 := time.Parse(time.RFC3339, evaluatedAt)
		if err1 == nil && err2 == nil {
			timeLeft = end.Sub(at).Seconds()
		}
	}
	for _, kind := range []string{"sla", "slo"} {
		b, ok := budgets[kind]
		if !ok {
			continue
		}
		name := strings.ToUpper(kind)
		vb := viewBudget{Kind: name, Meter: meterValue(b.RemainingRatio), Low: b.RemainingRatio <= 0, Text: budgetText(b)}
		r.Budgets = append(r.Budgets, vb)
		if w := budgetWarning(name, b, timeLeft); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}
	if credit != nil && *credit > 0 {
		r.Warnings = append(r.Warnings, "service credit of "+strconv.FormatFloat(*credit, 'f', -1, 64)+"% due at the current availability")
	}
	r.budgetKey = budgets["slo"].RemainingRatio
	if b, ok := budgets["sla"]; ok {
		r.budgetKey = b.RemainingRatio
	}
	for _, name := range burnWindows {
		for _, w := range windows {
			if w.Window == name {
				r.Burn = append(r.Burn, viewBurn{Text: fmtBurn(w.BurnRate), Class: burnClass(w.BurnRate)})
				if name == "1h" {
					r.burnKey = w.BurnRate
				}
			}
		}
	}
}

// budgetText is a budget's remaining time and percent; with time slices,
// the downtime left of the downtime allowed.
func budgetText(b BudgetJ) string {
	if b.AllowedDowntimeSeconds != nil {
		if b.RemainingSeconds < 0 {
			return "downtime overspent by " + fmtDuration(-b.RemainingSeconds)
		}
		return fmtDuration(b.RemainingSeconds) + " of " + fmtDuration(*b.AllowedDowntimeSeconds) + " downtime left (" + strconv.Itoa(int(math.Floor(b.RemainingRatio*100))) + "%)"
	}
	if b.RemainingSeconds < 0 {
		return "overspent by " + fmtDuration(-b.RemainingSeconds)
	}
	return fmtDuration(b.RemainingSeconds) + " left (" + strconv.Itoa(int(math.Floor(b.RemainingRatio*100))) + "%)"
}

// slicesText sums up the compliance window's slices: "997 good, 3 bad,
// 2 left out".
func slicesText(c *SliceCountsJSON) string {
	t := strconv.FormatUint(c.Good, 10) + " good, " + strconv.FormatUint(c.Bad, 10) + " bad slices"
	if c.Excluded > 0 {
		t += ", " + strconv.FormatUint(c.Excluded, 10) + " left out"
	}
	return t
}

// budgetWarning says when a budget is gone, or will be before the
// compliance window ends at the current (5m) error rate. timeLeft is the
// time to the end of a calendar period; for a rolling window, which never
// ends, it is the window's length: the budget would be gone within one
// window, i.e. errors arrive faster than the window can absorb them.
func budgetWarning(kind string, b BudgetJ, timeLeft float64) string {
	switch {
	case b.RemainingRatio <= 0 && b.RemainingSeconds < 0:
		return kind + " budget exhausted: overspent by " + fmtDuration(-b.RemainingSeconds)
	case b.RemainingRatio <= 0:
		return kind + " budget exhausted"
	case b.ExhaustionSeconds != nil && *b.ExhaustionSeconds < timeLeft:
		return kind + " budget gone in " + fmtDuration(*b.ExhaustionSeconds) + " at the current error rate"
	}
	return ""
}

// upcoming is a window that is active or starts within 90 days, with the
// text a route it applies to shows.
type upcoming struct {
	m    *maintenance.Window
	text string
}

// upcomingWindows finds each window's current or next occurrence once,
// not once per route.
func upcomingWindows(masks []*maintenance.Window, now time.Time) []upcoming {
	var out []upcoming
	for _, m := range masks {
		iv := m.AppendIntervals(nil, now.UnixMilli(), now.Add(90*24*time.Hour).UnixMilli())
		if len(iv) == 0 {
			continue
		}
		s, e := time.UnixMilli(iv[0].Start), time.UnixMilli(iv[0].End)
		u := upcoming{m: m, text: "maintenance " + fmtTime(s) + " – " + fmtTime(e)}
		if !s.After(now) {
			u.text = "in maintenance until " + fmtTime(e)
		}
		if m.Reason != "" {
			u.text += ": " + m.Reason
		}
		out = append(out, u)
	}
	return out
}

// routeMaintenance lists the active and upcoming windows that apply to a
// route, matched as the engine matches them: over the identity labels,
// the contract labels, `source`, `slo` and `route`.
func routeMaintenance(st *SLOStatus, windows []upcoming) []string {
	if len(windows) == 0 {
		return nil
	}
	var labels []budget.Label // identity labels first: a name there wins
	for k, v := range st.Labels {
		labels = append(labels, budget.Label{Name: k, Value: v})
	}
	for k, v := range st.Contract {
		labels = append(labels, budget.Label{Name: k, Value: v})
	}
	labels = append(labels, budget.Label{Name: "source", Value: st.Source},
		budget.Label{Name: "slo", Value: st.Objective.Name}, budget.Label{Name: "route", Value: st.Route})
	var out []string
	for _, w := range windows {
		if w.m.Matches(labels) {
			out = append(out, w.text)
		}
	}
	return out
}

// viewWindows lists the windows: active first, then upcoming by start,
// then ended, latest first.
func viewWindows(ws []MaintenanceWindowJSON, now time.Time) []viewWindow {
	type keyed struct {
		rank int
		at   string
		w    viewWindow
	}
	var ks []keyed
	for _, w := range ws {
		vw := viewWindow{Reason: w.Reason, Author: w.Author, ID: w.ID, Source: w.Source, Match: "every route"}
		var pairs []string
		for _, k := range sortedKeys(w.Match) {
			pairs = append(pairs, k+"=~"+w.Match[k])
		}
		if len(pairs) > 0 {
			vw.Match = strings.Join(pairs, " ")
		}
		k := keyed{w: vw}
		switch {
		case w.Active:
			k.rank, k.at, k.w.State = 0, *w.Next, "active"
			k.w.When = "until " + fmtRFC3339(*w.NextEnd)
		case w.Next != nil:
			k.rank, k.at, k.w.State = 1, *w.Next, "upcoming"
			k.w.When = fmtRFC3339(*w.Next) + " – " + fmtRFC3339(*w.NextEnd)
		case w.RRule != "":
			k.rank, k.at, k.w.State = 2, w.Start, "ended"
			k.w.When = "no occurrence within 90 days"
		default:
			k.rank, k.at, k.w.State = 2, w.End, "ended"
			k.w.When = fmtRFC3339(w.Start) + " – " + fmtRFC3339(w.End)
		}
		if w.RRule != "" {
			k.w.When += " (" + w.RRule + ", " + w.Duration + ", " + w.Timezone + ")"
		}
		ks = append(ks, k)
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if a.rank == 2 && b.rank == 2 {
			return cmp.Compare(b.at, a.at)
		}
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.at, b.at))
	})
	out := make([]viewWindow, 0, len(ks))
	ended := 0
	for _, k := range ks {
		if k.rank == 2 {
			if ended++; ended > maxEndedWindows {
				continue
			}
		}
		out = append(out, k.w)
	}
	return out
}

// maxEndedWindows bounds the ended windows the page lists (the newest);
// the API lists them all.
const maxEndedWindows = 20

// meterValue clamps a remaining ratio to the meter's [0, 1]; below 1e-6 it
// is 0, so that Go and JavaScript write the attribute alike (JavaScript
// switches to exponent notation there).
func meterValue(r float64) float64 {
	if r < 1e-6 {
		return 0
	}
	return min(r, 1)
}
