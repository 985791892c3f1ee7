package proxy

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/slogate/slogate/vmclient"
)

func TestByteBudget(t *testing.T) {
	b := newByteBudget(100)
	if !b.acquire(60, time.Second) || !b.acquire(40, time.Second) {
		t.Fatal("cannot take the whole budget")
	}
	start := time.Now()
	if b.acquire(1, 50*time.Millisecond) {
		t.Fatal("took a byte of a full budget")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("gave up after %s, want the timeout", d)
	}
	got := make(chan bool)
	go func() { got <- b.acquire(50, 5*time.Second) }()
	b.release(60)
	if !<-got {
		t.Fatal("a waiter was not woken by a release")
	}
	if b.inUse() != 90 {
		t.Fatalf("in use %d, want 90", b.inUse())
	}
	b.release(40)
	b.release(50)
	// More than the whole budget: taken when nothing else is.
	if !b.acquire(500, time.Second) {
		t.Fatal("a reservation over the budget never fits")
	}
	if n := testing.AllocsPerRun(100, func() { b.release(500); b.acquire(500, time.Second) }); n != 0 {
		t.Fatalf("acquire and release allocate %v times", n)
	}
}

// TestSlowSendersDoNotStarveWrites: more slow senders than write slots,
// each announcing a body and sending one byte; a normal write is still
// answered at once, and every slow sender gets a 503 with Retry-After (not
// a 413) once its body deadline passes.
func TestSlowSendersDoNotStarveWrites(t *testing.T) {
	upLn := fasthttputil.NewInmemoryListener()
	go func() {
		_ = fasthttp.Serve(upLn, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) })
	}()
	defer upLn.Close()
	up, err := vmclient.New(vmclient.Config{URL: "http://vm:8428", Dial: func(string) (net.Conn, error) { return upLn.Dial() }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Client: up, MaxConcurrentWrites: 2, BodyReadTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer ln.Close()

	const slow = 6
	answers := make([]string, slow)
	var wg sync.WaitGroup
	for i := range slow {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Half stall within fasthttp's pre-read of the first 8 KiB, half
		// after it, in the handler.
		_, _ = c.Write([]byte("POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Encoding: snappy\r\nContent-Length: 1048576\r\n\r\nx"))
		if i%2 == 1 {
			_, _ = c.Write(make([]byte, 16<<10))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 512)
			n, _ := c.Read(buf)
			answers[i] = string(buf[:n])
		}()
	}
	// Let the slow requests reach the handler first.
	time.Sleep(100 * time.Millisecond)
	client := &fasthttp.Client{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://" + ln.Addr().String() + "/api/v1/write")
	req.Header.Set("Content-Encoding", "snappy")
	req.SetBody(writeBody())
	start := time.Now()
	if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); resp.StatusCode() != 204 || took > 500*time.Millisecond {
		t.Fatalf("a normal write behind %d slow senders: %d after %s, want 204 at once", slow, resp.StatusCode(), took)
	}
	wg.Wait()
	for i, a := range answers {
		if !strings.HasPrefix(a, "HTTP/1.1 503") || !strings.Contains(a, "Retry-After") || !strings.Contains(a, "bodyReadTimeout") {
			t.Errorf("slow sender %d got %q, want a 503 with Retry-After naming the body deadline", i, a)
		}
	}
	if n, m := srv.metrics.rejected["read_timeout"].Get(), srv.metrics.readTimeouts.Get(); n != slow/2 || m != slow/2 {
		t.Errorf("slogate_write_rejected_total{reason=\"read_timeout\"} = %d, slogate_http_read_timeouts_total = %d, want %d each", n, m, slow/2)
	}
}

// TestProxiedConcurrencyBounded: with every pass-through slot busy, the
// next passed-through request waits QueueTimeout and gets a 503 with
// Retry-After; writes do not share those slots.
func TestProxiedConcurrencyBounded(t *testing.T) {
	h := newHarnessConfig(t, 5*time.Second, Config{MaxConcurrentProxied: 1, QueueTimeout: 200 * time.Millisecond})
	h.up.status, h.up.hang = 200, time.Second
	done := make(chan int)
	go func() {
		code, _, _ := h.post(t, "/api/v1/import", "", []byte("slow import"))
		done <- code
	}()
	time.Sleep(100 * time.Millisecond)
	code, body, hdr := h.post(t, "/api/v1/import", "", []byte("second import"))
	if code != 503 || len(hdr.Peek("Retry-After")) == 0 || !strings.Contains(body, "maxConcurrentRequests") {
		t.Fatalf("second import while the slot is busy: %d %q, want 503 with Retry-After", code, body)
	}
	if code := <-done; code != 200 {
		t.Fatalf("the first import got %d", code)
	}
	if n := h.srv.metrics.proxyRefused["overloaded"].Get(); n != 1 {
		t.Fatalf("slogate_proxy_refused_total{reason=\"overloaded\"} = %d, want 1", n)
	}
}
