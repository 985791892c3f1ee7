package e2e

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/slogate/slogate/internal/testenv"
)

// apiStatus is the part of GET /slogate/api/v1/slos the tests read; Raw
// keeps the whole object for comparisons.
type apiStatus struct {
	Tenant      string `json:"tenant"`
	Route       string `json:"route"`
	EvaluatedAt string `json:"evaluatedAt"`
	Requests    struct {
		Good uint64 `json:"good"`
		Bad  uint64 `json:"bad"`
	} `json:"requests"`
	Budgets map[string]apiBudget `json:"budgets"`
	Raw     json.RawMessage      `json:"-"`
}

// apiBudget is one budget (slo or sla) of an apiStatus.
type apiBudget struct {
	RemainingRatio   float64 `json:"remainingRatio"`
	RemainingSeconds float64 `json:"remainingSeconds"`
}

// getSLOs returns the statuses of the slogate at base, sorted by tenant
// and route.
func getSLOs(t *testing.T, base string) []apiStatus {
	t.Helper()
	var resp struct {
		SLOs []json.RawMessage `json:"slos"`
	}
	if err := json.Unmarshal(testenv.MustGet(t, base+"/slogate/api/v1/slos"), &resp); err != nil {
		t.Fatalf("cannot decode /slogate/api/v1/slos: %s", err)
	}
	out := make([]apiStatus, 0, len(resp.SLOs))
	for _, raw := range resp.SLOs {
		var s apiStatus
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("cannot decode /slogate/api/v1/slos entry: %s", err)
		}
		s.Raw = raw
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Tenant+" "+out[i].Route < out[j].Tenant+" "+out[j].Route
	})
	return out
}

// fetchStatuses is getSLOs of a started slogate.
func fetchStatuses(t *testing.T, sg *testenv.Proc) []apiStatus { return getSLOs(t, sg.URL) }
