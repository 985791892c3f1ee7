// Package arena holds arrays of counts outside the Go heap.
//
// The counts of the SLI engine's routes and services (minute rings, hour
// sums, folded units, exclusion bits) are most of slogate's memory. On
// the Go heap they would cost about twice their size in RSS, since with
// the default GOGC the heap grows to twice its live size between
// collections. So they live in memory mapped from the operating system
// (anonymous private mappings: memory, no IO), carved into blocks of size
// classes with a free list per class.
//
// A block's lifetime is the Go heap's: each block has a small owner on
// the Go heap that every holder of the block's words also holds (Words),
// and the owner's cleanup returns the block to its free list once the
// garbage collector finds the owner unreachable. So a copy of a route's
// storage (a relayout, a status, a test) keeps its blocks alive as long
// as it is reachable, and nothing frees a block that is still in use.
// Blocks of one class share spans of 64 KiB; a span whose last block is
// freed goes back to the system (its pages are released) and to any class
// that needs a span next, so memory freed by one size serves another.
//
// The garbage collector paces itself by the Go heap, which does not see
// the arena: arrays that the storage replaces (a ring that grows, counts
// that widen) would wait for a collection that the heap's growth starts.
// So the storage says when it drops an array (Words.Drop), and when the
// dropped bytes reach an eighth of the blocks in use (at least 8 MiB)
// the arena starts a collection itself.
package arena

import (
	"runtime"
	"unsafe"
)

// Words is an array of counts (W) and the owner of its memory. The zero
// value is an empty array. Copy W only together with the Words.
type Words struct {
	W   []uint64
	own *wordsOwner // nil for an empty array or one on the Go heap
}

// wordsOwner owns one arena block; see the package comment. It holds the
// block's address: an object with a pointer, so that it does not come
// from the allocator of tiny objects, whose cleanups may never run. Its
// 8 bytes and the cleanup's 24 are what a block costs on the Go heap.
type wordsOwner struct {
	p unsafe.Pointer // outside the Go heap
}

// MaxWords is the largest array the arena holds; larger ones are on the
// Go heap.
const MaxWords = maxClassWords

// New returns n zeroed words: an arena block of n's class, or an array
// on the Go heap when n is beyond the classes or the system refuses
// memory.
func New(n int) Words { return alloc(n, poolFixed) }

// NewGrowing is New for an array that is replaced by larger or smaller
// ones often (a minute ring): such arrays share spans only with their
// kind.
func NewGrowing(n int) Words { return alloc(n, poolGrowing) }

func alloc(n int, pool uint16) Words {
	if n <= 0 {
		return Words{}
	}
	if n > maxClassWords {
		return Words{W: make([]uint64, n)}
	}
	sc, size := classOf(n)
	c := pool*uint16(numClasses) + uint16(sc)
	p := arena.alloc(c)
	if p == nil {
		return Words{W: make([]uint64, n)}
	}
	w := unsafe.Slice((*uint64)(p), size)
	clear(w)
	own := &wordsOwner{p: p}
	// The cleanup's argument is the address alone (its span knows the
	// class): a smaller closure.
	runtime.AddCleanup(own, releaseBlock, p)
	return Words{W: w[:n], own: own}
}

// releaseBlock is the cleanup of a block's owner.
func releaseBlock(p unsafe.Pointer) { arena.release(p) }

// Drop says that the storage no longer holds w: its block returns to the
// arena once no copy holds it either. It does not touch w.
func (w *Words) Drop() {
	if w.own == nil {
		return
	}
	a := arena
	d := a.dropped.Add(int64(w.Bytes()))
	if d < minDropped || d < (a.used.Load()-d)/8 || !a.collecting.CompareAndSwap(false, true) {
		return
	}
	a.collects.Add(1)
	go func() {
		runtime.GC()
		a.collecting.Store(false)
	}()
}

// Figures are the arena's: bytes mapped from the system, bytes in spans
// that hold blocks (about what the arena adds to the RSS), bytes in blocks
// in use; and the collections the arena started for arrays the storage
// dropped.
type Figures struct{ Mapped, Resident, Used, Collections int64 }

// Stats returns the arena's figures (one arena per process).
func Stats() Figures {
	a := arena
	a.mu.Lock()
	defer a.mu.Unlock()
	return Figures{Mapped: a.mapped, Resident: a.resident, Used: a.used.Load(), Collections: a.collects.Load()}
}

// Cap returns the words the array can hold.
func (w *Words) Cap() int { return cap(w.W) }

// Bytes returns the bytes the array takes.
func (w *Words) Bytes() int { return 8 * cap(w.W) }

// Static returns n zeroed bytes outside the Go heap that stay for the
// life of the process (a table made once), nil when the system refuses.
// Their pages count in the RSS once touched; the Go heap, and so the
// garbage collector's goal, does not see them.
func Static(n int) unsafe.Pointer {
	if n <= 0 {
		return nil
	}
	return arenaMap(n)
}
