package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/vmclient"
)

// serveWrite handles a remote write: check, decode and scan the body,
// forward the original bytes, and count the SLI series only once the
// upstream accepted them. Status codes follow what senders expect: they drop
// data on 400/409/413/415 and retry everything else, so a failure of the
// upstream must never look like a bad request.
func (s *Server) serveWrite(ctx *fasthttp.RequestCtx, route int, tenant budget.Tenant) {
	if !ctx.IsPost() {
		// The deprecated VictoriaMetrics protocol handshake
		// (?get_vm_proto_version=1) is the upstream's to answer.
		if ctx.QueryArgs().Has("get_vm_proto_version") {
			s.serveProxy(ctx)
			return
		}
		s.reject(ctx, route, fasthttp.StatusMethodNotAllowed, "method", "method "+string(ctx.Method())+" not allowed: remote write takes POST")
		ctx.Response.Header.Set("Allow", "POST")
		return
	}
	enc, err := remotewrite.ParseEncoding(ctx.Request.Header.ContentEncoding())
	if err != nil {
		s.reject(ctx, route, fasthttp.StatusUnsupportedMediaType, "encoding", err.Error())
		return
	}

	// Admission (admit.go): room for the body in the byte budget, the body
	// read under a deadline, then a write slot. A sender that waits too
	// long gets a 503 and retries later.
	need := s.bodyReservation(ctx)
	if !s.bodies.acquire(need, s.cfg.QueueTimeout) {
		s.rejected("overloaded")
		s.overloaded(ctx, route, "too many write bodies in memory (-write.maxBodyBytesInFlight); retry later")
		return
	}
	defer s.bodies.release(need)
	ws, _ := s.pool.Get().(*writeState)
	if ws == nil {
		ws = &writeState{wants: s.wants, reserved: s.cfg.Reserved}
		ws.wr.Lazy = true // the engine decodes the labels of new series only
	}
	defer s.pool.Put(ws)
	defer ws.reset()
	ws.body, err = s.readBody(ctx, ws.body)
	if err != nil {
		s.readFailed(ctx, route, err, s.rejected)
		return
	}
	if !s.slot(s.slots) {
		s.rejected("overloaded")
		s.overloaded(ctx, route, "too many concurrent writes; retry later")
		return
	}
	defer func() { <-s.slots }()
	s.metrics.inflight.Add(1)
	defer s.metrics.inflight.Add(-1)
	body := ws.body
	s.metrics.bytesIn.Add(len(body))

	wr := &ws.wr
	wr.Buf, err = s.dec.Decompress(wr.Buf, body, enc)
	if err != nil {
		if errors.Is(err, remotewrite.ErrTooLarge) {
			s.reject(ctx, route, fasthttp.StatusRequestEntityTooLarge, "too_large", err.Error())
		} else {
			s.reject(ctx, route, fasthttp.StatusBadRequest, "malformed", err.Error())
		}
		return
	}
	if err := wr.Unmarshal(wr.Buf, ws.keep, s.cfg.Limits); err != nil {
		s.reject(ctx, route, fasthttp.StatusBadRequest, "malformed", "cannot decode "+enc.String()+" remote write body: "+err.Error())
		return
	}
	if ws.forged {
		if body, err = s.dropReserved(ctx, ws); err != nil {
			s.reject(ctx, route, fasthttp.StatusBadRequest, "malformed", "cannot decode "+enc.String()+" remote write body: "+err.Error())
			return
		}
	}
	s.metrics.seriesReceived.Add(wr.SeriesTotal)
	s.metrics.sliRefused.Add(wr.Refused)

	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	start := time.Now()
	err = s.cfg.Client.Forward(ctx, ctx.URI().RequestURI(), body, resp)
	upstream := time.Since(start)
	s.metrics.upstreamDuration.Update(upstream.Seconds())
	if err != nil {
		// Down, refusing connections or timing out: the sender keeps the
		// block and retries.
		s.metrics.upstreamErrors[vmclient.TransportReason(err)].Inc()
		s.overloaded(ctx, route, "cannot forward write to upstream "+s.cfg.Client.URL()+": "+err.Error())
		return
	}
	code := resp.StatusCode()
	switch vmclient.Classify(code) {
	case vmclient.Accepted:
		s.metrics.bytesForwarded.Add(len(body))
		s.ingest(ws, tenant)
		// A route this write created must be in the journal before the
		// sender hears 204: after a crash the restart replays only the
		// routes it knows of. The sender retries a 503; the data is in
		// the upstream already, and the retried block counts zero.
		if j := s.cfg.Journal; j != nil && j.Pending() {
			if err := j.Sync(); err != nil {
				s.metrics.rejected["journal"].Inc()
				s.overloaded(ctx, route, err.Error())
				return
			}
		}
		// Any 2xx is an acceptance; remote write senders expect 204.
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		setUpstreamTiming(ctx, upstream)
		s.metrics.request(route, fasthttp.StatusNoContent)
	case vmclient.Retryable:
		// Overloaded or failing. 503 and not the upstream's own 5xx, so
		// that every sender treats it as "keep and retry".
		if code == fasthttp.StatusTooManyRequests {
			s.metrics.upstreamErrors["429"].Inc()
		} else {
			s.metrics.upstreamErrors["5xx"].Inc()
		}
		s.answer(ctx, route, fasthttp.StatusServiceUnavailable, "upstream answered "+strconv.Itoa(code)+": "+string(vmclient.FirstLine(resp.Body(), 1024)))
		ctx.Response.Header.Set("Retry-After", vmclient.RetryAfter(resp, s.cfg.RetryAfter))
	default:
		// 400, 409 and other 4xx are the upstream's verdict on the data:
		// passed through, so that the sender drops what would fail again.
		s.metrics.upstreamErrors["4xx"].Inc()
		ctx.Response.Header.SetContentTypeBytes(resp.Header.ContentType())
		ctx.SetStatusCode(code)
		ctx.SetBody(resp.Body())
		s.metrics.request(route, code)
	}
}

// Journal is the route journal as the write path sees it.
type Journal interface {
	// Pending reports whether routes were added and are not durable yet;
	// it is asked for every accepted write and must be cheap.
	Pending() bool
	// Sync makes every route added so far durable.
	Sync() error
}

// wants asks the engine whether a metric name is an SLI.
func (s *Server) wants(name []byte) bool {
	return s.cfg.Engine != nil && s.cfg.Engine.Wants(name)
}

// ingest hands the kept series of an accepted write to the engine.
func (s *Server) ingest(ws *writeState, tenant budget.Tenant) {
	if s.cfg.Engine == nil {
		return
	}
	samples := 0
	for i := range ws.wr.Series {
		samples += len(ws.wr.Series[i].Samples)
	}
	s.cfg.Engine.IngestWrite(tenant, ws.wr.Series)
	s.metrics.sliSeries.Add(len(ws.wr.Series))
	s.metrics.sliSamples.Add(samples)
}

func (ws *writeState) reset() {
	ws.wr.Reset()
	ws.forged = false
	ws.names = [nameSlots]nameAnswer{}
}

// answer sets a one-line plain-text answer. It resets the response headers:
// set headers after it.
func (s *Server) answer(ctx *fasthttp.RequestCtx, route, code int, msg string) {
	ctx.Error(msg+"\n", code)
	s.metrics.request(route, code)
}

// serveProxy passes a request to the upstream unchanged and its answer back.
func (s *Server) serveProxy(ctx *fasthttp.RequestCtx) {
	if !s.cfg.AllowAdminPaths && deniedPath(ctx.Path()) {
		s.metrics.adminRefused.Inc()
		s.answer(ctx, routeProxy, fasthttp.StatusForbidden, "path "+string(ctx.Path())+" is a VictoriaMetrics admin or internal path; slogate refuses it (-proxy.allowAdminPaths)")
		return
	}
	if !s.slot(s.proxied) {
		s.metrics.proxyRefused["overloaded"].Inc()
		s.overloaded(ctx, routeProxy, "too many concurrent passed-through requests (-proxy.maxConcurrentRequests); retry later")
		return
	}
	defer func() { <-s.proxied }()
	s.metrics.proxyInflight.Add(1)
	defer s.metrics.proxyInflight.Add(-1)
	// Body buffers are reused: the memory of passed-through bodies stays
	// near MaxConcurrentProxied x their size instead of growing with the
	// garbage of finished ones.
	bp, _ := s.proxyBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer s.proxyBufs.Put(bp)
	body, err := s.readBody(ctx, *bp)
	*bp = body[:0]
	if err != nil {
		s.readFailed(ctx, routeProxy, err, func(reason string) { s.metrics.proxyRefused[reason].Inc() })
		return
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := s.cfg.Client.Forward(ctx, ctx.URI().RequestURI(), body, resp); err != nil {
		// Down, refusing, timing out or cutting the connection: retryable,
		// answered as a write would be (vmclient.IsRetryable), so that
		// importers keep the data and send it again.
		s.metrics.upstreamErrors[vmclient.TransportReason(err)].Inc()
		s.overloaded(ctx, routeProxy, "cannot proxy to upstream "+s.cfg.Client.URL()+": "+err.Error())
		return
	}
	vmclient.CopyAnswer(ctx, resp)
	s.metrics.request(routeProxy, resp.StatusCode())
}

// maxDrain bounds what slogate reads and discards of a body over the limit
// before answering 413; past it the connection is closed.
const maxDrain = 64 << 20

// readBody appends the request body to dst[:0], refusing one over
// MaxRequestBodySize (errBodyTooLarge) and one that takes longer than
// BodyReadTimeout (os.ErrDeadlineExceeded). A refused body is drained (up
// to maxDrain) so that the sender gets to read the 413.
func (s *Server) readBody(ctx *fasthttp.RequestCtx, dst []byte) ([]byte, error) {
	if !ctx.Request.IsBodyStream() {
		return append(dst[:0], ctx.Request.Body()...), nil
	}
	s.setBodyDeadline(ctx)
	limit := s.cfg.MaxRequestBodySize
	tooLarge := func() error {
		return fmt.Errorf("%w: larger than -maxRequestBodySize=%d bytes", errBodyTooLarge, limit)
	}
	stream := ctx.RequestBodyStream()
	if cl := ctx.Request.Header.ContentLength(); cl > limit {
		s.drain(ctx, stream)
		return dst[:0], tooLarge()
	}
	// Sized from Content-Length (checked above), so that the body is held
	// once, not in a buffer that doubled past it. Read up to one byte over
	// the limit, into dst itself: no reader or buffer of its own to
	// allocate per request.
	dst = dst[:0]
	if cl := ctx.Request.Header.ContentLength(); cl > 0 {
		dst = slices.Grow(dst, cl+bytes.MinRead)
	}
	for len(dst) <= limit {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, bytes.MinRead)
		}
		n, err := stream.Read(dst[len(dst):min(cap(dst), limit+1)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst, fmt.Errorf("cannot read request body: %w", err)
		}
	}
	if len(dst) > limit {
		s.drain(ctx, stream)
		return dst[:0], tooLarge()
	}
	return dst, nil
}

func (s *Server) drain(ctx *fasthttp.RequestCtx, stream io.Reader) {
	if n, _ := io.CopyN(io.Discard, stream, maxDrain); n == maxDrain {
		ctx.SetConnectionClose()
	}
}

// setUpstreamTiming tells the sender how long the upstream took to accept
// the write (Server-Timing: upstream;dur=<ms>), so that what slogate adds
// to a write's latency can be told apart from what VictoriaMetrics takes
// (the bench measures it per request).
func setUpstreamTiming(ctx *fasthttp.RequestCtx, d time.Duration) {
	var b [40]byte
	v := append(b[:0], "upstream;dur="...)
	v = strconv.AppendFloat(v, float64(d.Microseconds())/1000, 'f', 3, 64)
	ctx.Response.Header.SetBytesV("Server-Timing", v)
}
