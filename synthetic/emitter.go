package synthetic

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/remotewrite"
	"github.com/slogate/slogate/vmclient"
)

// Producer evaluates the synthetic series of a tenant at an event time and
// hands them to flush as uncompressed protobuf WriteRequests of at most
// maxSeries series each (see Renderer.Write).
type Producer interface {
	Tenants() []budget.Tenant
	Watermark(t budget.Tenant) int64
	Write(buf []byte, t budget.Tenant, at int64, maxSeries int, flush func([]byte)) []byte
}

// maxSeriesPerBlock bounds a synthetic WriteRequest: about 300 KB
// uncompressed, well under any upstream's request limit, and a short
// upstream request. The emitter keeps the buffers of one block between
// steps (the request, its compressed body, a few bodies for reuse): with
// 10,000 series they were about 6 MB of live heap, which the default
// GOGC doubles in RSS.
const maxSeriesPerBlock = 2_000

// EmitterConfig configures an Emitter. Zero fields take the defaults named.
type EmitterConfig struct {
	// Client writes the blocks, each to its tenant's path
	// (vmclient.Client.WritePath). Required.
	Client   *vmclient.Client
	Producer Producer
	// Interval is the step of the synthetic series in event time, and how
	// often the emitter looks for a new step. Default 15s.
	Interval time.Duration
	// MaxPending bounds the blocks kept while the upstream is unavailable;
	// the oldest are dropped first (newer points supersede them). Default
	// 4096 blocks.
	MaxPending int
	Log        *slog.Logger
	// Pacer, if set, makes the compression of each block pause between
	// pieces of 64 KiB once it has worked a slice (see Pacer): a block of
	// 2,000 series is about a millisecond of compression.
	Pacer *Pacer
	// Spread is about how long the blocks of a step take to write: after
	// each block the emitter waits Spread divided by the number of blocks
	// of its previous step, so that the upstream ingests the synthetic
	// series as a trickle next to the live writes rather than as a burst
	// (the series of 2,000 routes written at once were a tenth of a
	// second of VictoriaMetrics' CPU, and the live writes queued behind
	// them). Default Interval/5; negative: no waiting.
	Spread time.Duration
}

// Emitter writes the synthetic series to the upstream. Points are stamped
// with the event time of the data (the tenant watermark aligned down to the
// interval), not the wall clock, so two replicas fed the same data write
// the same points. A point is never acknowledged to anyone: it is kept,
// bounded, and retried until the upstream accepts it.
type Emitter struct {
	cfg  EmitterConfig
	mu   sync.Mutex
	last map[budget.Tenant]int64 // last step emitted
	// pending blocks, oldest first.
	pending  []pendingBlock
	npending atomic.Int64 // len(pending), for /metrics without the lock
	buf      []byte
	// zbuf is the scratch space of the compressor (snappy wants room for
	// the worst case, 1.17 times the block); free holds the bodies of
	// written blocks for reuse, so that a step in steady state allocates
	// nothing.
	zbuf []byte
	free [][]byte
	// blocks is the number of blocks the last step with any wrote; done
	// is closed when Run is told to stop (no more waiting between blocks).
	blocks int
	done   chan struct{}

	set      *metrics.Set
	written  *metrics.Counter
	dropped  *metrics.Counter
	failures *metrics.Counter
}

type pendingBlock struct {
	tenant budget.Tenant
	at     int64
	body   []byte // snappy-compressed WriteRequest
}

// NewEmitter returns an Emitter; Run starts it.
func NewEmitter(cfg EmitterConfig) *Emitter {
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4096
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Spread == 0 {
		cfg.Spread = cfg.Interval / 5
	}
	s := metrics.NewSet()
	e := &Emitter{
		cfg:      cfg,
		done:     make(chan struct{}),
		last:     map[budget.Tenant]int64{},
		set:      s,
		written:  s.NewCounter(`slogate_synthetic_blocks_written_total`),
		dropped:  s.NewCounter(`slogate_synthetic_blocks_dropped_total`),
		failures: s.NewCounter(`slogate_synthetic_write_errors_total`),
	}
	s.NewGauge(`slogate_synthetic_blocks_pending`, func() float64 { return float64(e.npending.Load()) })
	return e
}

// WritePrometheus writes the emitter's self-metrics.
func (e *Emitter) WritePrometheus(w io.Writer) { e.set.WritePrometheus(w) }

// Run evaluates and writes every Interval until ctx ends, then makes one
// last evaluation and attempt to flush what is pending.
func (e *Emitter) Run(ctx context.Context) {
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	// A stop cuts short the waits between blocks of a step under way, and
	// the last step writes without them.
	stop := context.AfterFunc(ctx, func() { close(e.done) })
	defer stop()
	for {
		e.Step()
		select {
		case <-ctx.Done():
			e.Step()
			return
		case <-t.C:
		}
	}
}

// Step tries to write the blocks pending from earlier steps, then
// evaluates every tenant whose watermark crossed a new interval boundary
// and writes its blocks as they come, until a write fails. It returns the
// number of blocks still pending.
func (e *Emitter) Step() int {
	step := e.cfg.Interval.Milliseconds()
	// What earlier steps could not write goes first; while the upstream
	// fails, a step tries once.
	sending := e.flush() == 0
	var gap time.Duration
	if e.blocks > 1 && e.cfg.Spread > 0 {
		gap = e.cfg.Spread / time.Duration(e.blocks)
	}
	blocks := 0
	for _, t := range e.cfg.Producer.Tenants() {
		wm := e.cfg.Producer.Watermark(t)
		if wm <= 0 {
			continue
		}
		at := wm - wm%step
		e.mu.Lock()
		if at <= e.last[t] {
			e.mu.Unlock()
			continue
		}
		e.last[t] = at
		e.buf = e.cfg.Producer.Write(e.buf, t, at, maxSeriesPerBlock, func(block []byte) {
			e.zbuf = remotewrite.AppendSnappyPaced(e.zbuf[:0], block, e.cfg.Pacer.Pause)
			body := append(e.takeBody(len(e.zbuf)), e.zbuf...)
			e.pending = append(e.pending, pendingBlock{tenant: t, at: at, body: body})
			// Each block goes out once it is ready, before the next one is
			// rendered: the upstream ingests a step's series spread over
			// the (paced) step rather than in one burst at its end, and
			// one body is in memory rather than all of them. After a
			// failure the rest waits for the next step.
			if sending {
				if blocks > 0 && gap > 0 {
					e.wait(gap)
				}
				blocks++
				sending = e.flushLocked() == 0
			}
		})
		if over := len(e.pending) - e.cfg.MaxPending; over > 0 {
			e.dropped.Add(over)
			e.pending = append(e.pending[:0], e.pending[over:]...)
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if blocks > 0 {
		e.blocks = blocks
	}
	e.npending.Store(int64(len(e.pending)))
	return len(e.pending)
}

// wait waits d, or less once Run is told to stop.
func (e *Emitter) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.done:
	}
}

// flush writes pending blocks in order until one fails.
func (e *Emitter) flush() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flushLocked()
}

// flushLocked is flush with e.mu held.
func (e *Emitter) flushLocked() int {
	defer func() { e.npending.Store(int64(len(e.pending))) }()
	for len(e.pending) > 0 {
		b := e.pending[0]
		err := e.cfg.Client.Write(e.cfg.Client.WritePath(b.tenant), b.body)
		switch {
		case err == nil:
			e.written.Inc()
		case !vmclient.IsRetryable(err):
			// The upstream refuses this block for good; retrying would
			// block every later point behind it.
			e.dropped.Inc()
			e.cfg.Log.Error("upstream refused synthetic series; dropped", "err", err)
		default:
			e.failures.Inc()
			e.cfg.Log.Warn("cannot write synthetic series; will retry", "err", err, "pending", len(e.pending))
			return len(e.pending)
		}
		e.putBody(b.body)
		e.pending[0] = pendingBlock{}
		e.pending = e.pending[1:]
	}
	return 0
}

// maxFreeBodies bounds the bodies kept for reuse: blocks go out one at a
// time while the upstream takes them (a step of 20,000 routes writes about
// 30 of about 1 MB), so a few bodies serve every step; the bodies of a
// backlog after an outage are not kept.
const maxFreeBodies = 4

// takeBody returns an empty buffer for a body of n bytes: a free one that
// is large enough, else a new one with room for somewhat larger blocks.
// e.mu is held.
func (e *Emitter) takeBody(n int) []byte {
	for i := len(e.free) - 1; i >= 0; i-- {
		if b := e.free[i]; cap(b) >= n {
			last := len(e.free) - 1
			e.free[i], e.free[last] = e.free[last], nil
			e.free = e.free[:last]
			return b[:0]
		}
	}
	return make([]byte, 0, n+n/4)
}

// putBody keeps a written block's body for reuse. e.mu is held.
func (e *Emitter) putBody(b []byte) {
	if len(e.free) < maxFreeBodies {
		e.free = append(e.free, b[:0])
		return
	}
	// Full: keep the larger bodies, which serve any block.
	small := 0
	for i := range e.free {
		if cap(e.free[i]) < cap(e.free[small]) {
			small = i
		}
	}
	if cap(b) > cap(e.free[small]) {
		e.free[small] = b[:0]
	}
}
