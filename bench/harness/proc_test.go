package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses; utime=1234 and
	// stime=66 ticks are fields 14 and 15.
	line := "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 66 0 0 20 0 8 0 100 1000000 2000 18446744073709551615"
	got, err := parseStatCPU([]byte(line))
	if err != nil || math.Abs(got-13.0) > 1e-9 {
		t.Fatalf("parseStatCPU = %v, %v; want 13.00 s", got, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1")); err == nil {
		t.Fatal("parseStatCPU accepted a short line")
	}
}

func TestParseMemStatus(t *testing.T) {
	status := "Name:\tslogate\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t8\n"
	rss, hwm, err := parseMemStatus([]byte(status))
	if err != nil || rss != 10<<20 || hwm != 20<<20 {
		t.Fatalf("parseMemStatus = %d, %d, %v; want 10 MiB, 20 MiB", rss, hwm, err)
	}
	if _, _, err := parseMemStatus([]byte("Name:\tx\n")); err == nil {
		t.Fatal("parseMemStatus accepted a status without VmRSS")
	}
}

func TestParseMachineCPU(t *testing.T) {
	stat := "cpu  100 20 30 400 50 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"
	m, err := parseMachineCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	want := machineCPU{userSys: 1.5, irq: 0.13, idle: 4.5, steal: 0.08}
	if math.Abs(m.userSys-want.userSys)+math.Abs(m.irq-want.irq)+math.Abs(m.idle-want.idle)+math.Abs(m.steal-want.steal) > 1e-9 {
		t.Fatalf("parseMachineCPU = %+v, want %+v", m, want)
	}
}

func TestScrapeValue(t *testing.T) {
	page := strings.Join([]string{
		`# HELP x`,
		`vmagent_remotewrite_pending_data_bytes{path="/q/1",url="1:secret-url"} 100`,
		`vmagent_remotewrite_pending_data_bytes{path="/q/2",url="2:secret-url"} 23`,
		`vmagent_remotewrite_pending_data_bytes_extra 999`,
		`vmagent_remotewrite_block_size_rows_sum 2.5e+06`,
		`slogate_sli_samples_total 42`,
	}, "\n")
	f := func(name string, want float64, found bool) {
		t.Helper()
		got, ok := scrapeValue([]byte(page), name)
		if got != want || ok != found {
			t.Errorf("scrapeValue(%s) = %v, %v; want %v, %v", name, got, ok, want, found)
		}
	}
	f("vmagent_remotewrite_pending_data_bytes", 123, true)
	f("vmagent_remotewrite_block_size_rows_sum", 2.5e6, true)
	f("slogate_sli_samples_total", 42, true)
	f("absent_total", 0, false)
}

func TestSI(t *testing.T) {
	for v, want := range map[float64]string{12: "12", 4_600: "5k", 6_687_000: "6.69M"} {
		if got := si(v); got != want {
			t.Errorf("si(%v) = %q, want %q", v, got, want)
		}
	}
}
