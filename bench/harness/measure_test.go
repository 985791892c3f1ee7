package main

import (
	"math"
	"strings"
	"testing"
)

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
