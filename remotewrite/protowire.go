package remotewrite

// Wire primitives of the hand-written scanner; writerequest.go says why it
// is not easyproto.

import (
	"encoding/binary"
	"fmt"
)

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// readVarint decodes a base-128 varint. n is the number of bytes read; n <= 0
// means truncated or longer than 10 bytes.
func readVarint(b []byte) (v uint64, n int) {
	// The common case: one or two bytes.
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// readTag decodes a field tag into its field number and wire type.
func readTag(b []byte) (field uint64, wt uint8, n int) {
	v, n := readVarint(b)
	if n <= 0 {
		return 0, 0, n
	}
	return v >> 3, uint8(v & 7), n
}

// readBytes reads a length-delimited field and returns it and the rest.
func readBytes(b []byte) (v, rest []byte, err error) {
	l, n := readVarint(b)
	if n <= 0 {
		return nil, nil, fmt.Errorf("%w: bad length", ErrMalformed)
	}
	b = b[n:]
	if l > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%w: %w: length %d, %d bytes left", ErrMalformed, errTruncated, l, len(b))
	}
	return b[:l], b[l:], nil
}

// skipField skips a field's value of wire type wt.
func skipField(b []byte, wt uint8) ([]byte, error) {
	switch wt {
	case wireVarint:
		_, n := readVarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad varint", ErrMalformed)
		}
		return b[n:], nil
	case wireFixed64:
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: %w fixed64", ErrMalformed, errTruncated)
		}
		return b[8:], nil
	case wireBytes:
		_, rest, err := readBytes(b)
		return rest, err
	case wireFixed32:
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: %w fixed32", ErrMalformed, errTruncated)
		}
		return b[4:], nil
	}
	return nil, fmt.Errorf("%w: unsupported wire type %d", ErrMalformed, wt)
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// appendVarint appends v as a base-128 varint.
func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendTag(dst []byte, field uint64, wt uint8) []byte {
	return appendVarint(dst, field<<3|uint64(wt))
}
