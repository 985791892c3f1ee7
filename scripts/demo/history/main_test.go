package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var hosts = []string{"shop.acme.localhost", "api.acme.localhost", "portal.globex.localhost"}

// TestMonth checks the month's story: the shop is left about shopLeft of
// its SLA budget over its last 30 days (in whole hours, as slogate counts
// them), the API's outage is all 503 inside the window to declare, and
// the day's curve peaks in the afternoon.
func TestMonth(t *testing.T) {
	now := time.Date(2026, 12, 3, 11, 15, 42, 0, time.UTC)
	h := newHistory(now, hosts, "127.0.0.1:18419")
	n := len(h.minutes[0])
	if want := (days*24 + 1) * 60; n != want {
		t.Fatalf("%d minutes, want %d", n, want)
	}
	if got := h.start.Add(time.Duration(n) * time.Minute); !got.Equal(now.Truncate(time.Minute)) {
		t.Errorf("the history ends at %s, want %s", got, now.Truncate(time.Minute))
	}

	from := now.Add(-30 * 24 * time.Hour).Truncate(time.Hour).Add(time.Hour)
	var total, bad int64
	for i, m := range h.minutes[0] {
		if !h.start.Add(time.Duration(i) * time.Minute).Before(from) {
			total += m.ok + m.err500 + m.err503
			bad += m.err500 + m.err503
		}
	}
	left := 1 - float64(bad)/((1-shopSLA)*float64(total))
	if left < 0.03 || left > 0.06 {
		t.Errorf("the shop's SLA budget left by the month: %.4f, want about %.3f", left, shopLeft)
	}

	w := h.afterTheFact
	if d := w.End.Sub(w.Start); d != 45*time.Minute || now.Sub(w.Start) > 72*time.Hour || !w.End.Before(now) {
		t.Errorf("the window to declare %s - %s: want 45 minutes ending before now, starting within 72h", w.Start, w.End)
	}
	if w.Match["host"] != `api\.acme\.localhost` {
		t.Errorf("the window matches %v, want the API's host", w.Match)
	}
	for i, m := range h.minutes[1] {
		at := h.start.Add(time.Duration(i) * time.Minute)
		in := !at.Before(w.Start) && at.Before(w.End)
		if in && (m.ok != 0 || m.err500 != 0 || m.err503 == 0) || !in && m.err503 != 0 {
			t.Fatalf("the API at %s (in the window: %v): %+v", at, in, m)
		}
	}

	// Berlin's 14:00 is busier than its 03:00, and a weekday than Sunday.
	berlin := berlin()
	at := func(day, hour int) float64 {
		return rate(time.Date(2026, 11, day, hour, 0, 0, 0, berlin), 1)
	}
	if at(25, 14) <= 3*at(25, 3) || at(25, 14) <= at(29, 14) {
		t.Errorf("rates: Wed 14:00 %.1f, Wed 03:00 %.1f, Sun 14:00 %.1f", at(25, 14), at(25, 3), at(29, 14))
	}
}

// TestImport checks what VictoriaMetrics gets: JSON lines of Caddy's
// series with the scrape's job and instance, cumulative counters from 0,
// one sample a minute, buckets never above the count; then a flush.
func TestImport(t *testing.T) {
	now := time.Date(2026, 12, 3, 11, 15, 0, 0, time.UTC)
	h := newHistory(now, hosts, "127.0.0.1:18419")
	var mu sync.Mutex
	var lines []map[string]json.RawMessage
	flushed := false
	vm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/api/v1/import":
			sc := bufio.NewScanner(r.Body)
			sc.Buffer(nil, 16<<20)
			for sc.Scan() {
				var l map[string]json.RawMessage
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Errorf("not a JSON line: %s", err)
				}
				lines = append(lines, l)
			}
			w.WriteHeader(http.StatusNoContent)
		case "/internal/force_flush":
			flushed = true
		}
	}))
	defer vm.Close()
	u, _ := url.Parse(vm.URL)
	if err := h.importInto(context.Background(), vm.Client(), u); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// per site: codes 200 and 500 (and the API's 503), each a _count and
	// four buckets.
	if len(lines) != (2+3+2)*5 || !flushed {
		t.Fatalf("%d series imported (flushed: %v), want 35 and a flush", len(lines), flushed)
	}
	counts := map[string][]int64{}
	for _, l := range lines {
		var labels map[string]string
		var values, stamps []int64
		if json.Unmarshal(l["metric"], &labels) != nil || json.Unmarshal(l["values"], &values) != nil || json.Unmarshal(l["timestamps"], &stamps) != nil {
			t.Fatalf("cannot read line %v", l)
		}
		if labels["job"] != "caddy" || labels["instance"] != "127.0.0.1:18419" || labels["server"] != "edge" || labels["handler"] != "subroute" {
			t.Errorf("labels %v", labels)
		}
		if len(values) != len(stamps) || len(values) != len(h.minutes[0]) || values[0] != 0 {
			t.Fatalf("%v: %d values, %d timestamps, first %d", labels, len(values), len(stamps), values[0])
		}
		for i := 1; i < len(values); i++ {
			if values[i] < values[i-1] || stamps[i]-stamps[i-1] != 60_000 {
				t.Fatalf("%v at %d: %d after %d, %d ms later", labels, i, values[i], values[i-1], stamps[i]-stamps[i-1])
			}
		}
		counts[labels["host"]+" "+labels["code"]+" "+labels["le"]] = values
	}
	c, b := counts["shop.acme.localhost 200 "], counts["shop.acme.localhost 200 0.25"]
	if c == nil || b == nil {
		t.Fatalf("no shop 200 count or 0.25 bucket in %d series", len(counts))
	}
	if last := len(c) - 1; b[last] > c[last] || b[last] < c[last]*99/100 {
		t.Errorf("the shop's 0.25 bucket %d of %d requests: want just under", b[last], c[last])
	}
}

// TestDeclare checks the declaration after the fact: the window goes to
// slogate's API with the token, and the budgets before and after are told.
func TestDeclare(t *testing.T) {
	w := window{Start: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 2, 9, 45, 0, 0, time.UTC),
		Match: map[string]string{"host": `api\.acme\.localhost`}, Reason: "r", Author: "a"}
	declared := false
	slogate := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/slogate/api/v1/maintenance":
			body, _ := io.ReadAll(r.Body)
			var got window
			if r.Header.Get("Authorization") != "Bearer tok" || json.Unmarshal(body, &got) != nil || !got.Start.Equal(w.Start) || got.Match["host"] != w.Match["host"] {
				http.Error(rw, "bad window "+string(body), http.StatusUnprocessableEntity)
				return
			}
			declared = true
			rw.WriteHeader(http.StatusCreated)
			io.WriteString(rw, `{"id":"mw-0"}`)
		case r.URL.Path == "/slogate/api/v1/slos":
			sla, excluded := "0.62", "0"
			if declared {
				sla, excluded = "0.95", "52114"
			}
			io.WriteString(rw, `{"slos":[
				{"labels":{"host":"api.acme.localhost"},"objective":{"name":"availability"},"requests":{"excludedBad":`+excluded+`},
				 "budgets":{"sla":{"remainingRatio":`+sla+`},"slo":{"remainingRatio":-0.86}}},
				{"labels":{"host":"api.acme.localhost"},"objective":{"name":"latency"},"budgets":{"sla":{"remainingRatio":0.5}}}]}`)
		default:
			http.NotFound(rw, r)
		}
	}))
	defer slogate.Close()
	u, _ := url.Parse(slogate.URL)
	var out strings.Builder
	if err := declare(context.Background(), slogate.Client(), u, "tok", w, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"api.acme.localhost       SLA 62% left, SLO overspent by 86%",
		"declared api.acme.localhost's outage Dec 2 10:00-10:45 as maintenance after the fact (mw-0",
		"52114 requests left out; SLA 62% left, SLO overspent by 86% -> SLA 95% left, SLO overspent by 86%",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("declare did not print %q:\n%s", want, out.String())
		}
	}
	if err := declare(context.Background(), slogate.Client(), u, "wrong", w, io.Discard); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("declare with a wrong token: %v, want slogate's refusal", err)
	}
}
