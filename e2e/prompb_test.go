package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/slogate/slogate/internal/testenv"
)

// A hand-written encoder of the Prometheus remote-write request, so these
// tests do not depend on the code under test to build their input:
//
//	message WriteRequest { repeated TimeSeries timeseries = 1; }
//	message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	message Label        { string name = 1; string value = 2; }
//	message Sample       { double value = 1; int64 timestamp = 2; }

// writeSeries is one series of a WriteRequest.
type writeSeries struct {
	labels     map[string]string // includes "__name__"
	values     []float64
	timestamps []int64 // milliseconds
}

// marshalWriteRequest appends the protobuf encoding of series to dst.
func marshalWriteRequest(dst []byte, series []writeSeries) []byte {
	for _, s := range series {
		var ts []byte
		names := make([]string, 0, len(s.labels))
		for k := range s.labels {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			var l []byte
			l = appendBytesField(l, 1, []byte(k))
			l = appendBytesField(l, 2, []byte(s.labels[k]))
			ts = appendBytesField(ts, 1, l)
		}
		for i, v := range s.values {
			var smp []byte
			smp = binary.AppendUvarint(smp, 1<<3|1) // field 1, fixed64
			smp = binary.LittleEndian.AppendUint64(smp, math.Float64bits(v))
			smp = binary.AppendUvarint(smp, 2<<3) // field 2, wire type 0 (varint)
			smp = binary.AppendUvarint(smp, uint64(s.timestamps[i]))
			ts = appendBytesField(ts, 2, smp)
		}
		dst = appendBytesField(dst, 1, ts)
	}
	return dst
}

// appendBytesField appends a length-delimited field (wire type 2).
func appendBytesField(dst []byte, field int, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(field)<<3|2)
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func snappyEncode(b []byte) []byte { return snappy.Encode(nil, b) }

func zstdEncode(t *testing.T, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatalf("cannot create zstd encoder: %s", err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// postWrite sends body to url with the given Content-Encoding (none when
// empty) and returns the status, the Retry-After header and the body; a
// transport error fails the test.
func postWrite(t *testing.T, method, url, encoding string, body []byte) (status int, retryAfter string, respBody string) {
	t.Helper()
	status, retryAfter, respBody, err := tryWrite(method, url, encoding, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, retryAfter, respBody
}

// tryWrite is postWrite returning transport errors. It sends what vmagent
// sends: a plain POST with Content-Length and no Expect: 100-continue.
func tryWrite(method, url, encoding string, body []byte) (status int, retryAfter string, respBody string, err error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", "", fmt.Errorf("cannot create request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	switch encoding {
	case "snappy":
		req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	case "zstd":
		req.Header.Set("X-VictoriaMetrics-Remote-Write-Version", "1")
	}
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		return 0, "", "", fmt.Errorf("cannot %s %s (Content-Encoding %q, %d bytes): %w", method, url, encoding, len(body), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", "", fmt.Errorf("cannot read response of %s %s: %w", method, url, err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b), nil
}

// checkOneLineReason fails unless body is a non-empty single line (an
// optional trailing newline allowed): the contract for every 4xx/5xx answer.
func checkOneLineReason(t *testing.T, what, body string) {
	t.Helper()
	reason := strings.TrimSuffix(body, "\n")
	if strings.TrimSpace(reason) == "" || strings.Contains(reason, "\n") {
		t.Errorf("%s: want a one-line reason, got %q", what, body)
	}
}

// uniqueSeries returns one series named name with a single sample.
func uniqueSeries(name string, value float64, ts int64) []writeSeries {
	return []writeSeries{{
		labels:     map[string]string{"__name__": name, "e2e": "hostile"},
		values:     []float64{value},
		timestamps: []int64{ts},
	}}
}

// describeSize formats a byte count for messages: "9.4 MiB", "21.9 KiB".
func describeSize(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
