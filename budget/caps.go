package budget

import "sync/atomic"

// engineCaps bound the engine's memory across tenants: the routes of all
// tenants together (EngineConfig.MaxRoutes; a route holds its minute and
// hour rings, a few KiB) and the tenants (EngineConfig.MaxTenants). The
// per-source cap of one tenant is Source.MaxRoutes (routeFor).
type engineCaps struct {
	maxRoutes  int64
	maxTenants int
	// routes is the number of routes of every tenant: counted up by
	// routeFor, down by forgetStale, and recounted after Reload and
	// LoadState, which rebuild routes wholesale.
	routes         atomic.Int64
	tenantsRefused atomic.Uint64
}

// addRoute counts a new route; false (and nothing counted) when MaxRoutes
// are tracked already.
func (c *engineCaps) addRoute() bool {
	if c.routes.Add(1) > c.maxRoutes {
		c.routes.Add(-1)
		return false
	}
	return true
}

// forgot uncounts n forgotten routes.
func (c *engineCaps) forgot(n int) {
	if n > 0 {
		c.routes.Add(-int64(n))
	}
}

// recountRoutes sets the route count from the tenants' routes, each
// tenant under its lock; routes created by a concurrent Ingest of a tenant
// already counted are missed until the next recount, which stays within a
// few routes of the truth.
func (e *Engine) recountRoutes() {
	var n int64
	for _, ts := range *e.tenants.Load() {
		ts.mu.Lock()
		for _, routes := range ts.routes {
			n += int64(len(routes))
		}
		ts.mu.Unlock()
	}
	e.caps.routes.Store(n)
}
