package remotewrite

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"github.com/VictoriaMetrics/easyproto"
)

// The scanner against the libraries that could replace it, on the bodies of
// BenchmarkDecodeScan (10,000 series, one sample each, 1% and 10% ingress
// SLI series), without decompression:
//
//   - scan: WriteRequest.Unmarshal.
//   - easyproto-skip: the same algorithm (read __name__, walk the other
//     labels of an unwanted series only for a second name, decode a kept
//     one) on easyproto.FieldContext.
//   - easyproto-full: easyproto decoding every series' labels and samples,
//     then keeping the wanted ones.
//   - prompb: VictoriaMetrics' lib/prompb.WriteRequestUnmarshaler (pooled,
//     decodes everything), then keeping the wanted series.
//
// go test -run=XXX -bench=BenchmarkScanLibraries -benchmem -count=3 ./remotewrite

func BenchmarkScanLibraries(b *testing.B) {
	keep := keepName("nginx_ingress_controller_requests")
	for _, pct := range []int{1, 10} {
		data := AppendWriteRequest(nil, benchSeries(10_000, pct))
		run := func(name string, scan func(data []byte) (kept int)) {
			b.Run(fmt.Sprintf("sli=%d%%/%s", pct, name), func(b *testing.B) {
				if kept := scan(data); kept != 100*pct {
					b.Fatalf("kept %d series, want %d", kept, 100*pct)
				}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					scan(data)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/sample")
			})
		}
		var wr WriteRequest
		run("scan", func(data []byte) int {
			if err := wr.Unmarshal(data, keep, Limits{}); err != nil {
				b.Fatal(err)
			}
			return len(wr.Series)
		})
		run("easyproto-skip", func(data []byte) int {
			if err := unmarshalEasyproto(&wr, data, keep, Limits{}, true); err != nil {
				b.Fatal(err)
			}
			return len(wr.Series)
		})
		run("easyproto-full", func(data []byte) int {
			if err := unmarshalEasyproto(&wr, data, keep, Limits{}, false); err != nil {
				b.Fatal(err)
			}
			return len(wr.Series)
		})
		wru := prompb.GetWriteRequestUnmarshaler()
		run("prompb", func(data []byte) int {
			n, err := unmarshalPrompb(wru, &wr, data, keep)
			if err != nil {
				b.Fatal(err)
			}
			return n
		})
		prompb.PutWriteRequestUnmarshaler(wru)
	}
}

// TestScanLibrariesAgree checks that the benchmarked alternatives keep the
// same series as the scanner, so the comparison is like for like.
func TestScanLibrariesAgree(t *testing.T) {
	keep := keepName("nginx_ingress_controller_requests")
	for _, data := range [][]byte{AppendWriteRequest(nil, testSeries()), AppendWriteRequest(nil, benchSeries(1000, 10))} {
		var want, got WriteRequest
		if err := want.Unmarshal(data, keep, Limits{}); err != nil {
			t.Fatal(err)
		}
		for _, skip := range []bool{true, false} {
			if err := unmarshalEasyproto(&got, data, keep, Limits{}, skip); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Series) != fmt.Sprint(want.Series) || got.SeriesTotal != want.SeriesTotal {
				t.Fatalf("easyproto (skip=%v) keeps %v, the scanner %v", skip, got.Series, want.Series)
			}
		}
		wru := prompb.GetWriteRequestUnmarshaler()
		n, err := unmarshalPrompb(wru, &got, data, keep)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(want.Series) || fmt.Sprint(got.Series) != fmt.Sprint(want.Series) {
			t.Fatalf("prompb keeps %v, the scanner %v", got.Series, want.Series)
		}
		prompb.PutWriteRequestUnmarshaler(wru) // clears what got.Series aliases
	}
}

// unmarshalEasyproto fills wr as wr.Unmarshal does (without its fast paths
// and error detail), reading fields with easyproto. With skip, a series is
// left as soon as its name is not wanted; without, every series is decoded
// and the unwanted ones dropped afterwards.
func unmarshalEasyproto(wr *WriteRequest, src []byte, keep func([]byte) bool, lim Limits, skip bool) error {
	wr.Reset()
	lim.defaults()
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil {
			return malformed("WriteRequest", err.Error())
		}
		if fc.FieldNum != 1 {
			continue
		}
		msg, ok := fc.MessageData()
		if !ok {
			return malformed("WriteRequest", "timeseries is no message")
		}
		wr.SeriesTotal++
		if err := easyprotoSeries(wr, msg, keep, &lim, skip); err != nil {
			return err
		}
	}
	wr.fixSeries()
	return nil
}

func easyprotoSeries(wr *WriteRequest, msg []byte, keep func([]byte) bool, lim *Limits, skip bool) error {
	var fc easyproto.FieldContext
	if skip {
		var name []byte
		labels := 0
		refused := false
		for b := msg; len(b) > 0; {
			var err error
			if b, err = fc.NextField(b); err != nil {
				return malformed("TimeSeries", err.Error())
			}
			if fc.FieldNum != 1 {
				continue
			}
			labels++
			data, _ := fc.MessageData()
			k, v, err := easyprotoLabel(data)
			if err != nil {
				return err
			}
			if name != nil {
				// As the scan does: every further label VictoriaMetrics
				// could take for the name goes to keep.
				if (len(k) == 0 || string(k) == "__name__") && len(v) > 0 {
					keep(v)
				}
				continue
			}
			if string(k) == "__name__" {
				if name = v; name == nil {
					name = nameLabel[:0]
				}
				refused = !keep(name)
			}
		}
		if name == nil || refused {
			return nil
		}
		if labels > lim.MaxLabels {
			wr.Refused++
			return nil
		}
	}
	l0, s0 := len(wr.labels), len(wr.samples)
	var name []byte
	tooLong := false
	for b := msg; len(b) > 0; {
		var err error
		if b, err = fc.NextField(b); err != nil {
			return malformed("TimeSeries", err.Error())
		}
		switch fc.FieldNum {
		case 1:
			data, ok := fc.MessageData()
			if !ok {
				return malformed("TimeSeries", "label is no message")
			}
			k, v, err := easyprotoLabel(data)
			if err != nil {
				return err
			}
			if name == nil && string(k) == "__name__" {
				if name = v; name == nil {
					name = nameLabel[:0]
				}
			}
			tooLong = tooLong || len(k) > lim.MaxLabelLen || len(v) > lim.MaxLabelLen
			wr.labels = append(wr.labels, Label{Name: toString(k), Value: toString(v)})
		case 2:
			data, ok := fc.MessageData()
			if !ok {
				return malformed("TimeSeries", "sample is no message")
			}
			s, err := easyprotoSample(data)
			if err != nil {
				return err
			}
			wr.samples = append(wr.samples, s)
		}
	}
	wanted := name != nil && keep(name)
	if !wanted || len(wr.labels)-l0 > lim.MaxLabels || tooLong {
		if wanted {
			wr.Refused++
		}
		wr.labels = wr.labels[:l0]
		wr.samples = wr.samples[:s0]
		return nil
	}
	wr.Series = append(wr.Series, TimeSeries{
		Labels:  wr.labels[l0:len(wr.labels):len(wr.labels)],
		Samples: wr.samples[s0:len(wr.samples):len(wr.samples)],
	})
	return nil
}

func easyprotoLabel(src []byte) (name, value []byte, err error) {
	var fc easyproto.FieldContext
	for len(src) > 0 {
		if src, err = fc.NextField(src); err != nil {
			return nil, nil, malformed("Label", err.Error())
		}
		switch fc.FieldNum {
		case 1:
			name, _ = fc.Bytes()
		case 2:
			value, _ = fc.Bytes()
		}
	}
	return name, value, nil
}

func easyprotoSample(src []byte) (Sample, error) {
	var s Sample
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil {
			return s, malformed("Sample", err.Error())
		}
		switch fc.FieldNum {
		case 1:
			v, ok := fc.Double()
			if !ok {
				return s, malformed("Sample", "value is no double")
			}
			s.Value = v
		case 2:
			ts, ok := fc.Int64()
			if !ok {
				return s, malformed("Sample", "timestamp is no int64")
			}
			s.Timestamp = ts
		}
	}
	return s, nil
}

// unmarshalPrompb decodes src with VictoriaMetrics' pooled unmarshaler and
// puts the wanted series into wr.Series (aliasing the unmarshaler's labels
// and samples, which have the same layout as ours).
func unmarshalPrompb(wru *prompb.WriteRequestUnmarshaler, wr *WriteRequest, src []byte, keep func([]byte) bool) (int, error) {
	wr.Reset()
	req, err := wru.UnmarshalProtobuf(src)
	if err != nil {
		return 0, err
	}
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		wr.SeriesTotal++
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				if keep(unsafe.Slice(unsafe.StringData(l.Value), len(l.Value))) {
					wr.Series = append(wr.Series, TimeSeries{
						Labels:  unsafe.Slice((*Label)(unsafe.SliceData(ts.Labels)), len(ts.Labels)),
						Samples: unsafe.Slice((*Sample)(unsafe.SliceData(ts.Samples)), len(ts.Samples)),
					})
				}
				break
			}
		}
	}
	return len(wr.Series), nil
}
