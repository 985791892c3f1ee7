package arena

import (
	"math/bits"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Size classes: exact up to 16 words, then 16 per doubling (at most
// 6.25% spare) up to maxClassWords; larger arrays are on the Go heap.
const (
	classesPerDoubling = 16
	maxClassWords      = 1 << 12 // 32 KiB: a span holds at least 2 blocks

	// Spans of 64 KiB: each class in use has one span partly filled, so
	// small spans waste little at any number of classes.
	spanShift  = 16
	spanBytes  = 1 << spanShift
	chunkBytes = 64 << 20 // mapped at once
	chunkSpans = chunkBytes / spanBytes
)

// classOf returns the size class of n words (n > 0) and its size.
func classOf(n int) (class uint8, size int) {
	if n <= classesPerDoubling {
		return uint8(n - 1), n
	}
	// n in (2^k, 2^(k+1)]: classesPerDoubling steps of 2^k/classesPerDoubling.
	k := bits.Len(uint(n-1)) - 1
	step := 1 << k / classesPerDoubling
	j := (n - (1 << k) + step - 1) / step // 1..classesPerDoubling
	return uint8(classesPerDoubling + (k-logPer)*classesPerDoubling + j - 1), 1<<k + j*step
}

// logPer is log2(classesPerDoubling).
const logPer = 4

// classSize returns the words of class c.
func classSize(c uint8) int {
	if int(c) < classesPerDoubling {
		return int(c) + 1
	}
	i := int(c) - classesPerDoubling
	k, j := i/classesPerDoubling+logPer, i%classesPerDoubling+1
	return 1<<k + j<<(k-logPer)
}

var numClasses = func() int { c, _ := classOf(maxClassWords); return int(c) + 1 }()

// span is 64 KiB of one chunk, holding blocks of one class, or idle.
type span struct {
	base       unsafe.Pointer
	class      uint16 // pool*numClasses + size class
	live, used int32  // blocks in use; blocks carved so far (the rest is untouched)
	released   int32  // bytes of the free blocks' pages given back to the system
	free       unsafe.Pointer
	prev, next *span // in its class's list of spans with room
	listed     bool
}

// chunk is a mapping of chunkBytes, aligned to spanBytes.
type chunk struct {
	base  unsafe.Pointer
	spans [chunkSpans]span
}

func (s *span) blocks() int32 { return int32(spanBytes / 8 / poolClassSize(s.class)) }

// Pools keep arrays of different lifetimes in different spans: arrays
// that grow through many classes (a minute ring while history loads) leave
// whole spans behind, which return to the system, instead of single
// blocks among long-lived ones, which would keep those spans resident.
const (
	poolFixed   = 0
	poolGrowing = 1
	numPools    = 2
)

// poolClassSize returns the words of a pool's class.
func poolClassSize(pc uint16) int { return classSize(uint8(pc % uint16(numClasses))) }

type arenaState struct {
	mu     sync.Mutex
	chunks []*chunk // by base
	// room holds per class the spans with free blocks; idle the spans
	// that hold none (released to the system), never-used spans included.
	room []*span
	idle []*span
	// mapped: bytes mapped; resident: bytes of spans that hold blocks.
	mapped, resident int64
	used             atomic.Int64 // bytes of blocks in use

	// dropped is the bytes of arrays the storage dropped and the arena
	// has not had back yet; collecting is set while a collection the
	// arena started runs; collects counts them.
	dropped    atomic.Int64
	collecting atomic.Bool
	collects   atomic.Int64
}

// minDropped is the least dropped bytes that start a collection.
const minDropped = 8 << 20

// arena is the process's arena.
var arena = &arenaState{room: make([]*span, numPools*numClasses)}

// alloc returns a block of pool class c, nil if the system refuses
// memory.
func (a *arenaState) alloc(c uint16) unsafe.Pointer {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.room[c]
	if s == nil {
		if s = a.newSpan(c); s == nil {
			return nil
		}
	}
	size := poolClassSize(c) * 8
	var p unsafe.Pointer
	if s.free != nil {
		p = s.free
		s.free = *(*unsafe.Pointer)(p)
		if _, n := pagesWithin(p, size); n > 0 {
			s.released -= int32(n) // touched again when the caller clears the block
			a.resident += int64(n)
		}
	} else {
		p = unsafe.Add(s.base, int(s.used)*size)
		s.used++
	}
	s.live++
	if s.free == nil && s.used == s.blocks() {
		a.unlist(s)
	}
	a.used.Add(int64(size))
	return p
}

// release returns block p.
//
// The whole pages within a free block go back to the system at once,
// not only when the span's last block is freed: the long-lived blocks of
// a span keep it in use, and the blocks freed among them (a ring that
// grew into a larger class, counts that widened) would otherwise stay
// resident until a block of their class takes their place. Most blocks
// of a full route are several pages long. The block is nobody's now, so
// its pages are released before it is listed; its first word, the free
// list's link, is kept.
func (a *arenaState) release(p unsafe.Pointer) {
	// The span (its chunk's, never moved) keeps its class while p is in
	// use: its pages are given back without the lock held.
	a.mu.Lock()
	s := a.spanOf(uintptr(p))
	c := s.class
	a.mu.Unlock()
	size := int64(poolClassSize(c)) * 8
	a.used.Add(-size)
	if d := a.dropped.Add(-size); d < 0 {
		a.dropped.Add(-d) // blocks of storage dropped whole were not counted
	}
	q, n := pagesWithin(p, int(size))
	if n > 0 {
		arenaRelease(q, n)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	*(*unsafe.Pointer)(p) = s.free
	s.free = p
	s.live--
	s.released += int32(n)
	a.resident -= int64(n)
	if s.live == 0 {
		// The span goes back to the system and to any class.
		a.unlist(s)
		arenaRelease(s.base, spanBytes)
		a.resident -= spanBytes - int64(s.released)
		*s = span{base: s.base}
		a.idle = append(a.idle, s)
		return
	}
	if !s.listed {
		a.list(s)
	}
}

// pagesWithin returns the whole system pages of block [p, p+size) after
// its first word: what release gives back to the system.
func pagesWithin(p unsafe.Pointer, size int) (unsafe.Pointer, int) {
	lo := (uintptr(p) + 8 + pageBytes - 1) &^ (pageBytes - 1)
	hi := (uintptr(p) + uintptr(size)) &^ (pageBytes - 1)
	if hi <= lo {
		return nil, 0
	}
	return unsafe.Add(p, lo-uintptr(p)), int(hi - lo)
}

// pageBytes is the system's page size.
var pageBytes = uintptr(os.Getpagesize())

// newSpan gives pool class c an idle span, mapping a chunk when there is
// none.
func (a *arenaState) newSpan(c uint16) *span {
	if len(a.idle) == 0 && !a.newChunk() {
		return nil
	}
	n := len(a.idle)
	s := a.idle[n-1]
	a.idle = a.idle[:n-1]
	*s = span{base: s.base, class: c}
	a.resident += spanBytes
	a.list(s)
	return s
}

// newChunk maps a chunk aligned to spanBytes and makes its spans idle.
func (a *arenaState) newChunk() bool {
	p := arenaMap(chunkBytes + spanBytes)
	if p == nil {
		return false
	}
	a.mapped += chunkBytes + spanBytes
	ch := &chunk{base: unsafe.Add(p, int(-uintptr(p)&(spanBytes-1)))}
	i := sort.Search(len(a.chunks), func(i int) bool { return uintptr(a.chunks[i].base) > uintptr(ch.base) })
	a.chunks = append(a.chunks, nil)
	copy(a.chunks[i+1:], a.chunks[i:])
	a.chunks[i] = ch
	for j := chunkSpans - 1; j >= 0; j-- { // the lowest spans first
		ch.spans[j].base = unsafe.Add(ch.base, j<<spanShift)
		a.idle = append(a.idle, &ch.spans[j])
	}
	return true
}

// spanOf returns the span of address p.
func (a *arenaState) spanOf(p uintptr) *span {
	i := sort.Search(len(a.chunks), func(i int) bool { return uintptr(a.chunks[i].base) > p }) - 1
	if i < 0 || p-uintptr(a.chunks[i].base) >= chunkBytes {
		panic("arena: released a block it does not hold")
	}
	ch := a.chunks[i]
	return &ch.spans[(p-uintptr(ch.base))>>spanShift]
}

func (a *arenaState) list(s *span) {
	s.prev, s.next, s.listed = nil, a.room[s.class], true
	if s.next != nil {
		s.next.prev = s
	}
	a.room[s.class] = s
}

func (a *arenaState) unlist(s *span) {
	if !s.listed {
		return
	}
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		a.room[s.class] = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.prev, s.next, s.listed = nil, nil, false
}
