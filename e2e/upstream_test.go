package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// fakeUpstream records the writes it receives and answers each with the
// status and body currently set, or, with hang, never answers (until the
// client gives up).
type fakeUpstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	status   int
	body     string
	hang     bool
	received []receivedWrite
}

type receivedWrite struct {
	path, encoding string
	body           []byte
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	u := &fakeUpstream{status: http.StatusNoContent}
	release := make(chan struct{})
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		u.received = append(u.received, receivedWrite{path: r.URL.Path, encoding: r.Header.Get("Content-Encoding"), body: body})
		status, msg, hang := u.status, u.body, u.hang
		u.mu.Unlock()
		if hang {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		if msg != "" {
			http.Error(w, msg, status)
			return
		}
		w.WriteHeader(status)
	}))
	// Release hung handlers before Close, which waits for them.
	t.Cleanup(func() { close(release); u.srv.Close() })
	return u
}

func (u *fakeUpstream) answer(status int, body string, hang bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status, u.body, u.hang = status, body, hang
}

// got reports whether a write with exactly this body and Content-Encoding
// reached the upstream, and on which path.
func (u *fakeUpstream) got(body []byte, encoding string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range u.received {
		if bytes.Equal(r.body, body) && r.encoding == encoding {
			return r.path, true
		}
	}
	return "", false
}

// TestUpstreamVerdicts checks how slogate maps the upstream's answer:
// accepted (2xx) gives 204 after the original bytes were forwarded
// unchanged; 400 and 409 (the sender must drop the data) pass through with
// the upstream's reason; 5xx, 429, a timeout or a refused connection give
// 503 with Retry-After (the sender keeps and retries the data). The 500 case
// also proves slogate never acknowledges before the upstream answered: it
// cannot know the verdict earlier.
func TestUpstreamVerdicts(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+up.srv.URL, "-upstream.timeout=1s")

	cases := []struct {
		name       string
		upStatus   int
		upBody     string
		hang       bool
		want       int
		wantInBody string
	}{
		{name: "accepted 204", upStatus: http.StatusNoContent, want: http.StatusNoContent},
		{name: "accepted 200", upStatus: http.StatusOK, want: http.StatusNoContent},
		{name: "bad request", upStatus: http.StatusBadRequest, upBody: "upstream says: label too long", want: http.StatusBadRequest, wantInBody: "label too long"},
		{name: "conflict", upStatus: http.StatusConflict, upBody: "upstream says: out of order", want: http.StatusConflict, wantInBody: "out of order"},
		{name: "server error", upStatus: http.StatusInternalServerError, upBody: "disk full", want: http.StatusServiceUnavailable},
		{name: "bad gateway", upStatus: http.StatusBadGateway, want: http.StatusServiceUnavailable},
		{name: "too many requests", upStatus: http.StatusTooManyRequests, want: http.StatusServiceUnavailable},
		{name: "timeout", hang: true, want: http.StatusServiceUnavailable},
	}
	now := time.Now().UnixMilli()
	for i, c := range cases {
		up.answer(c.upStatus, c.upBody, c.hang)
		for j, enc := range []string{"snappy", "zstd"} {
			raw := marshalWriteRequest(nil, uniqueSeries(fmt.Sprintf("e2e_verdict_%d_%d", i, j), float64(i), now))
			body := snappyEncode(raw)
			if enc == "zstd" {
				body = zstdEncode(t, raw)
			}
			what := fmt.Sprintf("upstream %s, %s write", c.name, enc)
			code, retryAfter, resp := postWrite(t, http.MethodPost, sg.URL+"/api/v1/write", enc, body)
			if code != c.want {
				t.Errorf("%s: status %d, want %d: %q", what, code, c.want, firstLineOf(resp))
				continue
			}
			path, forwarded := up.got(body, enc)
			if !forwarded {
				t.Errorf("%s: the upstream never received the original %d bytes with Content-Encoding %s", what, len(body), enc)
			} else if path != "/api/v1/write" {
				t.Errorf("%s: forwarded to path %q, want /api/v1/write", what, path)
			}
			if c.want == http.StatusNoContent {
				continue
			}
			checkOneLineReason(t, what, resp)
			if c.wantInBody != "" && !strings.Contains(resp, c.wantInBody) {
				t.Errorf("%s: body %q does not pass on the upstream's reason %q", what, resp, c.wantInBody)
			}
			if c.want == http.StatusServiceUnavailable && !validRetryAfter(retryAfter) {
				t.Errorf("%s: Retry-After %q, want seconds or an HTTP date", what, retryAfter)
			}
		}
	}

	// Nothing listens on the upstream address: 503, slogate stays healthy.
	down := testenv.StartSlogate(t, "-upstream.url=http://"+testenv.FreeAddr(t))
	raw := marshalWriteRequest(nil, uniqueSeries("e2e_verdict_down", 1, now))
	code, retryAfter, resp := postWrite(t, http.MethodPost, down.URL+"/prometheus/api/v1/write", "snappy", snappyEncode(raw))
	if code != http.StatusServiceUnavailable || !validRetryAfter(retryAfter) {
		t.Errorf("upstream refusing connections: status %d, Retry-After %q, want 503 with Retry-After: %q", code, retryAfter, firstLineOf(resp))
	}
	checkOneLineReason(t, "upstream refusing connections", resp)
	testenv.MustGet(t, down.URL+"/health")
}
