package proxy

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/vmclient"
)

// fakeUpstream answers with a scripted status: the failure modes (5xx, 429,
// 409, a hang) that a real VictoriaMetrics does not produce on demand.
type fakeUpstream struct {
	mu     sync.Mutex
	status int
	hang   time.Duration
	bodies [][]byte
	paths  []string
	heads  []string
}

func (f *fakeUpstream) handle(ctx *fasthttp.RequestCtx) {
	f.mu.Lock()
	status, hang := f.status, f.hang
	f.bodies = append(f.bodies, append([]byte(nil), ctx.PostBody()...))
	f.paths = append(f.paths, string(ctx.RequestURI()))
	f.heads = append(f.heads, string(ctx.Request.Header.ContentEncoding()))
	f.mu.Unlock()
	time.Sleep(hang)
	if status == 0 {
		status = fasthttp.StatusNoContent
	}
	if status == fasthttp.StatusTooManyRequests {
		ctx.Response.Header.Set("Retry-After", "7")
	}
	ctx.SetStatusCode(status)
	if status != fasthttp.StatusNoContent {
		ctx.SetBodyString("upstream says " + fasthttp.StatusMessage(status) + "\nsecond line")
	}
}

// recorder is an Engine that records what it was given.
type recorder struct {
	mu     sync.Mutex
	series []string
}

func (r *recorder) Wants(name []byte) bool { return string(name) == "sli_total" }
func (r *recorder) IngestWrite(t budget.Tenant, series []remotewrite.TimeSeries) {
	for i := range series {
		r.ingest(t, series[i].AppendLabels(nil), series[i].Samples)
	}
}

func (r *recorder) ingest(t budget.Tenant, labels []budget.Label, samples []budget.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(int(t.AccountID)) + ":" + strconv.Itoa(int(t.ProjectID)))
	for _, l := range labels {
		sb.WriteString(" " + l.Name + "=" + l.Value)
	}
	for _, s := range samples {
		sb.WriteString(" " + strconv.Itoa(int(s.Value)) + "@" + strconv.Itoa(int(s.Timestamp)))
	}
	r.series = append(r.series, sb.String())
}

type harness struct {
	up     *fakeUpstream
	rec    *recorder
	client *fasthttp.Client
	srv    *Server
}

func newHarness(t *testing.T, timeout time.Duration) *harness {
	t.Helper()
	return newHarnessConfig(t, timeout, Config{})
}

// newHarnessConfig is newHarness with cfg's guard and limit fields.
func newHarnessConfig(t *testing.T, timeout time.Duration, cfg Config) *harness {
	t.Helper()
	h := &harness{up: &fakeUpstream{}, rec: &recorder{}}
	upLn := fasthttputil.NewInmemoryListener()
	go func() { _ = fasthttp.Serve(upLn, h.up.handle) }()
	up, err := vmclient.New(vmclient.Config{
		URL:     "http://vm:8428/prefix",
		Timeout: timeout,
		Dial:    func(string) (net.Conn, error) { return upLn.Dial() },
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Client, cfg.Engine, cfg.MaxRequestBodySize, cfg.MaxDecompressedSize = up, h.rec, 1<<20, 1<<20
	h.srv, err = NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = h.srv.Serve(ln) }()
	h.client = &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	t.Cleanup(func() { _ = ln.Close(); _ = upLn.Close() })
	return h
}

func (h *harness) post(t *testing.T, path, encoding string, body []byte) (int, string, *fasthttp.ResponseHeader) {
	t.Helper()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://slogate" + path)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	req.SetBody(body)
	if err := h.client.Do(req, resp); err != nil {
		t.Fatalf("cannot post: %s", err)
	}
	var hdr fasthttp.ResponseHeader
	resp.Header.CopyTo(&hdr)
	return resp.StatusCode(), string(resp.Body()), &hdr
}

func writeBody() []byte {
	return snappy.Encode(nil, remotewrite.AppendWriteRequest(nil, []remotewrite.TimeSeries{
		{Labels: []remotewrite.Label{{Name: "__name__", Value: "sli_total"}, {Name: "code", Value: "500"}}, Samples: []remotewrite.Sample{{Value: 3, Timestamp: 1000}}},
		{Labels: []remotewrite.Label{{Name: "__name__", Value: "other"}}, Samples: []remotewrite.Sample{{Value: 1, Timestamp: 1000}}},
	}))
}

func TestWriteStatusMapping(t *testing.T) {
	f := func(name string, upstatus int, hang time.Duration, wantCode int, wantBody string, wantIngested int) {
		t.Helper()
		h := newHarness(t, 200*time.Millisecond)
		h.up.status, h.up.hang = upstatus, hang
		code, body, hdr := h.post(t, "/api/v1/write", "snappy", writeBody())
		if code != wantCode || !strings.Contains(body, wantBody) || strings.Count(body, "\n") > 1 {
			t.Fatalf("%s: got %d %q, want %d containing %q on one line", name, code, body, wantCode, wantBody)
		}
		if code == fasthttp.StatusServiceUnavailable && len(hdr.Peek("Retry-After")) == 0 {
			t.Fatalf("%s: 503 without Retry-After", name)
		}
		if len(h.rec.series) != wantIngested {
			t.Fatalf("%s: engine got %d series, want %d", name, len(h.rec.series), wantIngested)
		}
	}
	f("accepted", 204, 0, 204, "", 1)
	f("upstream 500", 500, 0, 503, "upstream answered 500", 0)
	f("upstream 502", 502, 0, 503, "upstream answered 502", 0)
	f("upstream 429", 429, 0, 503, "upstream answered 429", 0)
	f("upstream 400 passes", 400, 0, 400, "upstream says Bad Request", 0)
	f("upstream 409 passes", 409, 0, 409, "upstream says Conflict", 0)
	f("upstream hangs", 204, time.Second, 503, "cannot forward write", 0)
}

func TestWriteRetryAfterFromUpstream(t *testing.T) {
	h := newHarness(t, time.Second)
	h.up.status = 429
	_, _, hdr := h.post(t, "/api/v1/write", "snappy", writeBody())
	if got := string(hdr.Peek("Retry-After")); got != "7" {
		t.Fatalf("Retry-After %q, want the upstream's 7", got)
	}
}

func TestWriteUpstreamDown(t *testing.T) {
	up, err := vmclient.New(vmclient.Config{URL: "http://127.0.0.1:1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(Config{Client: up})
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/api/v1/write")
	ctx.Request.SetBody(writeBody())
	srv.Handle(&ctx)
	if ctx.Response.StatusCode() != 503 || len(ctx.Response.Header.Peek("Retry-After")) == 0 {
		t.Fatalf("got %d, Retry-After %q; want 503 with Retry-After", ctx.Response.StatusCode(), ctx.Response.Header.Peek("Retry-After"))
	}
}

func TestWriteForwardsOriginalBytes(t *testing.T) {
	h := newHarness(t, time.Second)
	body := writeBody()
	code, _, _ := h.post(t, "/insert/42:7/prometheus/api/v1/write?extra_label=a=b", "snappy", body)
	if code != 204 {
		t.Fatalf("got %d, want 204", code)
	}
	if string(h.up.bodies[0]) != string(body) || h.up.heads[0] != "snappy" {
		t.Fatalf("upstream got other bytes or encoding %q", h.up.heads[0])
	}
	if h.up.paths[0] != "/prefix/insert/42:7/prometheus/api/v1/write?extra_label=a=b" {
		t.Fatalf("upstream path %q", h.up.paths[0])
	}
	if want := "42:7 __name__=sli_total code=500 3@1000"; len(h.rec.series) != 1 || h.rec.series[0] != want {
		t.Fatalf("engine got %q, want %q", h.rec.series, want)
	}
}

func TestWriteRejects(t *testing.T) {
	f := func(name, path, enc string, body []byte, wantCode int, wantBody string) {
		t.Helper()
		h := newHarness(t, time.Second)
		code, got, _ := h.post(t, path, enc, body)
		if code != wantCode || !strings.Contains(got, wantBody) {
			t.Fatalf("%s: got %d %q, want %d containing %q", name, code, got, wantCode, wantBody)
		}
		if len(h.up.bodies) != 0 {
			t.Fatalf("%s: a rejected write reached the upstream", name)
		}
	}
	f("garbage", "/api/v1/write", "snappy", []byte("\x10garbage garbage"), 400, "snappy")
	f("truncated", "/api/v1/write", "snappy", snappy.Encode(nil, []byte{0x0a, 0x10, 0x01}), 400, "cannot decode snappy remote write body")
	f("unknown encoding", "/api/v1/write", "br", writeBody(), 415, "unsupported Content-Encoding")
	f("bomb", "/prometheus/api/v1/write", "snappy", snappy.Encode(nil, make([]byte, 4<<20)), 413, "limit")
	f("bad tenant", "/insert/x/prometheus/api/v1/write", "snappy", writeBody(), 400, "tenant")
}

func TestProxyPassThrough(t *testing.T) {
	h := newHarness(t, time.Second)
	h.up.status = 200
	code, body, _ := h.post(t, "/api/v1/import?x=1", "", []byte("data"))
	if code != 200 || !strings.Contains(body, "upstream says OK") {
		t.Fatalf("got %d %q", code, body)
	}
	if h.up.paths[0] != "/prefix/api/v1/import?x=1" || string(h.up.bodies[0]) != "data" {
		t.Fatalf("upstream got %q %q", h.up.paths[0], h.up.bodies[0])
	}
	if len(h.rec.series) != 0 {
		t.Fatal("a proxied request reached the engine")
	}
}

// TestBodyTooLarge checks the compressed-size limit over real TCP: the
// sender may write its whole body and still reads a 413, not a reset.
func TestBodyTooLarge(t *testing.T) {
	up, _ := vmclient.New(vmclient.Config{URL: "http://127.0.0.1:1"})
	srv, _ := NewServer(Config{Client: up, MaxRequestBodySize: 1 << 20})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Encoding: snappy\r\nContent-Length: 2097152\r\n\r\n"))
	if _, err := c.Write(make([]byte, 2<<20)); err != nil {
		t.Fatalf("cannot send the body: %s", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 413") {
		t.Fatalf("got %q, want a 413", buf[:n])
	}
}

// TestWriteServerTiming: an accepted write says how long the upstream
// took (Server-Timing: upstream;dur=<ms>), at least the time the upstream
// held it.
func TestWriteServerTiming(t *testing.T) {
	h := newHarness(t, time.Second)
	h.up.hang = 30 * time.Millisecond
	code, _, hdr := h.post(t, "/api/v1/write", "snappy", writeBody())
	v, ok := strings.CutPrefix(string(hdr.Peek("Server-Timing")), "upstream;dur=")
	if code != fasthttp.StatusNoContent || !ok {
		t.Fatalf("got %d with Server-Timing %q, want 204 with upstream;dur=", code, hdr.Peek("Server-Timing"))
	}
	ms, err := strconv.ParseFloat(v, 64)
	if err != nil || ms < 30 || ms > 1000 {
		t.Fatalf("upstream;dur=%s, want the upstream's 30 ms or a little more", v)
	}
}
