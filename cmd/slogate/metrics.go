package main

import (
	"sync/atomic"
	"time"

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
		{`slogate_engine_samples_ignored_total{reason="past"}`, func(st budget.EngineStats) uint64 { return st.Past }},
		{`slogate_engine_samples_ignored_total{reason="nan"}`, func(st budget.EngineStats) uint64 { return st.NaN }},
		{`slogate_engine_samples_ignored_total{reason="expired"}`, func(st budget.EngineStats) uint64 { return st.Expired }},
		{`slogate_engine_reorders_total`, func(st budget.EngineStats) uint64 { return st.Reorders }},
		{`slogate_engine_first_value_fixups_total`, func(st budget.EngineStats) uint64 { return st.FirstValueFixups }},
		{`slogate_engine_routes_refused_total{reason="source_cap"}`, func(st budget.EngineStats) uint64 { return st.RoutesRefused }},
		{`slogate_engine_routes_refused_total{reason="total_cap"}`, func(st budget.EngineStats) uint64 { return st.RoutesRefusedTotal }},
		{`slogate_engine_routes_refused_total{reason="tenant_cap"}`, func(st budget.EngineStats) uint64 { return st.TenantsRefused }},
		{`slogate_engine_routes_forgotten_total`, func(st budget.EngineStats) uint64 { return st.RoutesForgotten }},
		{`slogate_engine_routes`, func(st budget.EngineStats) uint64 { return st.Routes }},
		{`slogate_engine_series`, func(st budget.EngineStats) uint64 { return st.Series }},
	} {
		get := m.get
		s.NewGauge(m.name, func() float64 { return float64(get(e.Stats())) })
	}
	// The engine's counts live outside the Go heap (internal/arena): the
	// go_memstats_* figures do not show them.
	s.NewGauge(`slogate_engine_counts_bytes{state="mapped"}`, func() float64 { return float64(budget.ReadCountsMemory().Mapped) })
	s.NewGauge(`slogate_engine_counts_bytes{state="resident"}`, func() float64 { return float64(budget.ReadCountsMemory().Resident) })
	s.NewGauge(`slogate_engine_counts_bytes{state="used"}`, func() float64 { return float64(budget.ReadCountsMemory().Used) })
	s.NewGauge(`slogate_engine_counts_collections_total`, func() float64 { return float64(budget.ReadCountsMemory().Collections) })
	return s
}

// storeMetrics exposes the maintenance store's counters at /metrics
// (snapshots are counted by opsMetrics).
func storeMetrics(m *store.Maintenance) *metrics.Set {
	s := metrics.NewSet()
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

// opsMetrics are slogate's own operations: snapshots and config reloads.
type opsMetrics struct {
	set                 *metrics.Set
	snapshotErrors      *metrics.Counter
	snapshotLastOK      atomic.Int64 // Unix ms of the last successful snapshot, 0 before
	snapshotLastBytes   atomic.Int64
	snapshotDuration    *metrics.Histogram
	reloads             *metrics.Counter
	reloadErrors        *metrics.Counter
	reloadLastOK        atomic.Int64 // Unix ms of the last successful reload (or the start)
	reloadLastSucceeded atomic.Bool
}

func newOpsMetrics(start time.Time) *opsMetrics {
	s := metrics.NewSet()
	m := &opsMetrics{
		set:              s,
		snapshotErrors:   s.NewCounter(`slogate_snapshot_errors_total`),
		snapshotDuration: s.NewHistogram(`slogate_snapshot_duration_seconds`),
		reloads:          s.NewCounter(`slogate_config_reloads_total`),
		reloadErrors:     s.NewCounter(`slogate_config_reload_errors_total`),
	}
	m.reloadLastOK.Store(start.UnixMilli())
	m.reloadLastSucceeded.Store(true)
	s.NewGauge(`slogate_snapshot_last_success_timestamp_seconds`, func() float64 { return float64(m.snapshotLastOK.Load()) / 1e3 })
	s.NewGauge(`slogate_snapshot_last_size_bytes`, func() float64 { return float64(m.snapshotLastBytes.Load()) })
	s.NewGauge(`slogate_config_last_reload_success_timestamp_seconds`, func() float64 { return float64(m.reloadLastOK.Load()) / 1e3 })
	s.NewGauge(`slogate_config_last_reload_successful`, func() float64 {
		if m.reloadLastSucceeded.Load() {
			return 1
		}
		return 0
	})
	return m
}

// snapshot records one snapshot attempt that began at start.
func (m *opsMetrics) snapshot(start time.Time, size int, err error) {
	if err != nil {
		m.snapshotErrors.Inc()
		return
	}
	m.snapshotDuration.UpdateDuration(start)
	m.snapshotLastOK.Store(time.Now().UnixMilli())
	m.snapshotLastBytes.Store(int64(size))
}

// reload records one config reload.
func (m *opsMetrics) reload(err error) {
	m.reloads.Inc()
	m.reloadLastSucceeded.Store(err == nil)
	if err != nil {
		m.reloadErrors.Inc()
		return
	}
	m.reloadLastOK.Store(time.Now().UnixMilli())
}

// journalMetrics exposes the route journal's figures at /metrics.
func journalMetrics(j *store.Journal) *metrics.Set {
	s := metrics.NewSet()
	s.NewGauge(`slogate_journal_size_bytes`, func() float64 { return float64(j.Stats().Bytes) })
	s.NewGauge(`slogate_journal_records`, func() float64 { return float64(j.Stats().Records) })
	s.NewGauge(`slogate_journal_syncs_total`, func() float64 { return float64(j.Stats().Syncs) })
	return s
}
