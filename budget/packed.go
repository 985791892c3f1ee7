package budget

import "math/bits"

// Compact storage of counts.
//
// packed is an array of n unsigned counts stored in w bits each, w the
// bit length of the largest count so far. A count that needs more bits
// widens the whole array (one allocation, rare: a width only grows, at
// most 64 times). An array whose counts are all zero so far takes no
// words.
type packed struct {
	words []uint64
	n     int32
	w     uint8
}

// packWidth returns the bits a count v needs.
func packWidth(v uint64) uint8 { return uint8(bits.Len64(v)) }

func packWords(n int, w uint8) int { return (n*int(w) + 63) / 64 }

func newPacked(n int) packed { return packed{n: int32(n)} }

// get returns count i.
func (p *packed) get(i int) uint64 { return getBits(p.words, i, p.w) }

// set stores v as count i, widening the array when v needs it.
func (p *packed) set(i int, v uint64) {
	if v>>p.w != 0 && p.w < 64 {
		p.widen(packWidth(v))
	}
	setBits(p.words, i, p.w, v)
}

// add adds d (mod 2^64: a negative change wraps) to count i.
func (p *packed) add(i int, d uint64) {
	if d != 0 {
		p.set(i, p.get(i)+d)
	}
}

// reset sets every count to 0, keeping the width.
func (p *packed) reset() { clear(p.words) }

func (p *packed) widen(w uint8) {
	n := int(p.n)
	nw := make([]uint64, packWords(n, w))
	for i := range n {
		setBits(nw, i, w, getBits(p.words, i, p.w))
	}
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
// stores the hour's 60 totals in wt bits each, then their bad counts
// (total - good, zigzag encoded, since good may exceed total) in wz bits
// each: a busy route's minute takes about 14 bits, a quiet one's 0 to 4,
// and bad counts are mostly zero. The blocks lie in slot order in one
// array; widening a block moves the blocks after it (the array grows with
// room to spare, so that widening rarely allocates). A block narrows to
// nothing when its hour leaves the ring.
type minuteRing struct {
	data []uint64
	// meta holds per slot the block's offset in data (low 16 bits: at
	// most 74 blocks of 60 * 66 bits), wt (next 8 bits) and wz (top 8).
	meta []uint32
}

func (r *minuteRing) init(slots int) { *r = minuteRing{meta: make([]uint32, slots)} }

func blockWords(wt, wz uint8) int { return (60*(int(wt)+int(wz)) + 63) / 64 }

func (r *minuteRing) slot(m int64) (s int, k int) {
	h := floorDiv64(m, 60)
	return int(floorMod64(h, int64(len(r.meta)))), int(m - h*60)
}

// get returns the good and total counts of minute m.
func (r *minuteRing) get(m int64) (good, total uint64) {
	blk, k := r.block(m)
	return blk.get(k)
}

// hourBlock is the block of one hour.
type hourBlock struct {
	words  []uint64
	wt, wz uint8
}

// block returns the block of minute m's hour and m's minute in it.
func (r *minuteRing) block(m int64) (hourBlock, int) {
	s, k := r.slot(m)
	return r.blockAt(s), k
}

// blockAt returns the block in slot s.
func (r *minuteRing) blockAt(s int) hourBlock {
	md := r.meta[s]
	blk := hourBlock{wt: uint8(md >> 16), wz: uint8(md >> 24)}
	if !blk.empty() {
		blk.words = r.data[md&0xffff:]
	}
	return blk
}

func (h hourBlock) empty() bool { return h.wt|h.wz == 0 }

// get returns the good and total counts of minute k of the hour.
func (h hourBlock) get(k int) (good, total uint64) {
	if h.empty() {
		return 0, 0
	}
	total = getBits(h.words, k, h.wt)
	z := getBitsAt(h.words, 60*uint(h.wt)+uint(k)*uint(h.wz), h.wz)
	d := int64(z>>1) ^ -int64(z&1)
	return uint64(int64(total) - d), total
}

// set stores the good and total counts (32-bit) of minute m.
func (r *minuteRing) set(m int64, good, total uint64) {
	s, k := r.slot(m)
	r.setAt(s, k, good, total)
}

// setAt stores the good and total counts (32-bit) of minute k of slot s.
func (r *minuteRing) setAt(s, k int, good, total uint64) {
	d := int64(total) - int64(good)
	z := uint64(d<<1 ^ d>>63)
	md := r.meta[s]
	wt, wz := uint8(md>>16), uint8(md>>24)
	if total>>wt != 0 || z>>wz != 0 {
		r.resize(s, max(wt, packWidth(total)), max(wz, packWidth(z)))
		md = r.meta[s]
		wt, wz = uint8(md>>16), uint8(md>>24)
	}
	blk := r.data[md&0xffff:]
	setBits(blk, k, wt, total)
	setBitsAt(blk, 60*uint(wt)+uint(k)*uint(wz), wz, z)
}

// release narrows slot s's block to nothing; its counts must be 0.
func (r *minuteRing) release(m int64) {
	s, _ := r.slot(m)
	if r.meta[s]>>16 != 0 {
		r.resize(s, 0, 0)
	}
}

// resize re-packs slot s's block in the widths wt and wz.
func (r *minuteRing) resize(s int, wt, wz uint8) {
	md := r.meta[s]
	owt, owz := uint8(md>>16), uint8(md>>24)
	off := int(md & 0xffff)
	ol, nl := blockWords(owt, owz), blockWords(wt, wz)
	var tot, zz [60]uint64
	if owt|owz != 0 {
		blk := r.data[off:]
		for k := range 60 {
			tot[k] = getBits(blk, k, owt)
			zz[k] = getBitsAt(blk, 60*uint(owt)+uint(k)*uint(owz), owz)
		}
	}
	n := len(r.data) + nl - ol
	if n > cap(r.data) {
		nd := make([]uint64, n, n+n/8+16)
		copy(nd, r.data[:off])
		copy(nd[off+nl:], r.data[off+ol:])
		r.data = nd
	} else {
		old := len(r.data)
		r.data = r.data[:max(n, old)]
		copy(r.data[off+nl:], r.data[off+ol:old])
		r.data = r.data[:n]
	}
	blk := r.data[off : off+nl]
	clear(blk)
	for k := range 60 {
		setBits(blk, k, wt, tot[k])
		setBitsAt(blk, 60*uint(wt)+uint(k)*uint(wz), wz, zz[k])
	}
	r.meta[s] = uint32(off) | uint32(wt)<<16 | uint32(wz)<<24
	for j := s + 1; j < len(r.meta); j++ {
		r.meta[j] = uint32(int(r.meta[j]&0xffff)+nl-ol) | r.meta[j]&^0xffff
	}
}

// reset sets every minute to 0 and releases the blocks.
func (r *minuteRing) reset() {
	r.data = r.data[:0]
	clear(r.meta)
}

// bytes returns the bytes the ring's counts take.
func (r *minuteRing) bytes() int { return 8*cap(r.data) + 4*len(r.meta) }

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
func (p *packed) bytes() int { return 8 * cap(p.words) }

// bytes returns the bytes the counts of b take (its rings and units).
func (b *buckets) bytes() int {
	return b.ring.bytes() + 8*cap(b.excl) + b.hsum.bytes() + b.units.bytes() + b.unitsBad.bytes() + b.sl.bytes()
}
