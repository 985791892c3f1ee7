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
// Freed blocks are reused; their pages stay mapped.
//
// The garbage collector paces itself by the Go heap, which does not see
// the arena: arrays that the storage replaces (a ring that grows, counts
// that widen) would wait for a collection that the heap's growth starts.
// So the storage says when it drops an array (Words.Drop), and when the
// dropped bytes reach a quarter of the blocks in use (at least 16 MiB)
// the arena starts a collection itself.
package arena

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Words is an array of counts (W) and the owner of its memory. The zero
// value is an empty array. Copy W only together with the Words.
type Words struct {
	W   []uint64
	own *wordsOwner // nil for an empty array or one on the Go heap
}

// wordsOwner owns one arena block; see the package comment. It holds the
// block's address and class (an object with a pointer: an owner must not
// come from the allocator of tiny objects, whose cleanups may never run).
type wordsOwner arenaBlock

// arenaBlock is a block's address and class, what its owner's cleanup
// returns to the arena.
type arenaBlock struct {
	p     unsafe.Pointer // outside the Go heap
	class uint8
}

// Size classes: 8 per doubling above 8 words (at most 12.5% spare), exact
// up to 8 words; blocks above maxClassWords are on the Go heap.
const (
	classesPerDoubling = 8
	maxClassWords      = 1 << 16 // 512 KiB
	slabBytes          = 1 << 20 // the arena maps memory in slabs of 1 MiB or one block
)

// classOf returns the size class of n words (n > 0) and its size.
func classOf(n int) (class uint8, size int) {
	if n <= 8 {
		return uint8(n - 1), n
	}
	// n in (2^k, 2^(k+1)]: 8 steps of 2^(k-3).
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	step := 1 << (k - 3)
	j := (n - (1 << k) + step - 1) / step // 1..8
	return uint8(8 + (k-3)*classesPerDoubling + j - 1), 1<<k + j*step
}

// classSize returns the words of class c.
func classSize(c uint8) int {
	if c < 8 {
		return int(c) + 1
	}
	i := int(c) - 8
	k, j := i/classesPerDoubling+3, i%classesPerDoubling+1
	return 1<<k + j<<(k-3)
}

var numClasses = func() int { c, _ := classOf(maxClassWords); return int(c) + 1 }()

// arena is the process's arena of count blocks.
var arena = newStats()

type arenaState struct {
	mu sync.Mutex
	// free holds per class the first free block; a free block's first
	// word is the address of the next one.
	free []unsafe.Pointer
	// cur is what is left of the newest slab, left bytes.
	cur  unsafe.Pointer
	left uintptr
	// mapped and used are bytes mapped from the system and in blocks.
	mapped, used int64
	// dropped is the bytes of arrays dropped since the last collection
	// the arena started; collecting is set while one runs.
	dropped    atomic.Int64
	collecting atomic.Bool
	collects   atomic.Int64
}

// minDropped is the least dropped bytes that start a collection.
const minDropped = 16 << 20

func newStats() *arenaState { return &arenaState{free: make([]unsafe.Pointer, numClasses)} }

// New returns n zeroed words: an arena block of n's class, or an
// array on the Go heap when n is beyond the classes or the system refuses
// memory.
func New(n int) Words {
	if n <= 0 {
		return Words{}
	}
	if n > maxClassWords {
		return Words{W: make([]uint64, n)}
	}
	c, size := classOf(n)
	p := arena.alloc(c, size)
	if p == nil {
		return Words{W: make([]uint64, n)}
	}
	w := unsafe.Slice((*uint64)(p), size)[:n]
	clear(w[:size])
	own := &wordsOwner{p: p, class: c}
	runtime.AddCleanup(own, releaseBlock, arenaBlock{p: p, class: c})
	return Words{W: w, own: own}
}

// alloc returns a block of class c (size words), nil if the system
// refuses memory.
func (a *arenaState) alloc(c uint8, size int) unsafe.Pointer {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.free[c]; p != nil {
		a.free[c] = *(*unsafe.Pointer)(p)
		a.used += int64(size) * 8
		return p
	}
	need := uintptr(size) * 8
	if a.left < need {
		// The rest of the slab goes to the free lists of the classes
		// that fit it, largest first.
		a.spill()
		n := max(slabBytes, int(need))
		p := arenaMap(n)
		if p == nil {
			return nil
		}
		a.cur, a.left = p, uintptr(n)
		a.mapped += int64(n)
	}
	p := a.cur
	a.cur, a.left = unsafe.Add(a.cur, need), a.left-need
	a.used += int64(size) * 8
	return p
}

// spill puts what is left of the current slab on the free lists.
func (a *arenaState) spill() {
	for c := numClasses - 1; c >= 0 && a.left > 0; c-- {
		need := uintptr(classSize(uint8(c))) * 8
		for a.left >= need {
			*(*unsafe.Pointer)(a.cur) = a.free[c]
			a.free[c] = a.cur
			a.cur, a.left = unsafe.Add(a.cur, need), a.left-need
		}
	}
}

// releaseBlock is the cleanup of a block's owner.
func releaseBlock(b arenaBlock) { arena.release(b) }

// release returns a block to its free list.
func (a *arenaState) release(b arenaBlock) {
	a.mu.Lock()
	*(*unsafe.Pointer)(b.p) = a.free[b.class]
	a.free[b.class] = b.p
	a.used -= int64(classSize(b.class)) * 8
	a.mu.Unlock()
}

// Drop says that the storage no longer holds w: its block returns to the
// arena once no copy holds it either. It does not touch w.
func (w *Words) Drop() {
	if w.own == nil {
		return
	}
	a := arena
	if a.dropped.Add(int64(w.Bytes())) < minDropped {
		return
	}
	a.mu.Lock()
	used := a.used
	a.mu.Unlock()
	if a.dropped.Load() >= max(minDropped, used/4) && a.collecting.CompareAndSwap(false, true) {
		a.dropped.Store(0)
		a.collects.Add(1)
		go func() {
			runtime.GC()
			a.collecting.Store(false)
		}()
	}
}

// Figures are the bytes of counts outside the Go heap: mapped from the
// system, and in blocks in use (the rest is free for reuse); and the
// collections the arena started for arrays the storage dropped.
type Figures struct{ Mapped, Used, Collections int64 }

// Arena returns the arena's figures, shared by every engine of the
// process.
func Stats() Figures {
	arena.mu.Lock()
	defer arena.mu.Unlock()
	return Figures{Mapped: arena.mapped, Used: arena.used, Collections: arena.collects.Load()}
}

// Cap returns the words the array can hold.
func (w *Words) Cap() int { return cap(w.W) }

// Bytes returns the bytes the array takes.
func (w *Words) Bytes() int { return 8 * cap(w.W) }
