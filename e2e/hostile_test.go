package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/slogate/slogate/internal/testenv"
)

// bombSize is what the decompression bombs expand to.
const bombSize = 200 << 20

// maxPeakGrowth bounds how much slogate's peak resident memory may grow
// while it refuses one decompression bomb: twice the default decompressed
// size limit (64 MiB) plus slack, since a decoder growing its output by
// doubling may overshoot the limit once before it notices. Expanding the
// whole bomb would add at least bombSize (200 MiB).
const maxPeakGrowth = 150 << 20

// maxPeak bounds slogate's peak resident memory over the whole test.
const maxPeak = 300 << 20

// writePaths are the intercepted write paths a single-node upstream serves.
// /insert/<tenant>/prometheus/api/v1/write needs a cluster upstream and is
// tested where one runs.
var writePaths = []string{"/api/v1/write", "/prometheus/api/v1/write"}

// TestHostileBodies sends slogate bodies a broken or malicious sender could
// send and checks the exact status (400 undecodable, 413 too large, 415
// unknown encoding, 405 wrong method), a one-line reason, bounded memory,
// and that slogate still accepts and forwards a valid write afterwards.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL())
	now := time.Now().UnixMilli()

	// A warm-up write, so the peak-memory baseline includes a served request.
	if code, _, body := postWrite(t, http.MethodPost, sg.URL+"/api/v1/write", "snappy",
		snappyEncode(marshalWriteRequest(nil, uniqueSeries("e2e_hostile_warmup", 1, now)))); code != http.StatusNoContent {
		t.Fatalf("warm-up write: status %d, want 204: %s", code, body)
	}
	rssBefore, peakBefore := sg.MemoryStatus(t)

	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// Snappy garbage: a header declaring 4 KiB decoded (so no size limit is
	// involved) followed by random bytes that are not a valid snappy block.
	snappyGarbage := append([]byte{0x80, 0x20}, random(64<<10)...)
	valid := marshalWriteRequest(nil, []writeSeries{{
		labels:     map[string]string{"__name__": "e2e_truncated", "pad": string(bytes.Repeat([]byte("x"), 1000))},
		values:     []float64{1, 2, 3},
		timestamps: []int64{now - 2000, now - 1000, now},
	}})
	// Cut inside the only timeseries field: its declared length overruns the body.
	truncated := valid[:len(valid)/2]
	snappyValid := snappyEncode(valid)

	type hostile struct {
		name     string
		method   string
		encoding string
		body     []byte
		want     int
	}
	cases := []hostile{
		{"garbage snappy", http.MethodPost, "snappy", snappyGarbage, http.StatusBadRequest},
		{"garbage zstd", http.MethodPost, "zstd", random(64 << 10), http.StatusBadRequest},
		{"truncated protobuf snappy", http.MethodPost, "snappy", snappyEncode(truncated), http.StatusBadRequest},
		{"truncated protobuf zstd", http.MethodPost, "zstd", zstdEncode(t, truncated), http.StatusBadRequest},
		{"truncated snappy block", http.MethodPost, "snappy", snappyValid[:len(snappyValid)-10], http.StatusBadRequest},
		{"unknown encoding", http.MethodPost, "lz4", snappyValid, http.StatusUnsupportedMediaType},
		{"GET", http.MethodGet, "", nil, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, "snappy", snappyValid, http.StatusMethodNotAllowed},
	}
	for _, path := range writePaths {
		for _, c := range cases {
			code, _, body := postWrite(t, c.method, sg.URL+path, c.encoding, c.body)
			what := fmt.Sprintf("%s %s (%s, %d bytes)", c.name, path, c.method, len(c.body))
			if code != c.want {
				t.Errorf("%s: status %d, want %d: %q", what, code, c.want, firstLineOf(body))
			}
			checkOneLineReason(t, what, body)
		}
	}

	// Decompression bombs, built once and sent to one path: the size
	// checks do not depend on the path.
	bombs := []hostile{
		{"snappy bomb", http.MethodPost, "snappy", snappy.Encode(nil, make([]byte, bombSize)), http.StatusRequestEntityTooLarge},
		{"zstd bomb with content size", http.MethodPost, "zstd", zstdEncode(t, make([]byte, bombSize)), http.StatusRequestEntityTooLarge},
		{"zstd bomb streamed without content size", http.MethodPost, "zstd", zstdStreamZeros(t, bombSize), http.StatusRequestEntityTooLarge},
	}
	for _, c := range bombs {
		_, peakBefore := sg.MemoryStatus(t)
		code, _, body := postWrite(t, c.method, sg.URL+"/api/v1/write", c.encoding, c.body)
		_, peakAfter := sg.MemoryStatus(t)
		what := fmt.Sprintf("%s (%s compressed, %s decompressed)", c.name, describeSize(len(c.body)), describeSize(bombSize))
		if code != c.want {
			t.Errorf("%s: status %d, want %d: %q", what, code, c.want, firstLineOf(body))
		}
		checkOneLineReason(t, what, body)
		t.Logf("%s: slogate peak RSS %s -> %s", what, describeSize(int(peakBefore)), describeSize(int(peakAfter)))
		if peakAfter-peakBefore > maxPeakGrowth {
			t.Errorf("%s: slogate peak RSS grew by %s while refusing it, want at most %s",
				what, describeSize(int(peakAfter-peakBefore)), describeSize(maxPeakGrowth))
		}
	}
	rssAfter, peakAfter := sg.MemoryStatus(t)
	t.Logf("slogate memory over all hostile bodies: RSS %s -> %s, peak %s -> %s",
		describeSize(int(rssBefore)), describeSize(int(rssAfter)), describeSize(int(peakBefore)), describeSize(int(peakAfter)))
	if peakAfter > maxPeak {
		t.Errorf("slogate peak RSS reached %s, want at most %s", describeSize(int(peakAfter)), describeSize(maxPeak))
	}

	// slogate still works: valid writes in both encodings on both paths are
	// acknowledged and land in VictoriaMetrics.
	want := map[string]float64{}
	for i, path := range writePaths {
		for j, enc := range []string{"snappy", "zstd"} {
			name := fmt.Sprintf("e2e_after_hostile_%d_%s", i, enc)
			value := float64(10*i + j + 1)
			raw := marshalWriteRequest(nil, uniqueSeries(name, value, now))
			body := snappyEncode(raw)
			if enc == "zstd" {
				body = zstdEncode(t, raw)
			}
			code, _, resp := postWrite(t, http.MethodPost, sg.URL+path, enc, body)
			if code != http.StatusNoContent {
				t.Fatalf("valid %s write to %s after hostile bodies: status %d, want 204: %q", enc, path, code, firstLineOf(resp))
			}
			want[name] = value
		}
	}
	// VictoriaMetrics makes a new series searchable shortly after it
	// accepted it, also after a flush: poll until every one is there.
	testenv.Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		for name, value := range want {
			got := vm.Export(t, name)
			if len(got) != 1 || len(got[0].Values) != 1 || got[0].Values[0] != value || got[0].Timestamps[0] != now {
				return fmt.Errorf("series %s in VictoriaMetrics: %+v, want one sample %v at %d", name, got, value, now)
			}
		}
		return nil
	})
	if got := vm.Export(t, `{__name__=~"e2e_truncated|e2e_after_hostile_.*"}`); len(got) != len(want) {
		t.Errorf("VictoriaMetrics holds %d e2e series, want %d (nothing from rejected bodies): %+v", len(got), len(want), got)
	}
}

// TestCompressedBodyLimit checks -maxRequestBodySize applies to the body as
// sent: a 4 MiB body against a 1 MiB limit is refused with 413 before any
// decoding (random bytes would otherwise fail decoding with 400), and the
// sender actually receives that answer.
func TestCompressedBodyLimit(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	const limit = 1 << 20
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-maxRequestBodySize="+strconv.Itoa(limit))
	rng := rand.New(rand.NewPCG(3, 4))
	body := make([]byte, 4*limit)
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	for _, enc := range []string{"snappy", "zstd"} {
		code, _, resp, err := tryWrite(http.MethodPost, sg.URL+"/api/v1/write", enc, body)
		if err != nil {
			// A server that answers 413 and closes the connection while the
			// body is still arriving makes the kernel reset it, and the client
			// loses the answer: vmagent and Prometheus then see a network
			// error and retry the block forever instead of dropping it.
			t.Errorf("%s body of %s with -maxRequestBodySize=%d: no HTTP answer, want 413: %s", enc, describeSize(len(body)), limit, err)
			continue
		}
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s body of %s with -maxRequestBodySize=%d: status %d, want 413: %q", enc, describeSize(len(body)), limit, code, firstLineOf(resp))
		}
		checkOneLineReason(t, enc+" body over the limit", resp)
	}
	// A small valid write still passes on the same slogate.
	now := time.Now().UnixMilli()
	raw := marshalWriteRequest(nil, uniqueSeries("e2e_limit_ok", 7, now))
	if code, _, resp := postWrite(t, http.MethodPost, sg.URL+"/api/v1/write", "snappy", snappyEncode(raw)); code != http.StatusNoContent {
		t.Fatalf("valid write under the limit: status %d, want 204: %q", code, firstLineOf(resp))
	}
}

// zstdStreamZeros compresses n zero bytes with the streaming encoder, which
// writes no content size into the frame header: the decoder cannot know the
// size before it expands the data.
func zstdStreamZeros(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatalf("cannot create zstd encoder: %s", err)
	}
	chunk := make([]byte, 1<<20)
	for written := 0; written < n; written += len(chunk) {
		if _, err := enc.Write(chunk); err != nil {
			t.Fatalf("cannot compress zeros: %s", err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("cannot finish zstd stream: %s", err)
	}
	return buf.Bytes()
}

func firstLineOf(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
