package proc

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	f := func(line string, want float64, ok bool) {
		t.Helper()
		got, err := parseStatCPU([]byte(line))
		if (err == nil) != ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v, ok=%v", line, got, err, want, ok)
		}
	}
	// The command name may hold spaces and parentheses; utime=1234 and
	// stime=66 ticks are fields 14 and 15.
	f("4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 66 0 0 20 0 8 0 100 1000000 2000 18446744073709551615", 13, true)
	f("4242 (x) S 1", 0, false)
	f("4242 x S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 66", 0, false)
	f("4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 12a4 66", 0, false)
}

func TestParseMemoryStatus(t *testing.T) {
	f := func(status string, rss, peak int64, ok bool) {
		t.Helper()
		r, p, err := parseMemoryStatus([]byte(status))
		if (err == nil) != ok || r != rss || p != peak {
			t.Errorf("parseMemoryStatus(%q) = %d, %d, %v; want %d, %d, ok=%v", status, r, p, err, rss, peak, ok)
		}
	}
	f("Name:\tslogate\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t8\n", 10<<20, 20<<20, true)
	f("Name:\tx\n", 0, 0, false)
	f("VmHWM:\t 1 kB\n", 0, 0, false)
	f("VmHWM:\t 1 kB\nVmRSS:\t lots kB\n", 0, 0, false)
}

// TestOwnFigures reads this test process's own /proc entries.
func TestOwnFigures(t *testing.T) {
	rss, peak, err := MemoryStatus(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Fatalf("MemoryStatus = %d, %d, %v; want 0 < rss <= peak", rss, peak, err)
	}
	before, err := CPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the counter moves (it counts in 10ms ticks).
	deadline := time.Now().Add(5 * time.Second)
	for n := 0; ; n++ {
		now, err := CPUSeconds(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPUSeconds stayed at %v after %d reads", now, n)
		}
	}
	if _, err := CPUSeconds(-1); err == nil {
		t.Fatal("CPUSeconds of pid -1 succeeded")
	}
}
