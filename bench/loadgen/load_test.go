package main

import (
	"bytes"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestParseTarget(t *testing.T) {
	f := func(raw, wantAddr, wantErr string) {
		t.Helper()
		tg, err := ParseTarget(raw)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("ParseTarget(%q) = %v, want error containing %q", raw, err, wantErr)
			}
			return
		}
		if err != nil || tg.Addr != wantAddr {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", raw, tg.Addr, err, wantAddr)
		}
	}
	f("http://127.0.0.1:8490/api/v1/write", "127.0.0.1:8490", "")
	f("http://127.0.0.2:1/api/v1/write", "127.0.0.2:1", "")
	f("http://localhost:8428/api/v1/write", "127.0.0.1:8428", "")
	f("http://[::1]:8428/api/v1/write", "[::1]:8428", "")
	f("http://127.0.0.1/api/v1/write", "127.0.0.1:80", "")
	f("http://10.0.0.1:8428/api/v1/write", "", "not a loopback address")
	f("http://0.0.0.0:8428/api/v1/write", "", "not a loopback address")
	f("http://example.com:8428/api/v1/write", "", "not a loopback IP address")
	f("http://localhost.example.com/api/v1/write", "", "not a loopback IP address")
	f("https://127.0.0.1:8428/api/v1/write", "", "scheme must be http")
	f("127.0.0.1:8428", "", "cannot parse")
}

func TestRunRefusesNonLoopback(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-url=http://192.0.2.1:8428/api/v1/write", "-duration=1s"}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "refusing target") {
		t.Fatalf("run = %v, want a refusal", err)
	}
	if out.Len() != 0 {
		t.Fatalf("printed %q before refusing", out.String())
	}
}

// server answers 204 on a loopback port and counts requests.
func server(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Request.Header.ContentEncoding()) == "" || len(ctx.Request.Body()) == 0 {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		n.Add(1)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	}}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown() })
	return "http://" + ln.Addr().String() + "/api/v1/write", &n
}

func TestRunLoadClosedAndOpen(t *testing.T) {
	url, served := server(t)
	tg, err := ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	p := smallPayload(t, 1)
	bs, err := NewBodies(p, Snappy)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	base := LoadConfig{
		Target: tg, Bodies: bs, Enc: Snappy, Conns: 2, Warmup: 50 * time.Millisecond,
		Duration: 200 * time.Millisecond, MaxRequests: 1_000_000, Timeout: 5 * time.Second,
		Events: func(name string) { events = append(events, name) },
	}
	res, err := runLoad(base)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || len(res.Errors) != 0 || int64(len(res.Latencies)) != res.OK {
		t.Fatalf("closed loop: %d ok, errors %v, %d latencies", res.OK, res.Errors, len(res.Latencies))
	}
	if res.Sent > served.Load()+int64(base.Conns) || res.Sent < res.OK {
		t.Fatalf("closed loop: sent %d, server saw %d, ok in window %d", res.Sent, served.Load(), res.OK)
	}
	if strings.Join(events, ",") != "measure_start,measure_end" {
		t.Fatalf("events %v, want measure_start and measure_end", events)
	}

	open := base
	open.Open, open.Rate, open.Events = true, 100, nil
	res, err = runLoad(open)
	if err != nil {
		t.Fatal(err)
	}
	// 100 rps over 250ms is 25 requests; about 20 complete in the window.
	if res.Sent != 25 || res.OK < 10 || res.OK > 21 {
		t.Fatalf("open loop: sent %d (want 25), %d ok in the window (want about 20)", res.Sent, res.OK)
	}

	capped := base
	capped.MaxRequests, capped.Events = 3, nil
	if res, err = runLoad(capped); err != nil || res.Sent != 3 {
		t.Fatalf("-requests=3: sent %d, %v", res.Sent, err)
	}
}

func TestPercentile(t *testing.T) {
	var l []time.Duration
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(l, c.q); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestUpstreamTiming(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"upstream;dur=12.345":        12345 * time.Microsecond,
		"db;dur=3, upstream;dur=0.5": 500 * time.Microsecond,
		"upstream;desc=\"vm\";dur=2": 2 * time.Millisecond,
		"":                           0,
		"upstream":                   0,
		"upstream;dur=x":             0,
		"other;dur=4":                0,
	} {
		if got := upstreamTiming([]byte(v)); got != want {
			t.Errorf("upstreamTiming(%q) = %v, want %v", v, got, want)
		}
	}
}
