package main

import (
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// TestCountersGrowAndIncidentBurns checks the demo data is plausible: every
// counter is monotonic, and the incident route reports a fifth of its
// requests as 5xx during the first minute of ten.
func TestCountersGrowAndIncidentBurns(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newCounters(start)
	var prev []testenv.Sample
	for i := 1; i <= 3; i++ {
		var b strings.Builder
		c.writeTo(&b, start.Add(time.Duration(i)*10*time.Second))
		cur, err := testenv.ParseMetrics(b.String())
		if err != nil {
			t.Fatal(err)
		}
		for j := range prev {
			if prev[j].Name == "nginx_ingress_controller_requests" && cur[j].Value < prev[j].Value {
				t.Fatalf("counter %v decreased: %v -> %v", prev[j].Labels, prev[j].Value, cur[j].Value)
			}
		}
		prev = cur
	}
	bad, _ := testenv.SumMetric(prev, "nginx_ingress_controller_requests", map[string]string{"path": "/api/v1/orders", "status": "503"})
	all, _ := testenv.SumMetric(prev, "nginx_ingress_controller_requests", map[string]string{"path": "/api/v1/orders"})
	// 30s at 20 rps = 600 requests, 20% of them 5xx, 30% of those 503.
	if all < 590 || bad < 30 || bad > 40 {
		t.Fatalf("orders route during the incident: %v requests, %v of them 503; want ~600 and ~36", all, bad)
	}
}
