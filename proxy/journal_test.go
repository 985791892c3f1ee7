package proxy

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
)

// memJournal is a route journal in memory whose Sync can be made to fail:
// a full or failing disk, which a real file cannot become on demand.
type memJournal struct {
	mu               sync.Mutex
	pending, durable []budget.NewRoute
	dirty            atomic.Bool
	syncs            int
	fail             error
}

func (j *memJournal) add(r budget.NewRoute) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = append(j.pending, r)
	j.dirty.Store(true)
}

func (j *memJournal) Pending() bool { return j.dirty.Load() }

func (j *memJournal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	j.syncs++
	j.durable = append(j.durable, j.pending...)
	j.pending = nil
	j.dirty.Store(false)
	return nil
}

func (j *memJournal) counts() (durable, pending, syncs int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.durable), len(j.pending), j.syncs
}

// TestWriteSyncsJournal: a write that creates routes is acknowledged only
// once they are durable in the journal, with one sync; a write that
// creates none syncs nothing; when the journal cannot be written the
// sender gets a 503 with Retry-After, and its retry makes the routes
// durable although it creates none itself.
func TestWriteSyncsJournal(t *testing.T) {
	j := &memJournal{fail: errors.New("cannot append to route journal: no space left on device")}
	srv, _ := newJournaledWriteServer(t, j)
	bodies := writeBodies(3, time.Now().Add(-time.Hour).UnixMilli())
	routes := benchSeries / benchSLIStep
	var ctx fasthttp.RequestCtx

	serve := func(body []byte) int {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI("/api/v1/write")
		ctx.Request.Header.SetContentEncoding("snappy")
		ctx.Request.SetBodyRaw(body)
		srv.Handle(&ctx)
		return ctx.Response.StatusCode()
	}
	if code := serve(bodies[0]); code != fasthttp.StatusServiceUnavailable {
		t.Fatalf("journal failing: write answered %d, want 503", code)
	}
	if ra := ctx.Response.Header.Peek("Retry-After"); len(ra) == 0 {
		t.Fatal("journal failing: 503 without Retry-After")
	}
	if d, p, _ := j.counts(); d != 0 || p != routes {
		t.Fatalf("journal failing: %d durable, %d pending routes, want 0 and %d", d, p, routes)
	}

	j.mu.Lock()
	j.fail = nil
	j.mu.Unlock()
	if code := serve(bodies[0]); code != fasthttp.StatusNoContent {
		t.Fatalf("retry: write answered %d, want 204: %s", code, ctx.Response.Body())
	}
	if d, p, s := j.counts(); d != routes || p != 0 || s != 1 {
		t.Fatalf("retry: %d durable, %d pending routes, %d syncs; want %d, 0, 1", d, p, s, routes)
	}
	for _, b := range bodies[1:] {
		if code := serve(b); code != fasthttp.StatusNoContent {
			t.Fatalf("write answered %d, want 204", code)
		}
	}
	if _, _, s := j.counts(); s != 1 {
		t.Fatalf("writes that created no route synced the journal: %d syncs, want 1", s)
	}
}
