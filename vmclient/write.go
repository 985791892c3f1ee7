package vmclient

import (
	"github.com/valyala/fasthttp"
)

// hopHeaders are connection-scoped and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// Forward sends the request in ctx to the upstream with the same method,
// headers and body, to requestURI (a normalised path with the query, see
// package proxy), and fills resp. The answer is the caller's to classify.
func (c *Client) Forward(ctx *fasthttp.RequestCtx, requestURI []byte, body []byte, resp *fasthttp.Response) error {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	ctx.Request.Header.CopyTo(&req.Header)
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.SetRequestURI(c.base + string(requestURI))
	req.Header.SetHost(c.hc.Addr)
	req.SetBodyRaw(body)
	return c.hc.DoTimeout(req, resp, c.cfg.Timeout)
}

// CopyAnswer copies an upstream answer into ctx without the
// connection-scoped headers.
func CopyAnswer(ctx *fasthttp.RequestCtx, resp *fasthttp.Response) {
	resp.Header.CopyTo(&ctx.Response.Header)
	for _, h := range hopHeaders {
		ctx.Response.Header.Del(h)
	}
	// The body must outlive resp, which goes back to its pool: copy it.
	ctx.Response.SetBody(resp.Body())
}

// Write sends a snappy-compressed remote-write body to path (see
// WritePath). It returns nil once the upstream accepted it, a *StatusError
// for any other answer, or the transport error; IsRetryable tells which to
// keep.
func (c *Client) Write(path string, snappyBody []byte) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(c.base + path)
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.SetContentType("application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.SetBodyRaw(snappyBody)
	if err := c.hc.DoTimeout(req, resp, c.cfg.Timeout); err != nil {
		return err
	}
	if code := resp.StatusCode(); Classify(code) != Accepted {
		return &StatusError{Code: code, Body: string(FirstLine(resp.Body(), 1024))}
	}
	return nil
}
