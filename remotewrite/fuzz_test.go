package remotewrite

import (
	"bytes"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// FuzzUnmarshal feeds arbitrary bytes to the scanner. It must never panic,
// and whatever it keeps must encode back to a request that scans to the same
// series.
func FuzzUnmarshal(f *testing.F) {
	f.Add(AppendWriteRequest(nil, testSeries()))
	f.Add(AppendWriteRequest(nil, benchSeries(20, 10)))
	f.Add([]byte{0x0a, 0x10, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var wr WriteRequest
		if err := wr.Unmarshal(data, func([]byte) bool { return true }, Limits{}); err != nil {
			return
		}
		again := AppendWriteRequest(nil, wr.Series)
		var wr2 WriteRequest
		if err := wr2.Unmarshal(again, func([]byte) bool { return true }, Limits{}); err != nil {
			t.Fatalf("re-encoded request does not scan: %s", err)
		}
		if len(wr2.Series) != len(wr.Series) {
			t.Fatalf("re-encoded request has %d series, want %d", len(wr2.Series), len(wr.Series))
		}
	})
}

// FuzzDecompress feeds arbitrary bodies to both decompressors: no panic, and
// never more output than the limit.
func FuzzDecompress(f *testing.F) {
	plain := AppendWriteRequest(nil, testSeries())
	f.Add(snappy.Encode(nil, plain), false)
	enc, _ := zstd.NewWriter(nil)
	f.Add(enc.EncodeAll(plain, nil), true)
	f.Add(snappy.Encode(nil, bytes.Repeat([]byte{0}, 1<<17)), false)
	d, err := NewDecompressor(64 << 10)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, isZstd bool) {
		e := Snappy
		if isZstd {
			e = Zstd
		}
		out, err := d.Decompress(nil, body, e)
		if err == nil && len(out) > d.MaxSize() {
			t.Fatalf("decompressed %d bytes, over the limit %d", len(out), d.MaxSize())
		}
	})
}
