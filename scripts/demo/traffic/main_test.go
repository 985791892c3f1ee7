package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig([]string{"-tokenFile=" + token}, io.Discard)
	if err != nil {
		t.Fatalf("defaults: %s", err)
	}
	if c.token != "s3cret" || len(c.sites) != 3 || c.sites[2].host != "portal.globex.localhost" || c.cycle != 10*time.Minute {
		t.Errorf("defaults parsed as %+v", c)
	}
	f := func(wantErr string, args ...string) {
		t.Helper()
		_, err := parseConfig(args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseConfig(%q) = %v, want an error containing %q", args, err, wantErr)
		}
	}
	f("loopback", "-tokenFile="+token, "-target=http://10.0.0.1:80")
	f("loopback", "-tokenFile="+token, "-slogate=http://example.com:8490")
	f("loopback", "-tokenFile="+token, "-sites=a=http://127.0.0.1:1,b=http://127.0.0.1:2,c=http://192.168.1.1:3")
	f("want 3", "-tokenFile="+token, "-sites=a=http://127.0.0.1:1")
	f("-tokenFile is required")
	f("-cycle", "-tokenFile="+token, "-cycle=5s")
	f("-peak", "-tokenFile="+token, "-peak=10000")
}

func TestMaintenanceWindowWholeMinutes(t *testing.T) {
	c0 := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	start, end := maintenanceWindow(c0, 10*time.Minute)
	// Downtime 12:08:00-12:09:30: announced 12:08-12:10.
	if !start.Equal(time.Date(2026, 11, 25, 12, 8, 0, 0, time.UTC)) || !end.Equal(time.Date(2026, 11, 25, 12, 10, 0, 0, time.UTC)) {
		t.Errorf("maintenance window %s - %s, want 12:08 - 12:10", start, end)
	}
}

func TestRateFollowsTheDay(t *testing.T) {
	peak := rate(40, 0.5, (14.0-6)/24)  // 14:00
	night := rate(40, 0.5, (26.0-6)/24) // 02:00
	if math.Abs(peak-20) > 1e-9 || math.Abs(night-2) > 1e-9 {
		t.Errorf("rate at 14:00 = %g, at 02:00 = %g; want 20 and 2", peak, night)
	}
	if got := dayClock(0.75); got != "00:00" {
		t.Errorf("dayClock(0.75) = %s, want 00:00", got)
	}
}

// TestPlayDay plays one short day against stand-ins for the router, the
// backends and slogate, and checks what each of them received.
func TestPlayDay(t *testing.T) {
	var mu sync.Mutex
	hosts := map[string]int{}
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts[r.Host]++
		mu.Unlock()
	}))
	defer router.Close()
	var controls [3][]string
	var backends [3]*httptest.Server
	for i := range backends {
		backends[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/-/control" {
				t.Errorf("backend %d: %s %s, want POST /-/control", i, r.Method, r.URL.Path)
			}
			mu.Lock()
			controls[i] = append(controls[i], r.URL.RawQuery)
			mu.Unlock()
		}))
		defer backends[i].Close()
	}
	var windows []map[string]any
	gets := 0
	slogate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/slogate/api/v1/slos" {
			// The portal's budget: 7 more failed requests left out at
			// each read, evaluated past any window of the test.
			mu.Lock()
			gets++
			excluded := 7 * gets
			mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"slos":[{"labels":{"host":"portal.globex.localhost"},"objective":{"name":"availability"},
				"evaluatedAt":%q,"requests":{"excludedBad":%d},"budgets":{"sla":{"remainingRatio":0.9197}}}]}`,
				time.Now().Add(time.Hour).UTC().Format(time.RFC3339), excluded)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/slogate/api/v1/maintenance" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		windows = append(windows, body)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"m1"}`)
	}))
	defer slogate.Close()

	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cfg := &config{
		target:  u(router.URL),
		slogate: u(slogate.URL),
		token:   "tok",
		sites: []site{
			{host: "shop.acme.localhost", backend: u(backends[0].URL), weight: 1},
			{host: "api.acme.localhost", backend: u(backends[1].URL), weight: 0.6},
			{host: "portal.globex.localhost", backend: u(backends[2].URL), weight: 0.3},
		},
		cycle: 2 * time.Second, cycles: 1, peak: 100, maxRequests: 10_000, maxInFlight: 8,
	}
	var out strings.Builder
	g := &generator{cfg: cfg, out: &out, client: &http.Client{Timeout: time.Minute}, answers: make([][6]atomic.Int64, 3)}
	start := time.Now()
	if err := g.play(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < cfg.cycle || d > cfg.cycle+2*time.Second {
		t.Errorf("one day of 2s took %s", d)
	}

	mu.Lock()
	defer mu.Unlock()
	reset := "errors=0&slow=0&down=false"
	want := [3][]string{
		{reset, "errors=0.5", "errors=0"},
		{reset, "slow=0.3&slowLatency=400ms", "slow=0"},
		{reset, "down=true", "down=false"},
	}
	for i := range want {
		if !slices.Equal(controls[i], want[i]) {
			t.Errorf("backend %d was switched %q, want %q", i, controls[i], want[i])
		}
	}
	for _, h := range []string{"shop.acme.localhost", "api.acme.localhost", "portal.globex.localhost"} {
		if hosts[h] == 0 {
			t.Errorf("no request with Host %s reached the router (got %v)", h, hosts)
		}
	}
	if hosts["shop.acme.localhost"] <= hosts["portal.globex.localhost"] {
		t.Errorf("the busiest site got fewer requests than the quietest: %v", hosts)
	}
	if len(windows) != 1 {
		t.Fatalf("slogate got %d maintenance windows, want 1", len(windows))
	}
	w := windows[0]
	match, _ := w["match"].(map[string]any)
	if match["host"] != `portal\.globex\.localhost` {
		t.Errorf("maintenance match %v, want host portal\\.globex\\.localhost", w["match"])
	}
	ws, err1 := time.Parse(time.RFC3339, w["start"].(string))
	we, err2 := time.Parse(time.RFC3339, w["end"].(string))
	down := start.Add(time.Duration(maintenanceFrom * float64(cfg.cycle)))
	up := start.Add(time.Duration(maintenanceTo * float64(cfg.cycle)))
	if err1 != nil || err2 != nil || ws.After(down) || we.Before(up) || ws.Second() != 0 || we.Second() != 0 {
		t.Errorf("maintenance window %v - %v must be whole minutes covering the downtime %s - %s", w["start"], w["end"], down, up)
	}
	for _, s := range []string{"incident: answers 50%", "maintenance window m1 announced", "planned maintenance",
		"portal.globex.localhost: the planned window left out 7 requests that failed; SLA budget 91.97% left (91.97% when the downtime began)", "done:"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}
