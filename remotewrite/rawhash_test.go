package remotewrite

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"testing"
)

// TestRawHashDistinct: inputs that differ in one byte, in length, in the
// order of their 16-byte chunks or in the lane a chunk falls into hash
// apart, and the seed changes every hash.
func TestRawHashDistinct(t *testing.T) {
	base := make([]byte, 400)
	for i := range base {
		base[i] = byte(i*131 + i>>3 + 1) // no zero byte: the zeros below are other inputs
	}
	seen := map[uint64]string{}
	add := func(b []byte, what string) {
		t.Helper()
		h := rawHash(rawSeed, b)
		if old, ok := seen[h]; ok {
			t.Fatalf("%s and %s hash alike (%#x)", old, what, h)
		}
		seen[h] = what
	}
	for n := range len(base) + 1 {
		add(base[:n], fmt.Sprintf("prefix %d", n))
	}
	zeros := make([]byte, 100)
	for n := 1; n <= len(zeros); n++ {
		add(zeros[:n], fmt.Sprintf("%d zero bytes", n))
	}
	for _, n := range []int{3, 7, 15, 16, 17, 47, 48, 49, 96, 330} {
		for i := range n {
			for _, bit := range []byte{1, 0x80} {
				b := bytes.Clone(base[:n])
				b[i] ^= bit
				add(b, fmt.Sprintf("prefix %d with byte %d ^ %#x", n, i, bit))
			}
		}
		for i := 0; i+32 <= n; i += 16 {
			b := bytes.Clone(base[:n])
			copy(b[i:], base[i+16:i+32])
			copy(b[i+16:], base[i:i+16])
			add(b, fmt.Sprintf("prefix %d with chunks %d and %d swapped", n, i/16, i/16+1))
		}
	}
	for _, n := range []int{0, 5, 330} {
		if rawHash(rawSeed, base[:n]) == rawHash(rawSeed+1, base[:n]) {
			t.Errorf("prefix %d: the seed does not change the hash", n)
		}
	}
}

// BenchmarkRawHashVsMaphash hashes the label fields of an ingress-nginx
// series (about 330 bytes) with rawHash and with hash/maphash (aeshash):
//
//	go test -run '^$' -bench BenchmarkRawHashVsMaphash ./remotewrite
func BenchmarkRawHashVsMaphash(b *testing.B) {
	series := benchSeries(1, 100)
	series[0].Samples = nil
	data := AppendWriteRequest(nil, series)
	labels, _, err := readBytes(data[1:]) // the TimeSeries: its label fields
	if err != nil {
		b.Fatal(err)
	}
	seed := maphash.MakeSeed()
	var sink uint64
	b.Run("rawHash", func(b *testing.B) {
		b.SetBytes(int64(len(labels)))
		for b.Loop() {
			sink += rawHash(rawSeed, labels)
		}
	})
	b.Run("maphash", func(b *testing.B) {
		b.SetBytes(int64(len(labels)))
		for b.Loop() {
			sink += maphash.Bytes(seed, labels)
		}
	})
	_ = sink
}
