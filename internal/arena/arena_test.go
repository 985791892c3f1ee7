package arena

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
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
		if spare := size - n; spare*classesPerDoubling > n {
			t.Fatalf("%d words: class of %d words, more than 1/%d spare", n, size, classesPerDoubling)
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
	// Other spans of the class (earlier runs of the test) may have room
	// too: the arrays taken meanwhile are held, so that the block turns
	// up among the next ones.
	var taken []Words
	for found := false; !found; {
		runtime.GC()
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
		for range 64 {
			x := New(n)
			taken = append(taken, x)
			if &x.W[0] == p {
				for i := range x.W {
					if x.W[i] != 0 {
						t.Fatalf("word %d of a reused block is %d", i, x.W[i])
					}
				}
				found = true
				break
			}
		}
		if !found && time.Now().After(deadline) {
			t.Fatal("the block of an unreachable array was not reused")
		}
	}
	runtime.KeepAlive(taken)
	taken = nil
	// Arrays the storage drops start collections of their own: the Go
	// heap (16 bytes an array) would not.
	before := Stats()
	for range 10_000 {
		x := New(n)
		x.W[n-1] = 1
		x.Drop()
	}
	after := Stats()
	// At most one more chunk: a chunk's mapping is chunkBytes and the
	// span of slack that aligns it.
	if grown := after.Mapped - before.Mapped; grown > chunkBytes+spanBytes {
		t.Errorf("10,000 dropped arrays of %d words mapped %d KiB more, over one chunk", n, grown>>10)
	}
	if after.Collections == before.Collections {
		t.Errorf("10,000 dropped arrays of %d words started no collection", n)
	}
}

// TestArenaSpansServeAnyClass: once every block of a span is free, the
// span leaves the RSS and serves another class: arrays that grow through
// the classes (as rings and counts do while history loads) do not leave
// each class's memory behind.
func TestArenaSpansServeAnyClass(t *testing.T) {
	hold := make([]Words, 0, 4096)
	before := Stats()
	for size := 16; size <= 4096; size += size / 4 {
		hold = hold[:0]
		for range 2048 {
			w := New(size)
			w.W[size-1] = 1
			hold = append(hold, w)
		}
		for i := range hold {
			hold[i].Drop()
			hold[i] = Words{}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for Stats().Resident-before.Resident > 4*spanBytes*int64(numClasses) {
		if time.Now().After(deadline) {
			t.Fatalf("resident %d MiB more after every array was dropped", (Stats().Resident-before.Resident)>>20)
		}
		runtime.GC()
		time.Sleep(time.Millisecond) // the cleanups run on their own goroutine
	}
	after := Stats()
	// 2048 arrays of 4096 words alone are 64 MiB: without reuse across
	// classes the arena would have mapped the sum over all sizes.
	if grown := after.Mapped - before.Mapped; grown > 160<<20 {
		t.Errorf("mapped %d MiB more for arrays of at most 64 MiB at once", grown>>20)
	}
	t.Logf("mapped %d MiB more, resident %d KiB more, %d collections", (after.Mapped-before.Mapped)>>20, (after.Resident-before.Resident)>>10, after.Collections-before.Collections)
}

// TestBlockHeapCost: a block costs the Go heap its owner and its cleanup,
// 32 bytes, which the garbage collector's goal doubles. The counts of a
// full route are several blocks; the cost is per block, so it is kept
// small.
func TestBlockHeapCost(t *testing.T) {
	const n = 50_000
	hold := make([]Words, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range hold {
		hold[i] = New(4)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	if per > 36 {
		t.Fatalf("a block costs %.1f bytes of Go heap, want at most 36 (owner 8, cleanup 24)", per)
	}
	if hold[0].own == nil {
		t.Fatal("a block of 4 words is on the Go heap, not in the arena")
	}
	runtime.KeepAlive(hold)
}

// TestStatic: a static table is zeroed and writable, outside the Go heap.
func TestStatic(t *testing.T) {
	if Static(0) != nil {
		t.Fatal("Static(0) returned memory")
	}
	p := Static(1 << 20)
	if p == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("Static(1 MiB) = nil on linux")
		}
		t.Skip("no mapped memory on " + runtime.GOOS)
	}
	b := unsafe.Slice((*byte)(p), 1<<20)
	for i := 0; i < len(b); i += 4096 {
		if b[i] != 0 {
			t.Fatalf("byte %d is %d, not zero", i, b[i])
		}
		b[i] = 1
	}
}
