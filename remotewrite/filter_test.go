package remotewrite

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestAppendWithout(t *testing.T) {
	in := testSeries()
	data := AppendWriteRequest(nil, in)
	// Metadata (field 3) before and after the series must survive.
	meta := []byte{0x1a, 0x01, 0x00}
	data = append(append(append([]byte(nil), meta...), data...), meta...)
	dropNginx := func(name []byte) bool { return string(name) == "nginx_ingress_controller_requests" }

	f := func(drop func([]byte) bool, wantDropped int, want []TimeSeries) {
		t.Helper()
		prefix := []byte("keep")
		out, n, err := AppendWithout(prefix, data, drop)
		if err != nil {
			t.Fatalf("unexpected error: %s", err)
		}
		if n != wantDropped {
			t.Fatalf("dropped %d series, want %d", n, wantDropped)
		}
		if !bytes.HasPrefix(out, prefix) || !bytes.HasPrefix(out[len(prefix):], meta) || !bytes.HasSuffix(out, meta) {
			t.Fatalf("dst prefix or metadata lost: %x", out)
		}
		var wr WriteRequest
		if err := wr.Unmarshal(out[len(prefix):], func([]byte) bool { return true }, Limits{}); err != nil {
			t.Fatalf("filtered request does not scan: %s", err)
		}
		if len(want) == 0 && len(wr.Series) == 0 {
			return
		}
		if !reflect.DeepEqual(wr.Series, want) {
			t.Fatalf("got\n%v\nwant\n%v", wr.Series, want)
		}
	}
	f(func([]byte) bool { return false }, 0, in)
	f(dropNginx, 2, []TimeSeries{in[1]})
	f(func(name []byte) bool { return string(name) == "go_goroutines" }, 1, []TimeSeries{in[0], in[2]})
	f(func([]byte) bool { return true }, 3, nil)

	// Nothing dropped: the output is the input, byte for byte.
	out, _, _ := AppendWithout(nil, data, func([]byte) bool { return false })
	if !bytes.Equal(out, data) {
		t.Fatal("nothing dropped, but the bytes changed")
	}
	// Truncated input: an error wrapping ErrMalformed, dst unchanged.
	out, _, err := AppendWithout([]byte("x"), data[:len(data)-10], dropNginx)
	if !errors.Is(err, ErrMalformed) || string(out) != "x" {
		t.Fatalf("truncated input: got %q, %v", out, err)
	}
}

// FuzzAppendWithout: no panic on any input, and whatever it returns scans
// and holds none of the dropped names.
func FuzzAppendWithout(f *testing.F) {
	f.Add(AppendWriteRequest(nil, testSeries()))
	f.Add(AppendWriteRequest(nil, benchSeries(20, 10)))
	f.Add([]byte{0x0a, 0x10, 0x01})
	drop := func(name []byte) bool { return len(name) > 0 && name[0] == 'n' }
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := AppendWithout(nil, data, drop)
		if err != nil {
			return
		}
		var wr WriteRequest
		if err := wr.Unmarshal(out, drop, Limits{}); err != nil {
			if wr.Unmarshal(data, drop, Limits{}) == nil {
				t.Fatalf("filtered request does not scan: %s", err)
			}
			return
		}
		if len(wr.Series) != 0 {
			t.Fatalf("filtered request still holds %d dropped series", len(wr.Series))
		}
	})
}

// TestSecondNameIsSeen: VictoriaMetrics names a series after its last
// non-empty __name__ (or empty-named) label, so a forger could hide a
// reserved name behind an innocent first one. Unmarshal shows keep every
// such name, and AppendWithout drops the series.
func TestSecondNameIsSeen(t *testing.T) {
	reserved := func(name []byte) bool { return string(name) == "slo_requests_total" }
	for _, labels := range [][]Label{
		{{Name: "__name__", Value: "up"}, {Name: "__name__", Value: "slo_requests_total"}},
		{{Name: "__name__", Value: ""}, {Name: "__name__", Value: "slo_requests_total"}},
		{{Name: "__name__", Value: "up"}, {Name: "", Value: "slo_requests_total"}},
		{{Name: "job", Value: "x"}, {Name: "", Value: "slo_requests_total"}},
		{{Name: "__name__", Value: "nginx_ingress_controller_requests"}, {Name: "host", Value: "h"}, {Name: "__name__", Value: "slo_requests_total"}},
	} {
		data := AppendWriteRequest(nil, []TimeSeries{{Labels: labels, Samples: []Sample{{Value: 1, Timestamp: 1}}}})
		seen := false
		var wr WriteRequest
		if err := wr.Unmarshal(data, func(name []byte) bool {
			seen = seen || reserved(name)
			return string(name) == "nginx_ingress_controller_requests"
		}, Limits{}); err != nil {
			t.Fatalf("%v: %s", labels, err)
		}
		if !seen {
			t.Errorf("%v: keep never saw the reserved name", labels)
		}
		out, n, err := AppendWithout(nil, data, reserved)
		if err != nil || n != 1 || len(out) != 0 {
			t.Errorf("%v: AppendWithout dropped %d series, left %d bytes, err %v; want the series dropped", labels, n, len(out), err)
		}
	}
}
