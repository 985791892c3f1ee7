package remotewrite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

func keepName(want string) func([]byte) bool {
	return func(name []byte) bool { return string(name) == want }
}

func testSeries() []TimeSeries {
	return []TimeSeries{
		{
			Labels:  []Label{{Name: "__name__", Value: "nginx_ingress_controller_requests"}, {Name: "host", Value: "shop.example.com"}, {Name: "status", Value: "503"}},
			Samples: []Sample{{Value: 12, Timestamp: 1_700_000_000_000}, {Value: 13.5, Timestamp: 1_700_000_015_000}},
		},
		{
			Labels:  []Label{{Name: "__name__", Value: "go_goroutines"}, {Name: "instance", Value: "a:9100"}},
			Samples: []Sample{{Value: 7, Timestamp: 1_700_000_000_000}},
		},
		{
			Labels:  []Label{{Name: "__name__", Value: "nginx_ingress_controller_requests"}, {Name: "empty", Value: ""}, {Name: "status", Value: "200"}},
			Samples: []Sample{{Value: math.Inf(1), Timestamp: -5}, {Value: 0, Timestamp: 0}},
		},
	}
}

func TestUnmarshalRoundTrip(t *testing.T) {
	in := testSeries()
	data := AppendWriteRequest(nil, in)
	var wr WriteRequest
	if err := wr.Unmarshal(data, keepName("nginx_ingress_controller_requests"), Limits{}); err != nil {
		t.Fatalf("unexpected error: %s", err)
	}
	if wr.SeriesTotal != 3 {
		t.Fatalf("got %d series, want 3", wr.SeriesTotal)
	}
	want := []TimeSeries{in[0], in[2]}
	if !reflect.DeepEqual(wr.Series, want) {
		t.Fatalf("got\n%v\nwant\n%v", wr.Series, want)
	}
	// Reuse must not leak the previous request's series.
	if err := wr.Unmarshal(data, keepName("go_goroutines"), Limits{}); err != nil {
		t.Fatalf("unexpected error: %s", err)
	}
	if !reflect.DeepEqual(wr.Series, []TimeSeries{in[1]}) {
		t.Fatalf("after reuse got %v", wr.Series)
	}
}

func TestUnmarshalSkipsUnknownFields(t *testing.T) {
	// A WriteRequest with metadata (field 3), and a TimeSeries with an
	// exemplar (field 3) and a varint field 9: all must be skipped.
	var ts []byte
	ts = appendTag(ts, 1, wireBytes)
	lbl := appendString(appendString(nil, 1, "__name__"), 2, "m")
	ts = appendVarint(ts, uint64(len(lbl)))
	ts = append(ts, lbl...)
	ts = appendTag(ts, 3, wireBytes)
	ts = appendVarint(ts, 2)
	ts = append(ts, 0x08, 0x01)
	ts = appendTag(ts, 9, wireVarint)
	ts = appendVarint(ts, 300)
	var req []byte
	req = appendTag(req, 3, wireBytes)
	req = appendVarint(req, 1)
	req = append(req, 0x00)
	req = appendTag(req, 1, wireBytes)
	req = appendVarint(req, uint64(len(ts)))
	req = append(req, ts...)
	var wr WriteRequest
	if err := wr.Unmarshal(req, keepName("m"), Limits{}); err != nil {
		t.Fatalf("unexpected error: %s", err)
	}
	if len(wr.Series) != 1 || wr.Series[0].Labels[0].Value != "m" || len(wr.Series[0].Samples) != 0 {
		t.Fatalf("unexpected series %v", wr.Series)
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	good := AppendWriteRequest(nil, testSeries())
	f := func(name string, data []byte) {
		t.Helper()
		var wr WriteRequest
		err := wr.Unmarshal(data, func([]byte) bool { return true }, Limits{})
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: want ErrMalformed, got %v", name, err)
		}
	}
	f("truncated", good[:len(good)-3])
	f("truncated in first series", good[:20])
	f("bad varint", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f("length past end", []byte{0x0a, 0x10, 0x01})
	f("wire type 3", []byte{0x0b})
	// A named series whose sample value is cut short.
	named := AppendWriteRequest(nil, []TimeSeries{{Labels: []Label{{Name: "__name__", Value: "m"}}}})
	bad := append([]byte{0x0a, named[1] + 4}, named[2:]...)
	f("bad sample value", append(bad, 0x12, 0x02, 0x09, 0x01))
	f("bad label", []byte{0x0a, 0x03, 0x0a, 0x01, 0x0b})
}

func TestUnmarshalLimits(t *testing.T) {
	f := func(name string, lim Limits, labels []Label, wantKept int) {
		t.Helper()
		data := AppendWriteRequest(nil, []TimeSeries{{Labels: labels, Samples: []Sample{{Value: 1, Timestamp: 1}}}})
		var wr WriteRequest
		if err := wr.Unmarshal(data, func([]byte) bool { return true }, lim); err != nil {
			t.Fatalf("%s: %s", name, err)
		}
		if len(wr.Series) != wantKept || wr.Refused != 1-wantKept {
			t.Fatalf("%s: kept %d refused %d, want kept %d", name, len(wr.Series), wr.Refused, wantKept)
		}
	}
	three := []Label{{Name: "__name__", Value: "m"}, {Name: "a", Value: "1"}, {Name: "b", Value: "2"}}
	f("within", Limits{MaxLabels: 3, MaxLabelLen: 8}, three, 1)
	f("too many labels", Limits{MaxLabels: 2}, three, 0)
	f("value too long", Limits{MaxLabelLen: 3}, []Label{{Name: "__name__", Value: "m"}, {Name: "a", Value: "long"}}, 0)
	f("name too long", Limits{MaxLabelLen: 3}, []Label{{Name: "__name__", Value: "m"}, {Name: "abcd", Value: "1"}}, 0)
}

func TestDecompress(t *testing.T) {
	d, err := NewDecompressor(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	plain := AppendWriteRequest(nil, testSeries())
	enc, _ := zstd.NewWriter(nil)
	zbody := enc.EncodeAll(plain, nil)
	f := func(name string, body []byte, e Encoding, want []byte, wantErr error) {
		t.Helper()
		got, err := d.Decompress(nil, body, e)
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s: want error %v, got %v", name, wantErr, err)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("%s: output differs", name)
		}
	}
	f("snappy", snappy.Encode(nil, plain), Snappy, plain, nil)
	f("zstd", zbody, Zstd, plain, nil)
	f("snappy garbage", []byte("\x20garbage that is no snappy block"), Snappy, nil, ErrMalformed)
	f("zstd garbage", []byte("garbage!"), Zstd, nil, ErrMalformed)
	f("snappy bomb", snappy.Encode(nil, make([]byte, 2<<20)), Snappy, nil, ErrTooLarge)
	f("zstd bomb", enc.EncodeAll(make([]byte, 2<<20), nil), Zstd, nil, ErrTooLarge)
	// A zstd frame that does not state its size must be stopped while decoding.
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
	for range 64 {
		_, _ = w.Write(make([]byte, 64<<10))
	}
	_ = w.Close()
	f("zstd stream bomb", buf.Bytes(), Zstd, nil, ErrTooLarge)
}

func TestParseEncoding(t *testing.T) {
	f := func(in string, want Encoding, wantErr error) {
		t.Helper()
		got, err := ParseEncoding([]byte(in))
		if !errors.Is(err, wantErr) || (err == nil && got != want) {
			t.Fatalf("%q: got %v, %v", in, got, err)
		}
	}
	f("", Snappy, nil)
	f("snappy", Snappy, nil)
	f("zstd", Zstd, nil)
	f("ZSTD", Zstd, nil)
	f("Snappy", Snappy, nil)
	f("gzip", 0, ErrUnsupportedEncoding)
}

func TestAllocationsScan(t *testing.T) {
	data := AppendWriteRequest(nil, benchSeries(1000, 10))
	var wr WriteRequest
	keep := func(name []byte) bool { return string(name) == "nginx_ingress_controller_requests" }
	_ = wr.Unmarshal(data, keep, Limits{}) // warm up the buffers
	n := testing.AllocsPerRun(100, func() {
		if err := wr.Unmarshal(data, keep, Limits{}); err != nil {
			panic(err)
		}
	})
	if n != 0 {
		t.Fatalf("scanning a request allocates %v times, want 0", n)
	}
	d, _ := NewDecompressor(64 << 20)
	body := snappy.Encode(nil, data)
	wr.Buf, _ = d.Decompress(wr.Buf, body, Snappy)
	n = testing.AllocsPerRun(100, func() {
		wr.Buf, _ = d.Decompress(wr.Buf, body, Snappy)
	})
	if n != 0 {
		t.Fatalf("decompressing snappy into a reused buffer allocates %v times, want 0", n)
	}
}

// benchSeries returns n series, each with one sample; every 100/sliPercent-th
// is an ingress-nginx SLI series, the others look like node exporter series.
func benchSeries(n, sliPercent int) []TimeSeries {
	out := make([]TimeSeries, n)
	for i := range out {
		if sliPercent > 0 && i%(100/sliPercent) == 0 {
			out[i].Labels = []Label{
				{Name: "__name__", Value: "nginx_ingress_controller_requests"}, {Name: "controller_class", Value: "k8s.io/ingress-nginx"},
				{Name: "controller_namespace", Value: "ingress-nginx"}, {Name: "controller_pod", Value: "ingress-nginx-controller-7d9f-x2x"},
				{Name: "host", Value: "shop.example.com"}, {Name: "ingress", Value: fmt.Sprintf("web-%d", i%50)}, {Name: "instance", Value: "10.0.0.1:10254"},
				{Name: "job", Value: "ingress-nginx"}, {Name: "method", Value: "GET"}, {Name: "namespace", Value: "shop"}, {Name: "path", Value: "/"},
				{Name: "service", Value: "web"}, {Name: "status", Value: "200"},
			}
		} else {
			out[i].Labels = []Label{
				{Name: "__name__", Value: "node_cpu_seconds_total"}, {Name: "cpu", Value: fmt.Sprint(i % 64)}, {Name: "instance", Value: "10.0.0.2:9100"},
				{Name: "job", Value: "node-exporter"}, {Name: "mode", Value: "idle"}, {Name: "node", Value: fmt.Sprintf("worker-%d", i%20)},
			}
		}
		out[i].Samples = []Sample{{Value: float64(i) * 1.5, Timestamp: 1_700_000_000_000 + int64(i)}}
	}
	return out
}

// TestFastSample: whatever the bytes, fastSample either declines or
// decodes what readSample decodes; it takes the form AppendWriteRequest
// writes, for timestamps of up to 9 varint bytes.
func TestFastSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, ts := range []int64{0, 1, 127, 128, 1_700_000_000_000, 1<<56 - 1, 1 << 62, -1} {
		smp := binary.LittleEndian.AppendUint64([]byte{0x09}, math.Float64bits(1.5))
		smp = appendVarint(append(smp, 0x10), uint64(ts))
		got, ok := fastSample(smp)
		if want := ts >= 0; ok != want {
			t.Errorf("timestamp %d: fastSample ok = %v, want %v", ts, ok, want)
		}
		if ok && (got.Value != 1.5 || got.Timestamp != ts) {
			t.Errorf("timestamp %d: fastSample got %+v", ts, got)
		}
	}
	buf := make([]byte, 20)
	for range 200_000 {
		b := buf[:11+rng.IntN(9)]
		for j := range b {
			b[j] = byte(rng.Uint32())
			if rng.IntN(2) == 0 {
				b[j] &= 0x7f
			}
		}
		b[0], b[9] = 0x09, 0x10
		got, ok := fastSample(b)
		if !ok {
			continue
		}
		want, err := readSample(b)
		if err != nil || math.Float64bits(got.Value) != math.Float64bits(want.Value) || got.Timestamp != want.Timestamp {
			t.Fatalf("% x: fastSample %+v, readSample %+v, %v", b, got, want, err)
		}
	}
}
