package synthetic

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/vmclient"
)

// blockProducer writes n blocks of size bytes per step, the watermark one
// interval later each time.
type blockProducer struct {
	wm    atomic.Int64
	n     int
	block []byte
}

func (p *blockProducer) Tenants() []budget.Tenant        { return []budget.Tenant{{}} }
func (p *blockProducer) Watermark(t budget.Tenant) int64 { return p.wm.Load() }
func (p *blockProducer) Write(buf []byte, t budget.Tenant, at int64, maxSeries int, flush func([]byte)) []byte {
	for range p.n {
		flush(p.block)
	}
	return buf
}

// testUpstream serves handler as the emitter's upstream until the test
// ends and returns a client of it.
func testUpstream(t *testing.T, handler http.HandlerFunc) *vmclient.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	client, err := vmclient.New(vmclient.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestEmitterStepReusesBuffers: in steady state a step allocates a small
// fraction of what it writes: the compressor's scratch space and the
// blocks' bodies are reused, not allocated per block.
func TestEmitterStepReusesBuffers(t *testing.T) {
	var got atomic.Int64
	client := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 7 / 13) // compressible, as series are
	}
	p := &blockProducer{n: 8, block: block}
	e := NewEmitter(EmitterConfig{Client: client, Producer: p, Interval: time.Second})
	step := func() {
		p.wm.Add(1000)
		if n := e.Step(); n != 0 {
			t.Fatalf("%d blocks pending", n)
		}
	}
	p.wm.Store(1_000_000)
	for range 3 {
		step()
	}
	const steps = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range steps {
		step()
	}
	runtime.ReadMemStats(&after)
	perStep := float64(after.TotalAlloc-before.TotalAlloc) / steps
	written := float64(p.n * len(block))
	t.Logf("%.0f bytes allocated per step writing %.0f bytes of series (%d requests)", perStep, written, got.Load())
	if perStep > written/20 {
		t.Errorf("a step allocates %.0f bytes for %.0f bytes of series, want at most a twentieth", perStep, written)
	}
}

// TestEmitterKeepsFewBodies: blocks of varying size leave a few bodies
// for reuse between steps, not one per block, also after an outage of
// the upstream left a step's blocks pending.
func TestEmitterKeepsFewBodies(t *testing.T) {
	var down atomic.Bool
	client := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	rng := rand.New(rand.NewPCG(1, 2))
	p := &sizesProducer{rng: rng}
	e := NewEmitter(EmitterConfig{Client: client, Producer: p, Interval: time.Second})
	p.wm.Store(1_000_000)
	for i := range 30 {
		down.Store(i == 10 || i == 11)
		p.wm.Add(1000)
		if n := e.Step(); n != 0 && !down.Load() {
			t.Fatalf("%d blocks pending", n)
		}
	}
	kept := 0
	for _, b := range e.free {
		kept += cap(b)
	}
	// 30 steps of 8 blocks of up to 1 MiB of random bytes (which snappy
	// does not shrink), 16 of them written at once after the outage.
	if len(e.free) > 4 || kept > 4*(1<<20)*3/2 {
		t.Errorf("%d bodies of %d bytes kept for reuse, want at most 4 of a block's size and a half", len(e.free), kept)
	}
}

// sizesProducer writes 8 blocks of random sizes per step.
type sizesProducer struct {
	blockProducer
	rng *rand.Rand
}

func (p *sizesProducer) Write(buf []byte, t budget.Tenant, at int64, maxSeries int, flush func([]byte)) []byte {
	for range 8 {
		n := 1<<16 + p.rng.IntN(1<<20-1<<16)
		buf = buf[:0]
		for i := range n {
			buf = append(buf, byte(p.rng.Uint32()>>(i&7)))
		}
		flush(buf)
	}
	return buf
}

// orderProducer writes n blocks per step and records, before each one,
// how many blocks the upstream had received.
type orderProducer struct {
	blockProducer
	got    *atomic.Int64
	before []int64
}

func (p *orderProducer) Write(buf []byte, t budget.Tenant, at int64, maxSeries int, flush func([]byte)) []byte {
	for range p.n {
		p.before = append(p.before, p.got.Load())
		flush(p.block)
	}
	return buf
}

// TestEmitterSendsBlocksAsTheyCome: a step writes each block before the
// next one is rendered; while the upstream fails, the blocks wait, and
// the next step writes them first, in order.
func TestEmitterSendsBlocksAsTheyCome(t *testing.T) {
	var got atomic.Int64
	var failing atomic.Bool
	client := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	p := &orderProducer{blockProducer: blockProducer{n: 3, block: []byte("block")}, got: &got}
	e := NewEmitter(EmitterConfig{Client: client, Producer: p, Interval: time.Second})
	p.wm.Store(1_000_000)
	if n := e.Step(); n != 0 {
		t.Fatalf("%d blocks pending", n)
	}
	if want := []int64{0, 1, 2}; !slices.Equal(p.before, want) {
		t.Fatalf("blocks the upstream had before each block: %v, want %v (each written before the next)", p.before, want)
	}
	failing.Store(true)
	p.wm.Add(1000)
	if n := e.Step(); n != 3 {
		t.Fatalf("%d blocks pending while the upstream fails, want 3", n)
	}
	failing.Store(false)
	p.before = p.before[:0]
	p.wm.Add(1000)
	if n := e.Step(); n != 0 {
		t.Fatalf("%d blocks pending once the upstream is back", n)
	}
	// The three kept blocks go first, then each new one.
	if want := []int64{3 + 3, 3 + 3 + 1, 3 + 3 + 2}; !slices.Equal(p.before, want) {
		t.Fatalf("blocks the upstream had before each block: %v, want %v", p.before, want)
	}
}

// TestEmitterSpreadsBlocks: the blocks of a step reach the upstream spread
// over about Spread (after the first step, which tells how many blocks a
// step has), not at once; and a stopping emitter does not wait.
func TestEmitterSpreadsBlocks(t *testing.T) {
	var mu sync.Mutex
	var arrived []time.Time
	client := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived = append(arrived, time.Now())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	const blocks, spread = 5, 400 * time.Millisecond
	p := &blockProducer{n: blocks, block: make([]byte, 1000)}
	e := NewEmitter(EmitterConfig{Client: client, Producer: p, Interval: time.Second, Spread: spread})
	span := func() time.Duration {
		mu.Lock()
		arrived = arrived[:0]
		mu.Unlock()
		p.wm.Add(1000)
		if n := e.Step(); n != 0 {
			t.Fatalf("%d blocks pending", n)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(arrived) != blocks {
			t.Fatalf("%d blocks arrived, want %d", len(arrived), blocks)
		}
		return arrived[blocks-1].Sub(arrived[0])
	}
	p.wm.Store(1_000_000)
	first := span()
	if second, want := span(), spread*(blocks-1)/blocks; second < want {
		t.Errorf("the blocks of a step arrived within %v, want them spread over %v or more (first step: %v)", second, want, first)
	}
	close(e.done) // as Run does when told to stop
	if last := span(); last > spread/2 {
		t.Errorf("a stopping emitter took %v to write a step's blocks", last)
	}
}

// TestEmitterRunStopsWaiting: a stop during a step's waits between blocks
// ends them; Run returns without waiting the rest of the spread.
func TestEmitterRunStopsWaiting(t *testing.T) {
	var got atomic.Int64
	client := testUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	const blocks, spread = 5, 10 * time.Second // 2s between blocks once the first step told the count
	p := &blockProducer{n: blocks, block: make([]byte, 1000)}
	p.wm.Store(1_000_000)
	e := NewEmitter(EmitterConfig{Client: client, Producer: p, Interval: 20 * time.Millisecond, Spread: spread})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() <= blocks { // the second step is under way, waiting
		if time.Now().After(deadline) {
			t.Fatalf("%d blocks written", got.Load())
		}
		p.wm.Add(20)
		time.Sleep(time.Millisecond)
	}
	stopped := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(spread / 2):
		t.Fatalf("Run still waiting %v after the stop", spread/2)
	}
	if d := time.Since(stopped); d > time.Second {
		t.Errorf("Run took %v to return after the stop", d)
	}
}
