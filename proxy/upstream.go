package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Upstream is the VictoriaMetrics (single node, vminsert or anything that
// speaks its HTTP API) that slogate forwards to.
type Upstream struct {
	base    string // scheme://host[:port][/prefix] without a trailing slash
	timeout time.Duration
	hc      *fasthttp.HostClient
}

// UpstreamConfig configures an Upstream. Zero fields take the defaults named.
type UpstreamConfig struct {
	// URL of VictoriaMetrics, e.g. http://127.0.0.1:8428 or a vminsert
	// http://vminsert:8480. A path prefix is kept in front of every path.
	URL string
	// Timeout of one upstream request. Default 30s.
	Timeout time.Duration
	// MaxConns to the upstream. Default 512.
	MaxConns int
	// MaxResponseBodySize of a proxied response in bytes. Default 256 MiB.
	MaxResponseBodySize int
	// Dial replaces the TCP dialer (tests use in-memory listeners).
	Dial fasthttp.DialFunc
}

// NewUpstream validates cfg and returns an Upstream.
func NewUpstream(cfg UpstreamConfig) (*Upstream, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("cannot parse -upstream.url %q: %w", cfg.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("cannot use -upstream.url %q: scheme must be http or https", cfg.URL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("cannot use -upstream.url %q: no host", cfg.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("cannot use -upstream.url %q: query and fragment are not allowed", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 512
	}
	if cfg.MaxResponseBodySize <= 0 {
		cfg.MaxResponseBodySize = 256 << 20
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	return &Upstream{
		base:    u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/"),
		timeout: cfg.Timeout,
		hc: &fasthttp.HostClient{
			Addr:                     addr,
			Name:                     "slogate",
			IsTLS:                    u.Scheme == "https",
			Dial:                     cfg.Dial,
			MaxConns:                 cfg.MaxConns,
			MaxResponseBodySize:      cfg.MaxResponseBodySize,
			ReadTimeout:              cfg.Timeout,
			WriteTimeout:             cfg.Timeout,
			MaxIdleConnDuration:      time.Minute,
			NoDefaultUserAgentHeader: true,
			// A write is retried by the sender, not here: retrying inside
			// the proxy would hide an upstream outage from it.
			MaxIdemponentCallAttempts: 1,
			DisablePathNormalizing:    true,
		},
	}, nil
}

// URL returns the upstream base URL.
func (u *Upstream) URL() string { return u.base }

// hopHeaders are connection-scoped and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// do sends the incoming request in ctx to the upstream with the same method,
// path, query and headers, and body, and fills resp.
func (u *Upstream) do(ctx *fasthttp.RequestCtx, body []byte, resp *fasthttp.Response) error {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	ctx.Request.Header.CopyTo(&req.Header)
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	uri := ctx.Request.Header.RequestURI() // path and query as sent
	req.SetRequestURI(u.base + string(uri))
	req.Header.SetHost(u.hc.Addr)
	req.SetBodyRaw(body)
	return u.hc.DoTimeout(req, resp, u.timeout)
}

// Post sends body to path on the upstream with the given headers (pairs of
// name and value) and returns the status code and up to 4 KiB of the
// response body. It is used for slogate's own writes.
func (u *Upstream) Post(path string, body []byte, headers ...string) (int, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(u.base + path)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.SetBodyRaw(body)
	if err := u.hc.DoTimeout(req, resp, u.timeout); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), firstLine(resp.Body(), 4096), nil
}

// Get fetches path from the upstream into resp.
func (u *Upstream) Get(path string, resp *fasthttp.Response) error {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI(u.base + path)
	return u.hc.DoTimeout(req, resp, u.timeout)
}

// errorReason names an upstream transport error for the self-metrics.
func errorReason(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "too_large"
	}
	return "connect"
}

// retryAfter returns the upstream's Retry-After if it is a number of seconds,
// else def.
func retryAfter(resp *fasthttp.Response, def time.Duration) string {
	if v := resp.Header.Peek("Retry-After"); len(v) > 0 {
		if _, err := strconv.Atoi(string(v)); err == nil {
			return string(v)
		}
	}
	return strconv.Itoa(int(def.Round(time.Second) / time.Second))
}

// firstLine returns b up to its first newline, at most max bytes.
func firstLine(b []byte, max int) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }
