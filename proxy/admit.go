package proxy

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/vmclient"
)

// Admission. A write first reserves its body's size (its Content-Length)
// from a byte budget shared by every write (Config.MaxBodyBytesInFlight),
// then reads the body under a deadline (Config.BodyReadTimeout), and only
// then waits for one of the write slots that decompress, scan and forward
// (Config.MaxConcurrentWrites). A slow sender so holds only its own bytes
// of the budget and never a write slot, and at most BodyReadTimeout long:
// a few slow bodies cannot starve the other writes, and the memory of
// bodies held at once stays within the budget. A body that does not arrive
// in time gets a 503 with Retry-After (senders keep and retry the data;
// a 413 would make them drop it). Passed-through requests take one of
// their own slots (Config.MaxConcurrentProxied) before their body is read.

// byteBudget is a counting semaphore of bytes. Its fast path does not
// allocate.
type byteBudget struct {
	mu   sync.Mutex
	free int64
	used int64
	// wake is closed (and replaced) when bytes are released while someone
	// waits (waiting), so that the common release allocates nothing.
	wake    chan struct{}
	waiting bool
}

func newByteBudget(n int64) *byteBudget { return &byteBudget{free: n, wake: make(chan struct{})} }

// acquire takes n bytes, waiting up to timeout for them; false when they
// did not become free in time. A request larger than the whole budget
// waits for the whole budget to be free, and takes it.
func (b *byteBudget) acquire(n int64, timeout time.Duration) bool {
	var deadline *time.Timer
	for {
		b.mu.Lock()
		if b.free >= n || (b.used == 0 && b.free > 0) {
			b.free -= n
			b.used += n
			b.mu.Unlock()
			if deadline != nil {
				deadline.Stop()
			}
			return true
		}
		wake := b.wake
		b.waiting = true
		b.mu.Unlock()
		if deadline == nil {
			deadline = time.NewTimer(timeout)
		}
		select {
		case <-wake:
		case <-deadline.C:
			return false
		}
	}
}

// release gives back n bytes taken by acquire.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.used -= n
	if b.waiting {
		close(b.wake)
		b.wake = make(chan struct{})
		b.waiting = false
	}
	b.mu.Unlock()
}

// inUse is the number of bytes taken.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// bodyReservation is what a request's body may take: its Content-Length,
// or the size limit when it has none (chunked).
func (s *Server) bodyReservation(ctx *fasthttp.RequestCtx) int64 {
	if cl := ctx.Request.Header.ContentLength(); cl >= 0 && cl <= s.cfg.MaxRequestBodySize {
		return int64(cl)
	}
	return int64(s.cfg.MaxRequestBodySize)
}

// errBodyTooLarge is a body over MaxRequestBodySize (413).
var errBodyTooLarge = errors.New("request body is too large")

// setBodyDeadline bounds the time the rest of a streamed body may take.
func (s *Server) setBodyDeadline(ctx *fasthttp.RequestCtx) {
	if !ctx.Request.IsBodyStream() {
		return // fasthttp has read it already
	}
	if c := ctx.Conn(); c != nil {
		_ = c.SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout))
	}
}

// readFailed answers a body that could not be read: 413 when it is over
// the limit; else the sender was too slow (the read deadline passed) or
// went away, and gets a 503 with Retry-After, which every sender retries.
// The connection is closed: the rest of the body may still be on the way.
func (s *Server) readFailed(ctx *fasthttp.RequestCtx, route int, err error, count func(reason string)) {
	if errors.Is(err, errBodyTooLarge) {
		count("too_large")
		s.answer(ctx, route, fasthttp.StatusRequestEntityTooLarge, err.Error())
		return
	}
	reason, msg := "read_error", err.Error()
	if isTimeout(err) {
		reason = "read_timeout"
		msg = "request body did not arrive within -write.bodyReadTimeout=" + s.cfg.BodyReadTimeout.String() + "; retry later"
	}
	count(reason)
	s.overloaded(ctx, route, msg)
	ctx.SetConnectionClose()
}

// isTimeout reports whether err is a read deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// overloaded answers a request that slogate or the upstream cannot take
// now (no room in time, a slow body, an upstream down or cut off, a journal
// that cannot be written): 503 with Retry-After, which every sender keeps
// and retries.
func (s *Server) overloaded(ctx *fasthttp.RequestCtx, route int, msg string) {
	s.answer(ctx, route, fasthttp.StatusServiceUnavailable, msg)
	ctx.Response.Header.Set("Retry-After", vmclient.RetryAfter(nil, s.cfg.RetryAfter))
}

// slot takes one of the slots of ch (writes or passed-through requests),
// waiting up to QueueTimeout.
func (s *Server) slot(ch chan struct{}) bool {
	select {
	case ch <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.cfg.QueueTimeout)
	defer t.Stop()
	select {
	case ch <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}
