package slo

import "testing"

func TestReleaseStateOf(t *testing.T) {
	p := ReleasePolicy{Caution: 0.25, FreezeBurnRate1h: 14.4}
	f := func(remaining, burn1h float64, want ReleaseState) {
		t.Helper()
		if got := ReleaseStateOf(p, remaining, burn1h); got != want {
			t.Errorf("remaining %v burn %v: %v, want %v", remaining, burn1h, got, want)
		}
	}
	f(1, 0, ReleaseShip)
	f(0.25, 14.3, ReleaseShip)
	f(0.2499, 0, ReleaseCaution)
	f(0.9, 14.4, ReleaseFreeze)
	f(0, 0, ReleaseFreeze)
	f(-3, 0, ReleaseFreeze)
}
