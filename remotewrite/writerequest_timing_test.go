package remotewrite

import (
	"fmt"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkDecodeScan measures decompression plus scanning of a realistic
// 10,000-sample request (one sample per series, as vmagent sends scrapes)
// with 1% and 10% ingress SLI series. ns/sample is the figure that matters.
func BenchmarkDecodeScan(b *testing.B) {
	for _, pct := range []int{0, 1, 10} {
		data := AppendWriteRequest(nil, benchSeries(10_000, pct))
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
		bodies := []struct {
			name string
			e    Encoding
			body []byte
		}{
			{"snappy", Snappy, snappy.Encode(nil, data)},
			{"zstd", Zstd, enc.EncodeAll(data, nil)},
			{"scan-only", Snappy, nil},
		}
		for _, bb := range bodies {
			b.Run(fmt.Sprintf("sli=%d%%/%s", pct, bb.name), func(b *testing.B) {
				d, _ := NewDecompressor(64 << 20)
				keep := func(name []byte) bool { return string(name) == "nginx_ingress_controller_requests" }
				var wr WriteRequest
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					buf := data
					if bb.body != nil {
						var err error
						wr.Buf, err = d.Decompress(wr.Buf, bb.body, bb.e)
						if err != nil {
							b.Fatal(err)
						}
						buf = wr.Buf
					}
					if err := wr.Unmarshal(buf, keep, Limits{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/sample")
			})
		}
	}
}

// BenchmarkAppendWriteRequest measures encoding synthetic series.
func BenchmarkAppendWriteRequest(b *testing.B) {
	series := benchSeries(1000, 100)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendWriteRequest(dst[:0], series)
	}
	b.SetBytes(int64(len(dst)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/series")
}

// BenchmarkScanLazy measures the lazy scan (as the write path runs it) of
// decompressed 10,000-sample requests with 1% and 33% ingress SLI series;
// the 33% row reports ns/SLI-sample, the difference per additional SLI
// series, once the 1% row ran:
//
//	go test -run '^$' -bench BenchmarkScanLazy -benchmem ./remotewrite
func BenchmarkScanLazy(b *testing.B) {
	var base float64 // ns/sample at 1%
	for _, pct := range []int{1, 33} {
		data := AppendWriteRequest(nil, benchSeries(10_000, pct))
		b.Run(fmt.Sprintf("sli=%d%%", pct), func(b *testing.B) {
			keep := func(name []byte) bool { return string(name) == "nginx_ingress_controller_requests" }
			wr := WriteRequest{Lazy: true}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := wr.Unmarshal(data, keep, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 10_000
			b.ReportMetric(ns, "ns/sample")
			if pct == 1 {
				base = ns
			} else if base > 0 {
				sli := float64(len(wr.Series)) / 10_000
				b.ReportMetric((ns-base)/(sli-0.01), "ns/SLI-sample")
			}
		})
	}
}
