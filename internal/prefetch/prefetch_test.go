package prefetch

import (
	"testing"
	"unsafe"
)

// TestLine: Line and Range change nothing and does not fault, even for the
// nil address.
func TestLine(t *testing.T) {
	b := []uint64{1, 2, 3}
	Line(unsafe.Pointer(&b[1]))
	Line(nil)
	Range(unsafe.Pointer(&b[0]), unsafe.Sizeof(b[0])*3)
	Range(unsafe.Pointer(&b[2]), 1)
	if b[0] != 1 || b[1] != 2 || b[2] != 3 {
		t.Fatalf("prefetch changed memory: %v", b)
	}
}
