package main

import (
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Encoding is the request body's compression, as the senders use it.
type Encoding string

// The two remote write encodings slogate accepts.
const (
	// Snappy is Prometheus remote write (Content-Encoding: snappy).
	Snappy Encoding = "snappy"
	// Zstd is the VictoriaMetrics remote write protocol
	// (Content-Encoding: zstd), as vmagent sends it by default.
	Zstd Encoding = "zstd"
)

// ParseEncoding accepts "snappy" or "zstd".
func ParseEncoding(s string) (Encoding, error) {
	switch Encoding(s) {
	case Snappy, Zstd:
		return Encoding(s), nil
	}
	return "", fmt.Errorf("cannot use encoding %q: want snappy or zstd", s)
}

// Bodies makes compressed request bodies of a Payload. The generator must be
// cheap, or the load generator and not the process under test sets the
// pace, so:
//   - snappy: every block is compressed once, with the changing sample bytes
//     kept as literals; a request is a copy of that template with its
//     samples patched in place (about 20 us for 10,000 samples);
//   - zstd: the protobuf template is patched and compressed for every request
//     at the level vmagent uses (level 0 = SpeedFastest, no CRC), because
//     zstd literals are entropy coded and cannot be patched.
//
// Bodies is safe for concurrent use; every worker uses its own BodyBuffer.
type Bodies struct {
	p        *Payload
	enc      Encoding
	snappy   [][]byte // per block, the compressed template
	snapOffs [][]int  // per block, per sample, offset of its value in snappy[b]
	zstd     *zstd.Encoder
}

// NewBodies prepares the templates of p for enc.
func NewBodies(p *Payload, enc Encoding) (*Bodies, error) {
	bs := &Bodies{p: p, enc: enc}
	switch enc {
	case Snappy:
		for b := range p.blocks {
			offs := make([]int, len(p.vars[b]))
			for i, v := range p.vars[b] {
				offs[i] = v.off
			}
			c, coffs, err := encodeSnappyTemplate(p.blocks[b], offs)
			if err != nil {
				return nil, fmt.Errorf("cannot build snappy template of block %d: %w", b, err)
			}
			bs.snappy = append(bs.snappy, c)
			bs.snapOffs = append(bs.snapOffs, coffs)
		}
	case Zstd:
		// vmagent: lib/encoding/zstd with -remoteWrite.vmProtoCompressLevel=0,
		// which klauspost maps to SpeedFastest, CRC off.
		z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("cannot create zstd encoder: %w", err)
		}
		bs.zstd = z
	default:
		return nil, fmt.Errorf("cannot make bodies: unknown encoding %q", enc)
	}
	return bs, nil
}

// BodyBuffer is one worker's scratch space.
type BodyBuffer struct {
	raw []byte
	out []byte
}

// Encode returns the compressed body of block b in round round. It is valid
// until the next Encode with the same buf.
func (bs *Bodies) Encode(buf *BodyBuffer, b int, round int64) ([]byte, error) {
	if bs.enc == Snappy {
		buf.out = append(buf.out[:0], bs.snappy[b]...)
		if err := bs.p.patch(buf.out, b, round, bs.snapOffs[b]); err != nil {
			return nil, err
		}
		return buf.out, nil
	}
	var err error
	if buf.raw, err = bs.p.AppendBlock(buf.raw[:0], b, round); err != nil {
		return nil, err
	}
	buf.out = bs.zstd.EncodeAll(buf.raw, buf.out[:0])
	return buf.out, nil
}

// encodeSnappyTemplate compresses src into a snappy block (the format of
// github.com/golang/snappy Encode) in which each region [v, v+varLen) for v
// in vars (ascending) is stored as literal bytes and is never the source
// of a copy, so that rewriting those bytes in the output yields a valid
// block of the rewritten input. It returns the block and where each region
// landed in it.
//
// Snappy block format (https://github.com/google/snappy/blob/main/format_description.txt):
//
//	uvarint(decoded length) then elements; the low 2 bits of a tag byte are
//	00 literal: length-1 in the upper 6 bits if < 60, else 60..63 = the
//	   length-1 follows in 1..4 little-endian bytes; then the bytes
//	01 copy, 1-byte offset: length-4 in bits 2..4 (4..11), offset bits
//	   8..10 in bits 5..7, then the low offset byte
//	10 copy, 2-byte offset: length-1 in the upper 6 bits (1..64), then a
//	   little-endian uint16 offset
func encodeSnappyTemplate(src []byte, vars []int) ([]byte, []int, error) {
	isVar := make([]bool, len(src))
	for i, v := range vars {
		if v < 0 || v+varLen > len(src) || (i > 0 && v < vars[i-1]+varLen) {
			return nil, nil, fmt.Errorf("variable region %d at %d is out of order or out of range", i, v)
		}
		for k := v; k < v+varLen; k++ {
			isVar[k] = true
		}
	}
	static4 := func(p int) bool {
		return p+4 <= len(src) && !isVar[p] && !isVar[p+1] && !isVar[p+2] && !isVar[p+3]
	}
	const tableBits = 16
	var table [1 << tableBits]int32 // position+1 of the last 4 bytes with this hash
	hash := func(p int) uint32 {
		return (binary.LittleEndian.Uint32(src[p:]) * 0x1e35a7bd) >> (32 - tableBits)
	}

	dst := binary.AppendUvarint(make([]byte, 0, len(src)/2), uint64(len(src)))
	offs := make([]int, 0, len(vars))
	vi := 0
	emitLiteral := func(a, b int) {
		if a == b {
			return
		}
		n := uint32(b - a - 1)
		switch {
		case n < 60:
			dst = append(dst, byte(n)<<2)
		case n < 1<<8:
			dst = append(dst, 60<<2, byte(n))
		case n < 1<<16:
			dst = append(dst, 61<<2, byte(n), byte(n>>8))
		case n < 1<<24:
			dst = append(dst, 62<<2, byte(n), byte(n>>8), byte(n>>16))
		default:
			dst = append(dst, 63<<2, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
		}
		for vi < len(vars) && vars[vi] < b {
			offs = append(offs, len(dst)+vars[vi]-a)
			vi++
		}
		dst = append(dst, src[a:b]...)
	}
	emitCopy := func(offset, length int) {
		for length > 0 {
			l := min(length, 64)
			if l >= 4 && l <= 11 && offset < 2048 {
				dst = append(dst, byte(offset>>8)<<5|byte(l-4)<<2|0x01, byte(offset))
			} else {
				dst = append(dst, byte(l-1)<<2|0x02, byte(offset), byte(offset>>8))
			}
			length -= l
		}
	}

	lit := 0
	for p := 0; p < len(src); {
		if static4(p) {
			h := hash(p)
			c := int(table[h]) - 1
			table[h] = int32(p + 1)
			if c >= 0 && p-c < 1<<16 && static4(c) &&
				binary.LittleEndian.Uint32(src[c:]) == binary.LittleEndian.Uint32(src[p:]) {
				l := 4
				for p+l < len(src) && !isVar[p+l] && !isVar[c+l] && src[c+l] == src[p+l] {
					l++
				}
				emitLiteral(lit, p)
				emitCopy(p-c, l)
				p += l
				lit = p
				continue
			}
		}
		p++
	}
	emitLiteral(lit, len(src))
	if len(offs) != len(vars) {
		return nil, nil, fmt.Errorf("BUG: placed %d of %d variable regions", len(offs), len(vars))
	}
	return dst, offs, nil
}
