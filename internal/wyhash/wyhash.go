// Package wyhash holds the primitives of wyhash v4 (and of Go's runtime
// fallback hash) that slogate's hand-written hashes build on: budget's
// series identity and remotewrite's raw series key. Each hash keeps its
// own construction (budget's values are persisted and pinned; remotewrite's
// are seeded per process); only the constants and the fold are shared.
package wyhash

import "math/bits"

// Constants of wyhash v4.
const (
	P0 = 0xa0761d6478bd642f
	P1 = 0xe7037ed1a0b428db
	P2 = 0x8ebc6af09c88c6e3
	P3 = 0x589965cc75374cc3
)

// Mix folds a and b: the xor of the halves of their 128-bit product.
func Mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
