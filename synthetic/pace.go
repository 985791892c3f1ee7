package synthetic

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Pacer makes the long stretches of CPU work of an evaluation step (the
// engine's evaluation of every route, the rendering of their series, the
// compression of the blocks) give way to the write handlers.
//
// Why it is needed: slogate on one CPU runs with GOMAXPROCS=1, and Go's
// scheduler looks for goroutines whose network events are ready (a write
// that arrived, the upstream's answer to a forwarded one) only when its
// run queues are empty, or every 10 ms from the system monitor. A step of
// 2,000 routes is 20-40 ms of CPU; run in one go, every write that
// arrives meanwhile waits for its end, once per network wait, which was
// the p99 of the bench's latency rows. runtime.Gosched does not help: the
// yielding goroutine is queued, and the scheduler picks it again before it
// polls the network. A sleep parks it, so the scheduler polls the network
// and runs what is ready.
//
// Pause does so once at least a slice of work went by since the last
// pause of any goroutine sharing the Pacer: it sleeps for a slice, so that
// while writes keep the P busy the step gets about half of it, then
// queues behind the goroutines already runnable (a timer readies the
// sleeper ahead of them). A pause costs about 1 µs of CPU; on an idle
// process it costs about 1 ms of wall time (the runtime's shortest
// network poll wait), so a step takes up to about 3 times its CPU time in
// wall time (about 0.1 s at 2,000 routes). It is safe for concurrent use.
type Pacer struct {
	slice int64 // ns
	base  time.Time
	last  atomic.Int64 // ns since base of the last pause
}

// DefaultSlice is the work between two pauses: a write waits at most about
// this long for the CPU, per network wait, while a step runs.
const DefaultSlice = 500 * time.Microsecond

// NewPacer returns a Pacer that pauses after slice of work (DefaultSlice
// if slice <= 0).
func NewPacer(slice time.Duration) *Pacer {
	if slice <= 0 {
		slice = DefaultSlice
	}
	return &Pacer{slice: int64(slice), base: time.Now()}
}

// Pause gives way to other goroutines if Slice went by since the last
// pause. A nil Pacer never pauses.
func (p *Pacer) Pause() {
	if p == nil {
		return
	}
	if now := int64(time.Since(p.base)); now-p.last.Load() < p.slice {
		return
	}
	time.Sleep(time.Duration(p.slice))
	runtime.Gosched()
	p.last.Store(int64(time.Since(p.base)))
}
