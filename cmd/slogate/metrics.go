package main

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/slogate/slogate/budget"
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
