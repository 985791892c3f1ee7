package budget

import (
	"math/rand/v2"
	"testing"
)

// TestRawTableMatchesMap: random sets, gets and resets give what a Go map
// gives, with keys that collide in their low bits and the key 0.
func TestRawTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tab rawTable
	ref := map[uint64]rawEntry{}
	states := []*series{nil, {}, {}}
	key := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return uint64(rng.IntN(3)) // 0, 1 and 2: 0 and 1 share a slot
		case 1:
			return uint64(rng.IntN(64)) << 40 // same low bits: one probe chain
		}
		return rng.Uint64()
	}
	for i := range 200_000 {
		k := key()
		switch op := rng.IntN(10_000); {
		case op < 4500:
			ent := rawEntry{h: rng.Uint64(), s: states[rng.IntN(len(states))]}
			tab.set(k, ent)
			if k == 0 {
				k = 1 // as the table stores it
			}
			ref[k] = ent
		case op < 9998:
			got, ok := tab.get(k)
			if k == 0 {
				k = 1
			}
			want, wok := ref[k]
			if ok != wok || got != want {
				t.Fatalf("op %d: get(%#x) = %v %v, want %v %v", i, k, got, ok, want, wok)
			}
		default:
			tab.reset()
			clear(ref)
		}
		if tab.len() != len(ref) {
			t.Fatalf("op %d: len %d, want %d", i, tab.len(), len(ref))
		}
	}
	if len(tab.slots) < 4*tab.len()/3 {
		t.Fatalf("%d slots for %d entries: over 3/4 full", len(tab.slots), tab.len())
	}
}
