package budget

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStateCorrupt: truncated, altered and hostile snapshots are errors or
// load without a panic; a failed LoadState changes nothing.
func TestStateCorrupt(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	for i := int64(0); i < 30; i++ {
		h.put(req("a", "200", "i1"), t0+i*minute, float64(i*10))
		h.put(req("b", "500", "i2"), t0+i*minute, float64(i))
	}
	good, err := h.e.AppendState(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawState(t, good)
	if err := h.e.LoadState(raw); err != nil {
		t.Fatalf("the uncompressed form: %v", err)
	}
	before := h.e.Evaluate(Tenant{}, t0+time.Hour.Milliseconds())
	f := func(name string, data []byte) {
		t.Helper()
		if err := h.e.LoadState(data); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "cannot load state") {
			t.Errorf("%s: error %q", name, err)
		}
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	for n := 0; n < len(good); n += step {
		f(fmt.Sprintf("truncated to %d bytes", n), good[:n])
	}
	for n := range len(raw) {
		f(fmt.Sprintf("uncompressed, truncated to %d bytes", n), raw[:n])
	}
	f("other magic", append([]byte("XXXX"), good[4:]...))
	f("version 3", append([]byte("SLST\x03"), good[5:]...))
	f("codec 9", append([]byte("SLST\x02\x09"), good[6:]...))
	f("trailing byte", append(slices.Clone(good), 0))
	f("2^60 sources", []byte("SLST\x02\x00\x80\x80\x80\x80\x80\x80\x80\x80\x10"))
	f("2^60 tenants", []byte("SLST\x02\x00\x00\x80\x80\x80\x80\x80\x80\x80\x80\x10"))
	f("overlong varint", []byte("SLST\x02\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	if after := h.e.Evaluate(Tenant{}, t0+time.Hour.Milliseconds()); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a failed LoadState changed the engine")
	}
	// Bit flips: an error, or a state the engine works with.
	rng := rand.New(rand.NewPCG(1, 2))
	flips := 2000
	if testing.Short() {
		flips = 300
	}
	for range flips {
		data := slices.Clone(raw)
		for range 1 + rng.IntN(3) {
			data[6+rng.IntN(len(data)-6)] ^= byte(1 << rng.IntN(8))
		}
		loadAndUse(t, data)
	}
}

// rawState returns a snapshot with its body uncompressed (codec 0).
func rawState(t testing.TB, data []byte) []byte {
	body, err := stateBody(data)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("SLST\x02\x00"), body...)
}

// loadAndUse loads data into a fresh engine; when that works, the engine
// must evaluate, ingest, and make a snapshot that loads again.
func loadAndUse(t *testing.T, data []byte) {
	e := NewEngine(EngineConfig{Sources: []Source{webSource(), latencySource()}, Now: func() time.Time { return time.UnixMilli(t0) }})
	if e.LoadState(data) != nil {
		return
	}
	snap, err := e.AppendState(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range e.Tenants() {
		e.Evaluate(tn, t0)
		e.Ingest(tn, req("a", "500", "i1"), []Sample{{Value: 1, Timestamp: t0}})
		e.Evaluate(tn, t0+minute)
	}
	n := NewEngine(EngineConfig{Sources: []Source{webSource(), latencySource()}})
	if err := n.LoadState(snap); err != nil {
		t.Fatalf("a loaded snapshot does not load again: %v", err)
	}
}

func FuzzLoadState(f *testing.F) {
	now := t0
	e := NewEngine(EngineConfig{Sources: []Source{webSource(), latencySource()}, Now: func() time.Time { return time.UnixMilli(now) }})
	for i := int64(0); i < 12; i++ {
		now = t0 + i*minute
		e.Ingest(Tenant{}, req("a", "200", "i1"), []Sample{{Value: float64(i * 10), Timestamp: now}})
		e.Ingest(Tenant{AccountID: 1}, req("b", "500", "i2"), []Sample{{Value: float64(i), Timestamp: now}})
	}
	seed, _ := e.AppendState(nil)
	f.Add(seed)
	f.Add(rawState(f, seed))
	f.Add([]byte("SLST\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		loadAndUse(t, data)
	})
}

// TestStateCompressesFar: a snapshot of routes whose counts are the same
// every minute compresses far more than usual, and loads all the same.
func TestStateCompressesFar(t *testing.T) {
	h := newHarness(t, EngineConfig{})
	const routes = 4000 // the body is larger than 4 zstd windows
	samples := make([]Sample, 1440)
	for i := range samples {
		samples[i] = Sample{Value: float64(100 * i), Timestamp: t0 + int64(i)*minute}
	}
	h.now = t0 + 1440*minute
	for r := range routes {
		h.e.Ingest(Tenant{}, req(fmt.Sprintf("r%d", r), "200", "i1"), samples)
	}
	snap, err := h.e.AppendState(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawState(t, snap)
	t.Logf("%d bytes compressed, %d raw (%.0f times)", len(snap), len(raw), float64(len(raw))/float64(len(snap)))
	if len(raw) < 64*len(snap)+4*stateWindow {
		t.Fatalf("the snapshot compresses only %d times (%d bytes); the test wants more than 64 times and 4 windows", len(raw)/len(snap), len(raw))
	}
	g := newHarness(t, EngineConfig{})
	g.now = h.now
	if err := g.e.LoadState(snap); err != nil {
		t.Fatal(err)
	}
	if n := len(g.e.Evaluate(Tenant{}, h.now)); n != routes {
		t.Fatalf("%d routes loaded, want %d", n, routes)
	}
}
