package arena

import (
	"runtime"
	"testing"
	"time"
)

func TestArenaClasses(t *testing.T) {
	prev := 0
	for c := range numClasses {
		size := classSize(uint8(c))
		if size <= prev {
			t.Fatalf("class %d: %d words, not above class %d's %d", c, size, c-1, prev)
		}
		prev = size
	}
	for n := 1; n <= maxClassWords; n++ {
		c, size := classOf(n)
		if size < n || classSize(c) != size || int(c) >= numClasses {
			t.Fatalf("%d words: class %d of %d words (classSize %d)", n, c, size, classSize(c))
		}
		if c > 0 && classSize(c-1) >= n {
			t.Fatalf("%d words: class %d, but class %d (%d words) fits", n, c, c-1, classSize(c-1))
		}
		if spare := size - n; spare*8 > n {
			t.Fatalf("%d words: class of %d words, more than 12.5%% spare", n, size)
		}
	}
}

// TestArenaReuse: a block comes back zeroed, and the block of an array
// that nothing holds any more is reused, not mapped anew.
func TestArenaReuse(t *testing.T) {
	const n = 1000
	w := New(n)
	if w.own == nil {
		t.Skip("no arena on this system")
	}
	for i := range w.W {
		if w.W[i] != 0 {
			t.Fatalf("word %d of a new block is %d", i, w.W[i])
		}
		w.W[i] = ^uint64(0)
	}
	p := &w.W[0]
	w = Words{}
	// The owner's cleanup returns the block after a collection finds it
	// unreachable; cleanups run on their own goroutine.
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		x := New(n)
		if &x.W[0] == p {
			for i := range x.W {
				if x.W[i] != 0 {
					t.Fatalf("word %d of a reused block is %d", i, x.W[i])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the block of an unreachable array was not reused")
		}
		runtime.KeepAlive(x)
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
	}
	// Arrays the storage drops start collections of their own: the Go
	// heap (16 bytes an array) would not.
	before := Stats()
	for range 10_000 {
		x := New(n)
		x.W[n-1] = 1
		x.Drop()
	}
	after := Stats()
	if grown := after.Mapped - before.Mapped; grown > 64<<20 {
		t.Errorf("10,000 dropped arrays of %d words mapped %d MiB more", n, grown>>20)
	}
	if after.Collections == before.Collections {
		t.Errorf("10,000 dropped arrays of %d words started no collection", n)
	}
}
