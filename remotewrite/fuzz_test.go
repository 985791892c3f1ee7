package remotewrite

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

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

// FuzzDecompress feeds arbitrary bodies to both decompressors: no panic,
// never more output than the limit, and a snappy block that golang/snappy
// (the upstream's decoder) decodes within the limit decodes to the same
// bytes.
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
		if isZstd {
			return
		}
		if n, lenErr := snappy.DecodedLen(body); lenErr == nil && n <= d.MaxSize() {
			if want, wantErr := snappy.Decode(nil, body); wantErr == nil && (err != nil || !bytes.Equal(out, want)) {
				t.Fatalf("snappy decodes %d bytes; Decompress: %d bytes, %v", len(want), len(out), err)
			}
		}
	})
}

// FuzzUnmarshalLazy: a lazy scan keeps, refuses and fails exactly as the
// full scan does, and each kept series' name, samples and decoded labels
// are those of the full scan's series.
func FuzzUnmarshalLazy(f *testing.F) {
	f.Add(AppendWriteRequest(nil, testSeries()), false)
	f.Add(AppendWriteRequest(nil, benchSeries(20, 10)), true)
	f.Add([]byte{0x0a, 0x10, 0x01}, false)
	f.Fuzz(func(t *testing.T, data []byte, tight bool) {
		lim := Limits{}
		if tight {
			lim = Limits{MaxLabels: 4, MaxLabelLen: 12}
		}
		keep := func(name []byte) bool { return len(name)%3 != 1 }
		var full, lazy WriteRequest
		lazy.Lazy = true
		errFull := full.Unmarshal(data, keep, lim)
		// The second lazy scan knows the label fields the first checked
		// (known.go).
		for pass := range 2 {
			lazy.Reset()
			lazyPass(t, pass, data, keep, lim, &full, errFull, &lazy)
		}
	})
}

// lazyPass is FuzzUnmarshalLazy's check of one lazy scan of data.
func lazyPass(t *testing.T, pass int, data []byte, keep func([]byte) bool, lim Limits, full *WriteRequest, errFull error, lazy *WriteRequest) {
	t.Helper()
	errLazy := lazy.Unmarshal(data, keep, lim)
	if (errFull == nil) != (errLazy == nil) {
		t.Fatalf("pass %d: full scan: %v, lazy scan: %v", pass, errFull, errLazy)
	}
	if errFull != nil {
		return
	}
	if full.SeriesTotal != lazy.SeriesTotal || full.Refused != lazy.Refused || len(full.Series) != len(lazy.Series) {
		t.Fatalf("pass %d: full scan: %d series, %d refused, %d kept; lazy: %d, %d, %d", pass,
			full.SeriesTotal, full.Refused, len(full.Series), lazy.SeriesTotal, lazy.Refused, len(lazy.Series))
	}
	for i := range full.Series {
		want, got := &full.Series[i], &lazy.Series[i]
		if !got.Key.Lazy() || len(got.Labels) != 0 {
			t.Fatalf("lazy series %d: key set %v, %d labels", i, got.Key.Lazy(), len(got.Labels))
		}
		if labels := got.AppendLabels(nil); fmt.Sprint(labels) != fmt.Sprint(want.Labels) {
			t.Fatalf("lazy series %d decodes to %v, want %v", i, labels, want.Labels)
		}
		if fmt.Sprint(got.Samples) != fmt.Sprint(want.Samples) {
			t.Fatalf("lazy series %d has samples %v, want %v", i, got.Samples, want.Samples)
		}
		name := ""
		for _, l := range want.Labels {
			if l.Name == "__name__" {
				name = l.Value
				break
			}
		}
		if got.Key.Name != name {
			t.Fatalf("lazy series %d: name %q, want %q", i, got.Key.Name, name)
		}
		if prev := lazy.Series[max(i-1, 0)].Key.Name; i > 0 && name == prev && len(name) > 0 && unsafe.StringData(got.Key.Name) != unsafe.StringData(prev) {
			t.Fatalf("lazy series %d: name %q is not the previous series' string", i, name)
		}
		if raw := rawOf(got.Key.msg); got.Key.Raw != raw {
			t.Fatalf("lazy series %d: raw key %#x, want %#x", i, got.Key.Raw, raw)
		}
	}
}

// rawOf is SeriesKey.Raw by its definition: the hash of the label fields
// of a TimeSeries message, tags and lengths included, in order.
func rawOf(msg []byte) uint64 {
	var fields []byte
	for b := msg; len(b) > 0; {
		f := b
		field, wt, n := readTag(b)
		b, _ = skipField(b[n:], wt)
		if field == 1 && wt == wireBytes {
			fields = append(fields, f[:len(f)-len(b)]...)
		}
	}
	return rawHash(rawSeed, fields)
}

// TestLazyRawKey: a series keeps its raw key whether its label fields are
// contiguous (the fast path) or not, and another value changes it.
func TestLazyRawKey(t *testing.T) {
	key := func(body []byte) uint64 {
		t.Helper()
		wr := WriteRequest{Lazy: true}
		if err := wr.Unmarshal(body, func([]byte) bool { return true }, Limits{}); err != nil || len(wr.Series) != 1 {
			t.Fatalf("scan: %v, %d series", err, len(wr.Series))
		}
		return wr.Series[0].Key.Raw
	}
	series := func(status string) []TimeSeries {
		return []TimeSeries{{Labels: []Label{{Name: "__name__", Value: "m"}, {Name: "host", Value: "a"}, {Name: "status", Value: status}},
			Samples: []Sample{{Value: 1, Timestamp: 2}}}}
	}
	body := AppendWriteRequest(nil, series("200"))
	// The same series with its sample between the labels: field 1 of
	// the request is the TimeSeries, its fields are label, label, label,
	// sample.
	msg, _, err := readBytes(body[1:])
	if err != nil {
		t.Fatal(err)
	}
	var fields [][]byte
	for b := msg; len(b) > 0; {
		f := b
		_, wt, n := readTag(b)
		b, _ = skipField(b[n:], wt)
		fields = append(fields, f[:len(f)-len(b)])
	}
	if len(fields) != 4 {
		t.Fatalf("%d fields, want 4", len(fields))
	}
	gapped := bytes.Join([][]byte{fields[0], fields[3], fields[1], fields[2]}, nil)
	mixed := append([]byte{0x0a}, appendVarint(nil, uint64(len(gapped)))...)
	mixed = append(mixed, gapped...)
	if a, b := key(body), key(mixed); a != b || a != rawOf(msg) {
		t.Errorf("raw key %#x contiguous, %#x mixed, want %#x", a, b, rawOf(msg))
	}
	if key(body) == key(AppendWriteRequest(nil, series("503"))) {
		t.Error("another status value has the same raw key")
	}
}

// TestLazyNamesShared: kept series of one metric in a row share one name
// string (IngestWrite compares names of consecutive series), whatever
// series lie between them unkept; another metric starts another string.
func TestLazyNamesShared(t *testing.T) {
	series := func(name, host string) TimeSeries {
		return TimeSeries{Labels: []Label{{Name: "__name__", Value: name}, {Name: "host", Value: host}},
			Samples: []Sample{{Value: 1, Timestamp: 2}}}
	}
	body := AppendWriteRequest(nil, []TimeSeries{
		series("m", "a"), series("other", "a"), series("m", "b"), series("m", "c"), series("n", "a"), series("n", "b"),
	})
	wr := WriteRequest{Lazy: true}
	if err := wr.Unmarshal(body, func(name []byte) bool { return string(name) != "other" }, Limits{}); err != nil || len(wr.Series) != 5 {
		t.Fatalf("scan: %v, %d series, want 5", err, len(wr.Series))
	}
	p := func(i int) *byte { return unsafe.StringData(wr.Series[i].Key.Name) }
	if p(0) != p(1) || p(1) != p(2) || p(3) != p(4) {
		t.Error("series of one metric in a row do not share their name")
	}
	if p(2) == p(3) || wr.Series[3].Key.Name != "n" {
		t.Errorf("series of metric n: name %q, shared with m: %v", wr.Series[3].Key.Name, p(2) == p(3))
	}
}

// FuzzScanShortcuts: the scan's shortcuts (skipRefused for the fields of a
// refused series, asked for a run of one name) change nothing but speed.
// Full and lazy scans keep, refuse and fail as the scan without them does,
// and keep hears the same names.
func FuzzScanShortcuts(f *testing.F) {
	f.Add(AppendWriteRequest(nil, testSeries()), false)
	f.Add(AppendWriteRequest(nil, benchSeries(20, 10)), true)
	f.Add(AppendWriteRequest(nil, []TimeSeries{
		{Labels: []Label{{Name: "__name__", Value: "a"}, {Name: "", Value: "forged"}}, Samples: []Sample{{Value: 1, Timestamp: 2}}},
		{Labels: []Label{{Name: "__name__", Value: "a"}, {Name: "job", Value: "a"}, {Name: "__name__", Value: "nginx_x"}}},
	}), false)
	f.Fuzz(func(t *testing.T, data []byte, lazy bool) {
		scan := func(on bool) (WriteRequest, map[string]bool, error) {
			heard := map[string]bool{}
			keep := func(name []byte) bool {
				heard[string(name)] = true
				return len(name)%3 != 1
			}
			wr := WriteRequest{Lazy: lazy, reference: !on}
			err := wr.Unmarshal(data, keep, Limits{})
			return wr, heard, err
		}
		ref, refHeard, refErr := scan(false)
		got, gotHeard, gotErr := scan(true)
		if (refErr == nil) != (gotErr == nil) {
			t.Fatalf("without shortcuts: %v, with: %v", refErr, gotErr)
		}
		if fmt.Sprint(gotHeard) != fmt.Sprint(refHeard) {
			t.Fatalf("keep heard %v, want %v", gotHeard, refHeard)
		}
		if refErr != nil {
			return
		}
		if got.SeriesTotal != ref.SeriesTotal || got.Refused != ref.Refused || len(got.Series) != len(ref.Series) {
			t.Fatalf("with shortcuts: %d series, %d refused, %d kept; without: %d, %d, %d",
				got.SeriesTotal, got.Refused, len(got.Series), ref.SeriesTotal, ref.Refused, len(ref.Series))
		}
		for i := range ref.Series {
			w, g := &ref.Series[i], &got.Series[i]
			if g.Key.Name != w.Key.Name || g.Key.Raw != w.Key.Raw || fmt.Sprint(g.AppendLabels(nil)) != fmt.Sprint(w.AppendLabels(nil)) || fmt.Sprint(g.Samples) != fmt.Sprint(w.Samples) {
				t.Fatalf("series %d: %+v, want %+v", i, g, w)
			}
		}
	})
}
