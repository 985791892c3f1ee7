package budget

import "strings"

// NewRoute tells EngineConfig.NewRoute of a route an Ingest call created,
// or whose first event it moved earlier: what the route journal needs so
// that a restart can replay the route from VictoriaMetrics, from its first
// event, even when no snapshot holds it yet.
type NewRoute struct {
	Tenant Tenant
	// Source is the source's name.
	Source string
	// Labels are the route's identity labels in the source's RouteLabels
	// order (absent labels have value ""). They are the route's own,
	// immutable: the receiver may keep them.
	Labels []Label
	// First is the route's first event (Unix ms): the earliest first
	// point of its series.
	First int64
}

// Key is the route's identity within its tenant, as RouteKeys returns it.
func (r NewRoute) Key() string { return routeKey(r.Source, r.Labels) }

// reportFirstEvents tells e.newRoute of the routes of states (the series
// of one Ingest call) whose first event is new or moved earlier: a new
// route, or a reordered block older than the one that created it. Routes
// of a snapshot (first == 0) are never told. It runs under the tenant's
// lock, once per Ingest call; it allocates only when it tells.
func (e *Engine) reportFirstEvents(t Tenant, states []*series) {
	for _, s := range states {
		if r := s.route; s.n > 0 && s.first.ts < r.first {
			r.first = s.first.ts
			e.newRoute(NewRoute{Tenant: t, Source: r.src.Name, Labels: r.labels, First: r.first})
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
