package budget

import "github.com/slogate/slogate/slo"

// Service is a service-level (aggregate) objective: it sums the good and
// total events of every route it matches, minute by minute, into one SLI
// per distinct value set of its By labels. Maintenance applies per route:
// a window on one route of a service removes that route's events from the
// service's minutes, not the other routes'. A service minute is in
// maintenance (for time slices) when every route of the service has it
// excluded.
type Service struct {
	// Name is the value of the synthetic label `service`.
	Name string
	// Match selects the routes: over their identity labels, contract
	// labels and `source`.
	Match Matchers
	// By are the labels (identity, contract or `source`) whose values make
	// one SLI each; absent labels have the value "".
	By []string
	// Objective holds targets, window, budgeting and credits; its Name is
	// the synthetic label `slo` (default: the service name) and Contract
	// is unused.
	Objective Objective
}

// ServiceStatus is the state of one service SLI (a service and one value
// set of its By labels) at one evaluation time. Labels and Objective are
// shared with the engine: read-only.
type ServiceStatus struct {
	Tenant Tenant
	// Service is the service's name; Labels its By labels in By order.
	Service string
	Labels  []Label
	// Objective holds the targets, window, budgeting and credits.
	Objective Objective
	// Routes is the number of routes the service sums now.
	Routes int
	// Good and Bad are the events counted so far (in minutes before the
	// eval minute), maintenance already removed per route.
	Good, Bad uint64
	// Windows are slo.ShortWindows followed by the compliance window.
	Windows [slo.NumWindows]slo.WindowStatus
	// SLO is the internal budget; SLA the contractual one, valid when
	// HasSLA.
	SLO, SLA slo.BudgetStatus
	HasSLA   bool
	// MaintenanceActive: every route of the service is in maintenance in
	// the eval minute.
	MaintenanceActive bool
	Release           slo.ReleaseState
	// Slices and WindowSlices: as RouteStatus's.
	Slices, WindowSlices slo.SliceCounts
	CreditPercent        float64
	HasCredit            bool
}
