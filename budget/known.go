package budget

import "strings"

// KnowsRoute reports whether the series with these labels belongs to a
// route the engine already tracks for tenant t. The restart replay feeds
// only such series: a sharded replica must not take over the routes its
// peers own, and a route first seen after the snapshot comes back with its
// next live sample.
func (e *Engine) KnowsRoute(t Tenant, labels []Label) bool {
	ts := e.lookupTenant(t)
	if ts == nil {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	// Under the tenant's lock the index and the sources agree: Reload
	// changes both while it holds every tenant's lock.
	srcs := e.index.Load().byMetric[metricNameOf(labels)]
	var kb strings.Builder
	for _, si := range srcs {
		if int(si) >= len(e.sources) || int(si) >= len(ts.routes) {
			continue
		}
		kb.Reset()
		for i, name := range e.sources[si].RouteLabels {
			if i > 0 {
				kb.WriteByte(0xff)
			}
			kb.WriteString(labelOr(labels, name))
		}
		if ts.routes[si][kb.String()] != nil {
			return true
		}
	}
	return false
}
