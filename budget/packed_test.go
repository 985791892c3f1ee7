package budget

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/slogate/slogate/slo"
)

// TestPackedRandom checks packed arrays against plain ones: counts of every
// width, widened as they grow, and reset.
func TestPackedRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 60, 722} {
		p := newPacked(n)
		want := make([]uint64, n)
		for op := range 20 * n {
			i := rng.IntN(n)
			var v uint64
			switch op % 4 {
			case 0:
				v = rng.Uint64N(4)
			case 1:
				v = rng.Uint64N(1 << 20)
			case 2:
				v = rng.Uint64() >> rng.UintN(64)
			}
			p.set(i, v)
			want[i] = v
			if op%97 == 0 {
				for j := range n {
					if got := p.get(j); got != want[j] {
						t.Fatalf("n=%d op %d: count %d = %d, want %d (width %d)", n, op, j, got, want[j], p.w)
					}
				}
			}
		}
		p.add(0, 5)
		five := uint64(5)
		p.add(0, -five)
		if got := p.get(0); got != want[0] {
			t.Errorf("n=%d: add and subtract: %d, want %d", n, got, want[0])
		}
		p.reset()
		for j := range n {
			if p.get(j) != 0 {
				t.Fatalf("n=%d: count %d not 0 after reset", n, j)
			}
		}
	}
}

// TestMinuteRingRandom checks the hour blocks of a minute ring against a
// map: good above total, 32-bit counts, widening and release of blocks
// in the middle of the array.
func TestMinuteRingRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var r minuteRing
	const slots = 74
	r.init(slots)
	want := map[int64][2]uint64{}
	base := int64(60 * 16_667) // an hour: the test covers slots hours
	check := func(op int) {
		for m := base; m < base+slots*60; m++ {
			g, n := r.get(m)
			if w := want[m]; g != w[0] || n != w[1] {
				t.Fatalf("op %d: minute %d = %d/%d, want %d/%d", op, m, g, n, w[0], w[1])
			}
		}
	}
	for op := range 20_000 {
		m := base + rng.Int64N(slots*60)
		var g, n uint64
		switch rng.IntN(6) {
		case 0: // zero
		case 1:
			n = rng.Uint64N(1000)
			g = n - min(n, rng.Uint64N(3))
		case 2:
			n = rng.Uint64N(math.MaxUint32 + 1)
			g = rng.Uint64N(math.MaxUint32 + 1)
		case 3:
			g, n = rng.Uint64N(50), rng.Uint64N(3)
		case 5: // busy: a base is worth it
			n = 1000 + rng.Uint64N(200)
			g = n - rng.Uint64N(2)
		case 4: // release an hour, or seal it
			h := floorDiv64(m, 60) * 60
			if op%2 == 0 {
				r.seal(h)
				break
			}
			for k := range int64(60) {
				delete(want, h+k)
			}
			r.release(h)
			if op%50 == 0 {
				check(op)
			}
			continue
		}
		r.set(m, g, n)
		want[m] = [2]uint64{g, n}
		if g|n == 0 {
			delete(want, m)
		}
		if op%500 == 0 {
			check(op)
		}
	}
	check(-1)
}

// TestMinuteRingLive ingests a busy route for 86 hours, as remote write
// does, and checks that the blocks of complete hours are packed tight
// (totals above the hour's smallest) and released as they leave the ring,
// that the ring's minutes are exact, and that growing the blocks of new
// hours seldom allocates.
func TestMinuteRingLive(t *testing.T) {
	ts := t0
	e := NewEngine(EngineConfig{Sources: []Source{webSource()}, Now: func() time.Time { return time.UnixMilli(ts) }})
	good, bad := req("a", "200", "i1"), req("a", "500", "i1")
	rng := rand.New(rand.NewPCG(7, 8))
	var vg, vb float64
	perMinute := make(map[int64][2]uint64, 81*60) // sized: no allocations of its own
	samples := make([]Sample, 1)
	step := func(ts int64) {
		dg, db := float64(200+rng.IntN(50)), float64(rng.IntN(2))
		vg, vb = vg+dg, vb+db
		m := floorDiv64(ts, minuteMs)
		c := perMinute[m]
		perMinute[m] = [2]uint64{c[0] + uint64(dg), c[1] + uint64(dg+db)}
		samples[0] = Sample{Value: vg, Timestamp: ts}
		e.Ingest(Tenant{}, good, samples)
		samples[0] = Sample{Value: vb, Timestamp: ts}
		e.Ingest(Tenant{}, bad, samples)
	}
	// The first sample of a series only sets its baseline.
	samples[0] = Sample{Value: 0, Timestamp: t0}
	e.Ingest(Tenant{}, good, samples)
	e.Ingest(Tenant{}, bad, samples)
	for ; ts < t0+76*3600_000; ts += 15_000 { // past the ring: units get hours
		step(ts)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 * 240 { // 10 hours
		ts += 15_000
		step(ts)
	}
	runtime.ReadMemStats(&after)
	// testing.AllocsPerRun would round a few allocations down to 0.
	if allocs := after.Mallocs - before.Mallocs; allocs > 10 {
		t.Errorf("%d allocations in 10 hours", allocs)
	}
	tn := e.lookupTenant(Tenant{})
	var b *buckets
	for _, r := range tn.routes[0] {
		b = &r.b
	}
	tn.lock() // as a reader: deferred contributions applied
	defer tn.mu.Unlock()
	for m := b.ringStart(); m <= b.head-1; m++ { // the head's minute may be partial
		g, n := b.ring.get(m)
		if w := perMinute[m]; g != w[0] || n != w[1] {
			t.Fatalf("minute %d: %d/%d, want %d/%d", m, g, n, w[0], w[1])
		}
	}
	words, based := 0, 0
	for _, md := range b.ring.meta() {
		if md>>metaWt != 0 {
			words += blockWords(md)
		}
		if md&metaBase != 0 {
			based++
		}
	}
	if words != len(b.ring.data.W) {
		t.Errorf("blocks take %d words, the array holds %d", words, len(b.ring.data.W))
	}
	// Totals of 800 to 1004 per minute (4 samples) take 10 bits, 8 above
	// the hour's smallest; bad counts of 0 to 4: 3 bits.
	if based < 70 || len(b.ring.data.W) > 74*(1+(60*(8+3)+63)/64) {
		t.Errorf("%d of %d blocks with a base, %d words", based, b.ring.slots, len(b.ring.data.W))
	}
	// Nothing is excluded: the hour sums of excluded minutes take no words.
	if n := b.hexcl.words.Cap(); n != 0 {
		t.Errorf("hour sums of excluded minutes take %d words without exclusions", n)
	}
	t.Logf("ring: %d words (%d capacity), %d blocks with a base, %d allocations in 10 hours",
		len(b.ring.data.W), cap(b.ring.data.W), based, after.Mallocs-before.Mallocs)
}

// TestMinuteRingReplay: a ring that fills an hour at a time, as history
// replays (one point an hour), grows a few times rather than every few
// hours, and once full and sealed it holds little spare room.
func TestMinuteRingReplay(t *testing.T) {
	const slots = 74
	var r minuteRing
	r.init(slots)
	reallocs := 0
	var last *uint64
	for h := int64(0); h < 400; h++ {
		if h >= slots-1 {
			r.release((h - slots + 1) * 60)
		}
		r.set(h*60+30, 23_000+uint64(h%7), 24_000+uint64(h%11))
		if h >= 2 {
			r.seal((h - 2) * 60)
		}
		if p := &r.data.W[0]; p != last {
			reallocs++
			last = p
		}
	}
	if reallocs > 15 {
		t.Errorf("%d arrays for 400 hours of a ring of %d hours, want a few", reallocs, slots)
	}
	n, c := len(r.data.W), r.data.Cap()
	if c > n+n/16+32 {
		t.Errorf("full ring of %d words in an array of %d", n, c)
	}
	for h := int64(400 - slots + 1); h < 400; h++ {
		if g, tot := r.get(h*60 + 30); g != 23_000+uint64(h%7) || tot != 24_000+uint64(h%11) {
			t.Fatalf("hour %d: %d/%d", h, g, tot)
		}
	}
	// A full ring whose newest hour needs wider counts grows by a little:
	// every route crosses the hour at once.
	for h := int64(396); h < 400; h++ {
		r.set(h*60+31, 1<<30, 1<<31)
	}
	if n2, c2 := len(r.data.W), r.data.Cap(); c2 == c || c2 > n2+n2/8+64 {
		t.Errorf("a full ring of %d words in %d grew to %d words for %d", n, c, c2, n2)
	}
	t.Logf("%d arrays, %d words in %d", reallocs, n, c)
}

// TestHourExclSums: a minute excluded leaves its hour's raw sums and
// takes its counts off the sums without exclusions; the hour sums of
// excluded minutes take words only while exclusions were derived.
func TestHourExclSums(t *testing.T) {
	var b buckets
	var scratch []Interval
	b.init(3*60, layoutFor(Objective{Name: "availability", SLO: 0.99, Window: slo.Window{Kind: slo.Rolling, Length: 24 * time.Hour}}))
	head := int64(100 * 60)
	b.advance(head, nil, &scratch, nil)
	m := head - 1 // the last minute of hour 99
	b.add(m, 5, 7, nil, &scratch)
	b.setExcl(m)
	if b.hexcl.words.Cap() == 0 {
		t.Fatal("an excluded minute, and no words for the hour sums of excluded minutes")
	}
	s := b.ringSums(m-59, m+1) // hour 99, from its hour sums
	if s.rawGood != 5 || s.rawTotal != 7 || s.good != 0 || s.total != 0 {
		t.Errorf("hour sums %+v, want raw 5/7 and 0/0 without the excluded minute", s)
	}
	b.recomputeExclusion(nil, &scratch)
	if n := b.hexcl.words.Cap(); n != 0 {
		t.Errorf("no exclusions, and %d words for the hour sums of excluded minutes", n)
	}
	if s := b.ringSums(m-59, m+1); s.good != 5 || s.total != 7 {
		t.Errorf("hour sums %+v after the exclusions went, want 5/7", s)
	}
}
