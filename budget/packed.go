package budget

import (
	"math"
	"math/bits"
	"unsafe"

	"github.com/slogate/slogate/internal/arena"
)

// Compact storage of counts.
//
// packed is an array of n unsigned counts stored in w bits each, w the
// bit length of the largest count so far. A count that needs more bits
// widens the whole array (one allocation, rare: a width only grows, at
// most 64 times). An array whose counts are all zero so far takes no
// words.
type packed struct {
	words arena.Words
	n     int32
	w     uint8
}

// packWidth returns the bits a count v needs.
func packWidth(v uint64) uint8 { return uint8(bits.Len64(v)) }

func packWords(n int, w uint8) int { return (n*int(w) + 63) / 64 }

func newPacked(n int) packed { return packed{n: int32(n)} }

// get returns count i.
func (p *packed) get(i int) uint64 { return getBits(p.words.W, i, p.w) }

// set stores v as count i, widening the array when v needs it.
func (p *packed) set(i int, v uint64) {
	if v>>p.w != 0 && p.w < 64 {
		p.widen(packWidth(v))
	}
	setBits(p.words.W, i, p.w, v)
}

// add adds d (mod 2^64: a negative change wraps) to count i.
func (p *packed) add(i int, d uint64) {
	if d != 0 {
		p.set(i, p.get(i)+d)
	}
}

// reset sets every count to 0, keeping the width.
func (p *packed) reset() { clear(p.words.W) }

func (p *packed) widen(w uint8) {
	n := int(p.n)
	nw := arena.New(packWords(n, w))
	for i := range n {
		setBits(nw.W, i, w, getBits(p.words.W, i, p.w))
	}
	p.words.Drop()
	p.words, p.w = nw, w
}

// getBits returns the w-bit count i of words.
func getBits(words []uint64, i int, w uint8) uint64 {
	return getBitsAt(words, uint(i)*uint(w), w)
}

// setBits stores v (which fits in w bits) as the w-bit count i of words.
func setBits(words []uint64, i int, w uint8, v uint64) {
	setBitsAt(words, uint(i)*uint(w), w, v)
}

// minuteRing holds the minutes of a ring of ringLen minutes in blocks of
// one hour: hour h in slot h mod slots (slots is the number of hours the
// ring can touch, so a slot holds one hour of the ring at a time). A block
// stores the hour's 60 totals in wt bits each, less the hour's smallest
// total (base, a word before them, when that saves more than a word), then
// their bad counts (total - good; zigzag encoded when good exceeds total
// in a minute of the hour) in wz bits each. A busy route's minute takes
// about 10 to 14 bits, a quiet one's 0 to 4: bad counts are mostly zero.
// A write that does not fit re-packs the block in the widths its minutes
// need, and so does seal, for an hour that is complete. The blocks lie in
// slot order in one array; re-packing a block moves the blocks after it
// (the array grows with room to spare, so that it rarely allocates). A
// block narrows to nothing when its hour leaves the ring (release): the
// minutes of a block that left the ring are not cleared and never read.
type minuteRing struct {
	data arena.Words
	// metaWords holds per slot a uint32 (meta): the block's offset in data
	// (the low 16 bits: at most 74 blocks of 1 + 60 * 66 bits), wt and wz
	// (6 bits each), and the flags metaZig and metaBase; slots is their
	// number.
	metaWords arena.Words
	slots     uint16
	// seals counts the hours sealed since the array last grew.
	seals uint16
}

const (
	metaWt   = 16
	metaWz   = 22
	metaZig  = 1 << 28 // bad counts are zigzag encoded
	metaBase = 1 << 29 // the block starts with a base word
)

func (r *minuteRing) init(slots int) {
	*r = minuteRing{metaWords: arena.New((slots + 1) / 2), slots: uint16(slots)}
}

// meta returns the slots' meta words (a view of metaWords: a route keeps
// no slice header for it).
func (r *minuteRing) meta() []uint32 {
	if r.slots == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&r.metaWords.W[0])), int(r.slots))
}

// blockWords returns the words of a block of meta md.
func blockWords(md uint32) int {
	n := (60*(int(md>>metaWt&63)+int(md>>metaWz&63)) + 63) / 64
	if md&metaBase != 0 {
		n++
	}
	return n
}

func (r *minuteRing) slot(m int64) (s int, k int) {
	h := floorDiv64(m, 60)
	return int(floorMod64(h, int64(r.slots))), int(m - h*60)
}

// get returns the good and total counts of minute m.
func (r *minuteRing) get(m int64) (good, total uint64) {
	blk, k := r.block(m)
	return blk.get(k)
}

// hourBlock is the block of one hour.
type hourBlock struct {
	words  []uint64 // the counts, after the base word
	base   uint64
	wt, wz uint8
	zig    bool
}

// block returns the block of minute m's hour and m's minute in it.
func (r *minuteRing) block(m int64) (hourBlock, int) {
	s, k := r.slot(m)
	return r.blockAt(s), k
}

// blockAt returns the block in slot s.
func (r *minuteRing) blockAt(s int) hourBlock {
	md := r.meta()[s]
	if md>>metaWt == 0 {
		return hourBlock{}
	}
	blk := hourBlock{wt: uint8(md >> metaWt & 63), wz: uint8(md >> metaWz & 63), zig: md&metaZig != 0}
	w := r.data.W[md&0xffff:]
	if md&metaBase != 0 {
		blk.base, w = w[0], w[1:]
	}
	blk.words = w
	return blk
}

func (h hourBlock) empty() bool { return h.wt|h.wz == 0 && h.base == 0 }

// get returns the good and total counts of minute k of the hour.
func (h hourBlock) get(k int) (good, total uint64) {
	if h.empty() {
		return 0, 0
	}
	total = h.base + getBits(h.words, k, h.wt)
	z := getBitsAt(h.words, 60*uint(h.wt)+uint(k)*uint(h.wz), h.wz)
	d := int64(z)
	if h.zig {
		d = int64(z>>1) ^ -int64(z&1)
	}
	return uint64(int64(total) - d), total
}

// appendWords appends minutes [k0, k1) of the hour as good | total<<32.
func (h *hourBlock) appendWords(dst []uint64, k0, k1 int) []uint64 {
	tb, zb := uint(k0)*uint(h.wt), 60*uint(h.wt)+uint(k0)*uint(h.wz)
	for range k1 - k0 {
		total := h.base + getBitsAt(h.words, tb, h.wt)
		z := getBitsAt(h.words, zb, h.wz)
		d := int64(z)
		if h.zig {
			d = int64(z>>1) ^ -int64(z&1)
		}
		dst = append(dst, uint64(int64(total)-d)&math.MaxUint32|total<<32)
		tb, zb = tb+uint(h.wt), zb+uint(h.wz)
	}
	return dst
}

// set stores the good and total counts (32-bit) of minute m.
func (r *minuteRing) set(m int64, good, total uint64) {
	s, k := r.slot(m)
	r.setAt(s, k, good, total)
}

// setAt stores the good and total counts of minute k of slot s: their
// low 32 bits (a corrupt snapshot may hold more; counts saturate at 32
// bits on every other path).
func (r *minuteRing) setAt(s, k int, good, total uint64) {
	good, total = good&math.MaxUint32, total&math.MaxUint32
	blk := r.blockAt(s)
	d := int64(total) - int64(good)
	z := uint64(d)
	if blk.zig {
		z = uint64(d<<1 ^ d>>63)
	}
	t := total - blk.base
	if total < blk.base || t>>blk.wt != 0 || d < 0 && !blk.zig || z>>blk.wz != 0 {
		r.repack(s, k, good, total)
		return
	}
	setBits(blk.words, k, blk.wt, t)
	setBitsAt(blk.words, 60*uint(blk.wt)+uint(k)*uint(blk.wz), blk.wz, z)
}

// seal re-packs the block of minute m's hour in the widths its minutes
// need: for an hour that is complete, whose smallest total is known.
func (r *minuteRing) seal(m int64) {
	s, _ := r.slot(m)
	if r.meta()[s]>>metaWt != 0 {
		r.seals = min(r.seals+1, math.MaxUint16)
		r.repack(s, -1, 0, 0)
	}
}

// release narrows the block of minute m's hour to nothing: the hour left
// the ring.
func (r *minuteRing) release(m int64) {
	s, _ := r.slot(m)
	if r.meta()[s]>>metaWt != 0 {
		r.place(s, 0, false)
	}
}

// repack re-packs slot s's block in the widths its minutes need, with
// minute k (if k >= 0) set to good and total.
func (r *minuteRing) repack(s, k int, good, total uint64) {
	var tot [60]uint64
	var bad [60]int64
	blk := r.blockAt(s)
	for j := range 60 {
		g, n := blk.get(j)
		tot[j], bad[j] = n, int64(n)-int64(g)
	}
	if k >= 0 {
		tot[k], bad[k] = total, int64(total)-int64(good)
	}
	lo, hi := tot[0], tot[0]
	zig := false
	var maxBad uint64
	for j := range 60 {
		lo, hi = min(lo, tot[j]), max(hi, tot[j])
		if bad[j] < 0 {
			zig = true
		}
	}
	for j := range 60 {
		z := uint64(bad[j])
		if zig {
			z = uint64(bad[j]<<1 ^ bad[j]>>63)
		}
		maxBad = max(maxBad, z)
	}
	wt, wz := packWidth(hi), packWidth(maxBad)
	base := uint64(0)
	if wb := packWidth(hi - lo); lo > 0 && 60*int(wt-wb) > 64 {
		wt, base = wb, lo
	}
	md := uint32(wt)<<metaWt | uint32(wz)<<metaWz
	if zig {
		md |= metaZig
	}
	if base > 0 {
		md |= metaBase
	}
	if wt|wz == 0 && base == 0 {
		md = 0 // all zero
	}
	w := r.place(s, md, k < 0)
	if base > 0 {
		w[0], w = base, w[1:]
	}
	for j := range 60 {
		z := uint64(bad[j])
		if zig {
			z = uint64(bad[j]<<1 ^ bad[j]>>63)
		}
		setBits(w, j, wt, tot[j]-base)
		setBitsAt(w, 60*uint(wt)+uint(j)*uint(wz), wz, z)
	}
}

// place gives slot s a cleared block of meta md (its offset aside),
// moving the blocks after it, and returns the block's words. The array
// shrinks only if shrink (an hour sealed), not when hours leave the ring,
// which fills again as it advances: replaying history would otherwise
// shrink and grow it over and over.
func (r *minuteRing) place(s int, md uint32, shrink bool) []uint64 {
	meta := r.meta()
	old := meta[s]
	off := int(old & 0xffff)
	ol, nl := 0, 0
	if old>>metaWt != 0 {
		ol = blockWords(old)
	}
	if md>>metaWt != 0 {
		nl = blockWords(md)
	}
	n := len(r.data.W) + nl - ol
	// The array grows by half while it keeps growing (a ring filling up,
	// as history replays, grows a few times, not once per hour), else by
	// a block or two, and shrinks to a block or two of room (n/64 + 8
	// words, and up to 6.25% more for its size class) when it has more
	// than n/16 + 32 spare and has not grown for a quarter of the hours it
	// holds: a ring that stopped filling up stays tight. A full ring
	// holds about the same number of words hour after hour: the hour
	// that leaves makes room for the one that comes.
	grow := n > r.data.Cap()
	shrink = shrink && int(r.seals) >= int(r.slots)/4 && r.data.Cap() > n+n/16+32
	if grow || shrink {
		spare := n/64 + 8
		if grow && r.filling() {
			// A ring with hours still empty is filling up (history
			// replaying): by half, but within the arena while the ring
			// fits there. A full ring that needs a little more (a wider
			// hour) gets a little: every route crosses the hour at once,
			// and 1.5 times every ring would be a spike.
			spare = max(min(n/2+24, arena.MaxWords-n), spare)
		}
		if grow {
			r.seals = 0
		}
		nd := arena.NewGrowing(n + spare)
		nd.W = nd.W[:n]
		copy(nd.W, r.data.W[:off])
		copy(nd.W[off+nl:], r.data.W[off+ol:])
		r.data.Drop()
		r.data = nd
	} else {
		end := len(r.data.W)
		r.data.W = r.data.W[:max(n, end)]
		copy(r.data.W[off+nl:], r.data.W[off+ol:end])
		r.data.W = r.data.W[:n]
	}
	blk := r.data.W[off : off+nl]
	clear(blk)
	meta[s] = uint32(off) | md&^0xffff
	if nl != ol {
		for j := s + 1; j < len(meta); j++ {
			meta[j] = uint32(int(meta[j]&0xffff)+nl-ol) | meta[j]&^0xffff
		}
	}
	return blk
}

// filling reports whether more than two of the ring's hours have no
// block: it is still filling up.
func (r *minuteRing) filling() bool {
	empty := 0
	for _, md := range r.meta() {
		if md>>metaWt == 0 {
			empty++
		}
	}
	return empty > 2
}

// reset sets every minute to 0 and releases the blocks.
func (r *minuteRing) reset() {
	r.data.W = r.data.W[:0]
	clear(r.meta())
}

// bytes returns the bytes the ring's counts take.
func (r *minuteRing) bytes() int { return r.data.Bytes() + r.metaWords.Bytes() }

// getBitsAt returns the w-bit value at bit offset bit of words.
func getBitsAt(words []uint64, bit uint, w uint8) uint64 {
	if w == 0 {
		return 0
	}
	q, r := bit>>6, bit&63
	v := words[q] >> r
	if r+uint(w) > 64 {
		v |= words[q+1] << (64 - r)
	}
	if w < 64 {
		v &= 1<<w - 1
	}
	return v
}

// setBitsAt stores the w-bit value v at bit offset bit of words.
func setBitsAt(words []uint64, bit uint, w uint8, v uint64) {
	if w == 0 {
		return
	}
	q, r := bit>>6, bit&63
	mask := ^uint64(0)
	if w < 64 {
		mask = 1<<w - 1
	}
	words[q] = words[q]&^(mask<<r) | v<<r
	if r+uint(w) > 64 {
		s := 64 - r
		words[q+1] = words[q+1]&^(mask>>s) | v>>s
	}
}

// bytes returns the bytes the array's counts take.
func (p *packed) bytes() int { return p.words.Bytes() }

// bytes returns the bytes the counts of b take (its rings and units).
func (b *buckets) bytes() int {
	return b.ring.bytes() + b.excl.Bytes() + b.hsum.bytes() + b.hexcl.bytes() + b.units.bytes() + b.unitsBad.bytes() + b.sl.bytes()
}
