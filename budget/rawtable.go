package budget

import (
	"unsafe"

	"github.com/slogate/slogate/internal/prefetch"
)

// rawTable maps the hash of a series' label fields on the wire
// (remotewrite.SeriesKey.Raw) to what the tenant knows of the series
// (tenantState.raw). It is an open-addressing table with linear probing,
// indexed by the key's low bits: the key is a hash already, so a lookup
// hashes nothing and reads one slot, usually one cache line, where a Go
// map would hash the key again and read a control word first. That is
// on the path of every SLI sample.
//
// The zero key marks an empty slot, so key 0 is stored as 1 (one more
// 64-bit collision, which the raw keys ignore anyway).
type rawTable struct {
	slots []rawSlot // len is a power of two, or 0
	n     int
}

type rawSlot struct {
	key uint64
	ent rawEntry
}

// rawKey maps key 0 to 1: see rawTable.
func rawKey(k uint64) uint64 {
	if k == 0 {
		return 1
	}
	return k
}

// get returns the entry of key k.
func (t *rawTable) get(k uint64) (rawEntry, bool) {
	if len(t.slots) == 0 {
		return rawEntry{}, false
	}
	k = rawKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch s := &t.slots[i]; s.key {
		case k:
			return s.ent, true
		case 0:
			return rawEntry{}, false
		}
	}
}

// set stores ent as the entry of key k.
func (t *rawTable) set(k uint64, ent rawEntry) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	k = rawKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch s := &t.slots[i]; s.key {
		case k:
			s.ent = ent
			return
		case 0:
			*s = rawSlot{key: k, ent: ent}
			t.n++
			return
		}
	}
}

// grow doubles the table (at least 64 slots) and re-inserts the entries.
func (t *rawTable) grow() {
	old := t.slots
	t.slots, t.n = make([]rawSlot, max(64, 2*len(old))), 0
	for i := range old {
		if old[i].key != 0 {
			t.set(old[i].key, old[i].ent)
		}
	}
}

// len returns the number of entries.
func (t *rawTable) len() int { return t.n }

// reset removes every entry, keeping the table's size.
func (t *rawTable) reset() {
	clear(t.slots)
	t.n = 0
}

// prefetch asks for the slot key k starts at (see package prefetch), for
// a get of k a few series later.
func (t *rawTable) prefetch(k uint64) {
	if len(t.slots) > 0 {
		prefetch.Line(unsafe.Pointer(&t.slots[rawKey(k)&uint64(len(t.slots)-1)]))
	}
}

// prefetchState asks for the state of the series of key k, when its slot
// (prefetched a few series before) names one; with route, for the first
// two cache lines of its route instead (the state prefetched before),
// which are all that counting a point in order reads of it.
func (t *rawTable) prefetchState(k uint64, route bool) {
	if len(t.slots) == 0 {
		return
	}
	k = rawKey(k)
	sl := &t.slots[k&uint64(len(t.slots)-1)]
	if sl.key != k || sl.ent.s == nil {
		return
	}
	if !route {
		prefetch.Range(unsafe.Pointer(sl.ent.s), unsafe.Sizeof(series{}))
	} else if r := sl.ent.s.route; r != nil {
		prefetch.Range(unsafe.Pointer(r), 128)
	}
}
