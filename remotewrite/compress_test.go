package remotewrite

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/golang/snappy"
)

// TestAppendSnappyPaced: the paced encoding is the same bytes as the
// plain one, for inputs around the 64 KiB piece boundaries, appended after
// what dst holds, with pause called between the pieces only.
func TestAppendSnappyPaced(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := func(n int) {
		t.Helper()
		src := make([]byte, n)
		for i := range src {
			// Compressible, as series are, with some noise.
			src[i] = byte(i*7/13) ^ byte(rng.IntN(4))
		}
		prefix := []byte("kept")
		pauses := 0
		got := AppendSnappyPaced(bytes.Clone(prefix), src, func() { pauses++ })
		want := append(bytes.Clone(prefix), snappy.Encode(nil, src)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: the paced encoding differs from snappy.Encode", n)
		}
		if wantPauses := max(0, (n+snappyPiece-1)/snappyPiece-1); pauses != wantPauses {
			t.Fatalf("%d bytes: %d pauses, want %d", n, pauses, wantPauses)
		}
		dec, err := snappy.Decode(nil, got[len(prefix):])
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("%d bytes: does not decode to its input: %v", n, err)
		}
	}
	for _, n := range []int{0, 1, 16, 17, 1000, snappyPiece - 1, snappyPiece, snappyPiece + 1, snappyPiece + 16,
		snappyPiece + 17, 3*snappyPiece + 5, 1_500_000} {
		f(n)
	}
}
