package main

import "testing"

// TestValueIsACounter checks that every series only grows, so that the
// live writes continue the history without a counter reset, and that the
// routes are busy with some errors.
func TestValueIsACounter(t *testing.T) {
	for _, r := range []int{0, 1, 2, 3, 399, 19_999} {
		for k := range 2 {
			prev := -1.0
			for ms := int64(0); ms <= 40*24*3600_000; ms += 15_000 {
				v := value(r, k, ms)
				if v < prev {
					t.Fatalf("route %d series %d: %v after %v at %d ms", r, k, v, prev, ms)
				}
				prev = v
			}
		}
		perMinute := value(r, 0, 60*60_000) / 60
		if perMinute < 200 || perMinute >= 610 { // 599 plus at most a fifth of a minute in an hour
			t.Errorf("route %d: %v requests a minute, want several hundred", r, perMinute)
		}
		// Minutes differ: the counts are not one constant.
		d1 := value(r, 0, 2*60_000) - value(r, 0, 60_000)
		d2 := value(r, 0, 3*60_000) - value(r, 0, 2*60_000)
		d3 := value(r, 0, 4*60_000) - value(r, 0, 3*60_000)
		if d1 == d2 && d2 == d3 {
			t.Errorf("route %d: every minute has %v requests", r, d1)
		}
	}
	if value(3, 1, 24*3600_000) == 0 {
		t.Error("route 3 has no errors in a day")
	}
}

func TestCheckLoopback(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:8490/api/v1/write": true,
		"http://[::1]:8490/api/v1/write":     true,
		"http://10.0.0.1:8490/api/v1/write":  false,
		"http://example.com:80/api/v1/write": false,
		"http://127.0.0.1/api/v1/write":      false,
	} {
		if err := checkLoopback(raw); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}
