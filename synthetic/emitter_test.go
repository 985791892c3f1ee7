package synthetic

import (
	"net/http"
	"net/http/httptest"
	"runtime"
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

// TestEmitterStepReusesBuffers: in steady state a step allocates a small
// fraction of what it writes: the compressor's scratch space and the
// blocks' bodies are reused, not allocated per block.
func TestEmitterStepReusesBuffers(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	client, err := vmclient.New(vmclient.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
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
