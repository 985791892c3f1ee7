package remotewrite

// rawHash is SeriesKey.Raw's hash: wyhash-style (the construction of
// wyhash v4 and of budget's seriesHash), 48 bytes per round in three
// independent lanes, each 16 bytes folded into its lane's state with a
// 64x64->128-bit multiply, the length included at the end. Over the 351
// bytes of an ingress-nginx series' label fields it took 36-40 ns where
// hash/maphash (aeshash) took 45-54 ns, on the 2-core machine with other
// load (BenchmarkRawHashVsMaphash); that is per SLI sample on the write
// path. Like maphash it is seeded per process (rawSeed), so
// that its values cannot be persisted or chosen for another process; it is
// not meant to resist crafted collisions (nor is the series identity in
// budget that SeriesKey.Raw leads to).

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/slogate/slogate/internal/wyhash"
)

// rawSeed seeds SeriesKey.Raw.
var rawSeed = rand.Uint64()

// rawHash hashes b with seed. Each fold also xors the lane's state in
// (feed-forward), so that a product of zero does not erase what came
// before.
func rawHash(seed uint64, b []byte) uint64 {
	n := len(b)
	src := b
	h := wyhash.Mix(seed^wyhash.P0, wyhash.P1) ^ seed
	if len(b) > 48 {
		h1, h2 := h^wyhash.P2, h^wyhash.P3
		for len(b) > 48 {
			h = wyhash.Mix(le64(b)^wyhash.P1, le64(b[8:])^h) ^ h
			h1 = wyhash.Mix(le64(b[16:])^wyhash.P2, le64(b[24:])^h1) ^ h1
			h2 = wyhash.Mix(le64(b[32:])^wyhash.P3, le64(b[40:])^h2) ^ h2
			b = b[48:]
		}
		h = wyhash.Mix(h^wyhash.P0, h1^wyhash.Mix(h2^wyhash.P1, wyhash.P2)) ^ h
	}
	for len(b) > 16 {
		h = wyhash.Mix(le64(b)^wyhash.P1, le64(b[8:])^h) ^ h
		b = b[16:]
	}
	// The last 1 to 16 bytes, read as wyhash reads them: when more came
	// before, the last 16 bytes of src, overlapping what was folded.
	var x, y uint64
	switch {
	case n >= 16:
		x, y = le64(src[n-16:]), le64(src[n-8:])
	case n >= 8:
		x, y = le64(src), le64(src[n-8:])
	case n >= 4:
		x, y = uint64(binary.LittleEndian.Uint32(src)), uint64(binary.LittleEndian.Uint32(src[n-4:]))
	case n > 0:
		x = uint64(src[0])<<16 | uint64(src[n>>1])<<8 | uint64(src[n-1])
	}
	// The length through its own multiply, as budget's hashString does.
	return wyhash.Mix(x^wyhash.P1, y^wyhash.Mix(h^uint64(n), wyhash.P2)^wyhash.P0) ^ h
}
