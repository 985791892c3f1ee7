package arena

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestArenaReleasesFreeBlocks: the pages of a freed block go back to the
// system although other blocks keep its span in use, and a block that
// takes its place again reads zero. Blocks of 16 KiB, four to a span: the
// first of each span stays, the other three are dropped.
func TestArenaReleasesFreeBlocks(t *testing.T) {
	const words, n = 2048, 1024
	if classSize(mustClass(words)) != words || spanBytes/(8*words) != 4 {
		t.Fatalf("class of %d words is %d words", words, classSize(mustClass(words)))
	}
	settle() // blocks of earlier tests
	hold := make([]Words, n)
	for i := range hold {
		hold[i] = New(words)
		if hold[i].own == nil {
			t.Skip("no arena on this system")
		}
		for j := range hold[i].W {
			hold[i].W[j] = uint64(j + 1)
		}
	}
	var freed []unsafe.Pointer
	before := Stats()
	for i := range hold {
		if s := arena.spanOf(uintptr(unsafe.Pointer(&hold[i].W[0]))); s.base == unsafe.Pointer(&hold[i].W[0]) {
			continue // the span's first block stays
		}
		freed = append(freed, unsafe.Pointer(&hold[i].W[0]))
		hold[i].Drop()
		hold[i] = Words{}
	}
	want := before.Used - int64(len(freed))*8*words
	deadline := time.Now().Add(10 * time.Second)
	for Stats().Used > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes in use, want %d", Stats().Used, want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond) // the cleanups run on their own goroutine
	}
	after := Stats()
	vec := make([]byte, 8*words/os.Getpagesize())
	resident := 0
	for _, p := range freed {
		q, size := pagesWithin(p, 8*words)
		if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(q), uintptr(size), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
			t.Fatal(errno)
		}
		for _, v := range vec[:size/os.Getpagesize()] {
			resident += int(v & 1)
		}
	}
	if resident > 0 {
		t.Errorf("%d pages of %d freed blocks of %d KiB are still resident", resident, len(freed), 8*words>>10)
	}
	if dropped := before.Resident - after.Resident; dropped < int64(len(freed))*(8*words-int64(os.Getpagesize())) {
		t.Errorf("resident figure fell by %d KiB for %d freed blocks of %d KiB", dropped>>10, len(freed), 8*words>>10)
	}
	// The freed blocks serve new arrays, zeroed.
	for range freed {
		w := New(words)
		for j, v := range w.W {
			if v != 0 {
				t.Fatalf("word %d of a reused block is %d", j, v)
			}
		}
		hold = append(hold, w)
	}
	if Stats().Resident != before.Resident {
		t.Errorf("resident %d KiB after the blocks were taken again, %d before they were freed", Stats().Resident>>10, before.Resident>>10)
	}
	runtime.KeepAlive(hold)
}

func mustClass(n int) uint8 { c, _ := classOf(n); return c }

// settle collects until the blocks in use stop changing: the cleanups
// that return blocks run after a collection, on their own goroutine.
func settle() {
	used := int64(-1)
	for i := 0; i < 100 && Stats().Used != used; i++ {
		used = Stats().Used
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
