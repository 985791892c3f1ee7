package budget

import "strings"

// NewRoute tells EngineConfig.NewRoute of a route an Ingest call created:
// what the route journal needs so that a restart can replay the route from
// VictoriaMetrics even when no snapshot holds it yet.
type NewRoute struct {
	Tenant Tenant
	// Source is the source's name.
	Source string
	// Labels are the route's identity labels in the source's RouteLabels
	// order (absent labels have value ""). They are the route's own,
	// immutable: the receiver may keep them.
	Labels []Label
	// First is the earliest sample timestamp (Unix ms) of the call that
	// created the route: the route's first event.
	First int64
}

// Key is the route's identity within its tenant, as RouteKeys returns it.
func (r NewRoute) Key() string { return routeKey(r.Source, r.Labels) }

// reportNewRoutes tells e.newRoute of the routes of states whose bit is
// set in created. It runs under the tenant's lock; the slow path of a
// series that created its route.
func (e *Engine) reportNewRoutes(t Tenant, states []*series, created uint8, samples []Sample) {
	first := samples[0].Timestamp
	for _, smp := range samples[1:] {
		first = min(first, smp.Timestamp)
	}
	for i, s := range states {
		if created&(1<<i) != 0 {
			e.newRoute(NewRoute{Tenant: t, Source: s.route.src.Name, Labels: s.route.labels, First: first})
		}
	}
}

// RouteKeys appends to dst the identity (NewRoute.Key) of the route of each
// source that reads the series with these labels, whether the engine
// tracks the route or not. The restart replay matches series against the
// route journal with it.
func (e *Engine) RouteKeys(dst []string, labels []Label) []string {
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	for _, si := range e.index.Load().byMetric[metricNameOf(labels)] {
		if int(si) >= len(e.sources) {
			continue
		}
		src := &e.sources[si]
		ident := make([]Label, len(src.RouteLabels))
		for i, name := range src.RouteLabels {
			ident[i] = Label{Name: name, Value: labelOr(labels, name)}
		}
		dst = append(dst, routeKey(src.Name, ident))
	}
	return dst
}

// HasRoute reports whether the engine tracks the route of tenant t with
// these identity labels (NewRoute.Labels) of the named source.
func (e *Engine) HasRoute(t Tenant, source string, ident []Label) bool {
	ts := e.lookupTenant(t)
	if ts == nil {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for si := range e.sources {
		if e.sources[si].Name != source || si >= len(ts.routes) {
			continue
		}
		var kb strings.Builder
		for i := range ident {
			if i > 0 {
				kb.WriteByte(0xff)
			}
			kb.WriteString(ident[i].Value)
		}
		return ts.routes[si][kb.String()] != nil
	}
	return false
}

// routeKey joins a source name and a route's identity values; 0xfe and
// 0xff do not occur in UTF-8, so the key is unambiguous.
func routeKey(source string, ident []Label) string {
	var b strings.Builder
	b.WriteString(source)
	b.WriteByte(0xfe)
	for i := range ident {
		if i > 0 {
			b.WriteByte(0xff)
		}
		b.WriteString(ident[i].Value)
	}
	return b.String()
}
