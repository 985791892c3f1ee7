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
	"math/bits"
	"math/rand/v2"
)

// rawSeed seeds SeriesKey.Raw.
var rawSeed = rand.Uint64()

// Constants of wyhash v4.
const (
	rawP0 = 0xa0761d6478bd642f
	rawP1 = 0xe7037ed1a0b428db
	rawP2 = 0x8ebc6af09c88c6e3
	rawP3 = 0x589965cc75374cc3
)

// rawMix folds a and b: the xor of the halves of their 128-bit product.
func rawMix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// rawHash hashes b with seed. Each fold also xors the lane's state in
// (feed-forward), so that a product of zero does not erase what came
// before.
func rawHash(seed uint64, b []byte) uint64 {
	n := len(b)
	src := b
	h := rawMix(seed^rawP0, rawP1) ^ seed
	if len(b) > 48 {
		h1, h2 := h^rawP2, h^rawP3
		for len(b) > 48 {
			h = rawMix(le64(b)^rawP1, le64(b[8:])^h) ^ h
			h1 = rawMix(le64(b[16:])^rawP2, le64(b[24:])^h1) ^ h1
			h2 = rawMix(le64(b[32:])^rawP3, le64(b[40:])^h2) ^ h2
			b = b[48:]
		}
		h = rawMix(h^rawP0, h1^rawMix(h2^rawP1, rawP2)) ^ h
	}
	for len(b) > 16 {
		h = rawMix(le64(b)^rawP1, le64(b[8:])^h) ^ h
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
	return rawMix(x^rawP1, y^rawMix(h^uint64(n), rawP2)^rawP0) ^ h
}
