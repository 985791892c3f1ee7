package synthetic

import "bytes"

// Reserved reports whether a metric name is one of slogate's synthetic
// series: every slo_* name of the public contract (README "Synthetic
// series", slo_slices_total and slo_sla_credit_percent included) and Sloth's names (every slo:* name
// and sloth_slo_info), written with -compat.sloth. The write path drops
// incoming series with these names (unless -write.allowSynthetic), so that
// nobody who can write can forge a budget. Lock-free, no allocation.
func Reserved(name []byte) bool {
	if bytes.HasPrefix(name, []byte("slo:")) {
		return true
	}
	switch string(name) {
	case "slo_requests_total",
		"slo_requests_excluded_total",
		"slo_objective_ratio",
		"slo_sli_ratio",
		"slo_burn_rate",
		"slo_error_budget_remaining_ratio",
		"slo_error_budget_remaining_seconds",
		"slo_error_budget_exhaustion_seconds",
		"slo_maintenance_active",
		"slo_release_state",
		"slo_slices_total",
		"slo_sla_credit_percent",
		"sloth_slo_info":
		return true
	}
	return false
}
