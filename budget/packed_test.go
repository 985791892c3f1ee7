package budget

import (
	"math"
	"math/rand/v2"
	"testing"
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
