package main

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/store"
)

// engineMetrics exposes the engine's counters at /metrics.
func engineMetrics(e *budget.Engine) *metrics.Set {
	s := metrics.NewSet()
	for _, m := range []struct {
		name string
		get  func(budget.EngineStats) uint64
	}{
		{`slogate_engine_samples_counted_total`, func(st budget.EngineStats) uint64 { return st.SamplesCounted }},
		{`slogate_engine_samples_ignored_total{reason="duplicate"}`, func(st budget.EngineStats) uint64 { return st.Duplicates }},
		{`slogate_engine_samples_ignored_total{reason="too_old_for_reorder"}`, func(st budget.EngineStats) uint64 { return st.TooOld }},
		{`slogate_engine_samples_ignored_total{reason="future"}`, func(st budget.EngineStats) uint64 { return st.Future }},
		{`slogate_engine_samples_ignored_total{reason="nan"}`, func(st budget.EngineStats) uint64 { return st.NaN }},
		{`slogate_engine_samples_ignored_total{reason="expired"}`, func(st budget.EngineStats) uint64 { return st.Expired }},
		{`slogate_engine_reorders_total`, func(st budget.EngineStats) uint64 { return st.Reorders }},
		{`slogate_engine_first_value_fixups_total`, func(st budget.EngineStats) uint64 { return st.FirstValueFixups }},
		{`slogate_engine_routes_refused_total`, func(st budget.EngineStats) uint64 { return st.RoutesRefused }},
		{`slogate_engine_routes_forgotten_total`, func(st budget.EngineStats) uint64 { return st.RoutesForgotten }},
		{`slogate_engine_routes`, func(st budget.EngineStats) uint64 { return st.Routes }},
		{`slogate_engine_series`, func(st budget.EngineStats) uint64 { return st.Series }},
	} {
		get := m.get
		s.NewGauge(m.name, func() float64 { return float64(get(e.Stats())) })
	}
	return s
}

// storeMetrics exposes the counters of the files under -stateDir at
// /metrics: snapshots and the maintenance store.
func storeMetrics(k *stateKeeper, m *store.Maintenance) *metrics.Set {
	s := metrics.NewSet()
	s.NewGauge(`slogate_state_snapshot_write_errors_total`, func() float64 { return float64(k.writeErrors.Load()) })
	for _, c := range []struct {
		name string
		get  func(store.MaintenanceStats) uint64
	}{
		{`slogate_maintenance_write_errors_total`, func(st store.MaintenanceStats) uint64 { return st.WriteErrors }},
		{`slogate_maintenance_load_errors_total{file="windows"}`, func(st store.MaintenanceStats) uint64 { return st.WindowsSkipped }},
		{`slogate_maintenance_load_errors_total{file="audit"}`, func(st store.MaintenanceStats) uint64 { return st.AuditSkipped }},
		{`slogate_maintenance_audit_repairs_total`, func(st store.MaintenanceStats) uint64 { return st.AuditRepaired }},
		{`slogate_maintenance_windows`, func(st store.MaintenanceStats) uint64 { return uint64(st.Windows) }},
	} {
		get := c.get
		s.NewGauge(c.name, func() float64 { return float64(get(m.Stats())) })
	}
	return s
}
