package proxy

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/slogate/slogate/remotewrite"
)

func reservedForTest(name []byte) bool { return bytes.HasPrefix(name, []byte("slo_")) }

// TestWriteDropsReservedSeries: a write holding series with reserved names
// reaches the upstream without them (snappy, whatever it came in), the
// others unchanged; the engine counts only what was forwarded.
func TestWriteDropsReservedSeries(t *testing.T) {
	raw := remotewrite.AppendWriteRequest(nil, []remotewrite.TimeSeries{
		{Labels: []remotewrite.Label{{Name: "__name__", Value: "slo_requests_total"}, {Name: "result", Value: "bad"}}, Samples: []remotewrite.Sample{{Value: 999999999, Timestamp: 1000}}},
		{Labels: []remotewrite.Label{{Name: "__name__", Value: "sli_total"}, {Name: "code", Value: "500"}}, Samples: []remotewrite.Sample{{Value: 3, Timestamp: 1000}}},
		{Labels: []remotewrite.Label{{Name: "__name__", Value: "sli_total"}, {Name: "__name__", Value: "slo_burn_rate"}}, Samples: []remotewrite.Sample{{Value: 3, Timestamp: 1000}}},
		{Labels: []remotewrite.Label{{Name: "__name__", Value: "other"}}, Samples: []remotewrite.Sample{{Value: 1, Timestamp: 1000}}},
	})
	enc, _ := zstd.NewWriter(nil)
	for _, c := range []struct {
		encoding string
		body     []byte
	}{{"snappy", snappy.Encode(nil, raw)}, {"zstd", enc.EncodeAll(raw, nil)}} {
		h := newHarnessConfig(t, time.Second, Config{Reserved: reservedForTest})
		code, body, _ := h.post(t, "/api/v1/write", c.encoding, c.body)
		if code != 204 {
			t.Fatalf("%s: got %d %q, want 204", c.encoding, code, body)
		}
		if h.up.heads[0] != "snappy" {
			t.Fatalf("%s: forwarded with Content-Encoding %q, want snappy", c.encoding, h.up.heads[0])
		}
		got, err := snappy.Decode(nil, h.up.bodies[0])
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		var wr remotewrite.WriteRequest
		if err := wr.Unmarshal(got, func(n []byte) bool { names = append(names, string(n)); return false }, remotewrite.Limits{}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(names, ",") != "sli_total,other" {
			t.Fatalf("%s: upstream got series %v, want sli_total,other", c.encoding, names)
		}
		if want := "0:0 __name__=sli_total code=500 3@1000"; len(h.rec.series) != 1 || h.rec.series[0] != want {
			t.Fatalf("%s: engine got %q, want %q", c.encoding, h.rec.series, want)
		}
		if n := h.srv.metrics.syntheticRefused.Get(); n != 2 {
			t.Fatalf("%s: slogate_write_synthetic_refused_total = %d, want 2", c.encoding, n)
		}
	}

	// Without a Reserved predicate (-write.allowSynthetic) the bytes pass.
	h := newHarness(t, time.Second)
	body := snappy.Encode(nil, raw)
	if code, _, _ := h.post(t, "/api/v1/write", "snappy", body); code != 204 || !bytes.Equal(h.up.bodies[0], body) {
		t.Fatalf("allowed: got %d and other bytes upstream", code)
	}
}

func TestAdminPathsRefused(t *testing.T) {
	h := newHarness(t, time.Second)
	h.up.status = 200
	for _, p := range []string{
		"/api/v1/admin/tsdb/delete_series?match[]=up",
		"/prometheus/api/v1/admin/tsdb/delete_series",
		"/select/0/prometheus/api/v1/admin/tsdb/delete_series",
		"/delete/0/prometheus/api/v1/admin/tsdb/delete_series",
		"/internal/force_merge", "/internal/force_flush", "/internal/resetRollupResultCache",
		"/snapshot/create", "/snapshot/delete_all", "/-/reload", "/admin/tenants", "/debug/pprof/profile",
		"/api/v1//admin/tsdb/delete_series", "/api/v1/x/../admin/tsdb/delete_series", "/%61pi/v1/admin/tsdb/delete_series",
	} {
		code, body, _ := h.post(t, p, "", nil)
		if code != 403 || !strings.Contains(body, "admin or internal path") {
			t.Errorf("%s: got %d %q, want 403", p, code, body)
		}
	}
	if len(h.up.paths) != 0 {
		t.Fatalf("refused paths reached the upstream: %v", h.up.paths)
	}
	for _, p := range []string{"/api/v1/query?query=up", "/api/v1/export", "/api/v1/import", "/api/v1/status/tsdb"} {
		if code, _, _ := h.post(t, p, "", nil); code != 200 {
			t.Errorf("%s: got %d, want it passed through", p, code)
		}
	}

	h = newHarnessConfig(t, time.Second, Config{AllowAdminPaths: true})
	h.up.status = 204
	if code, _, _ := h.post(t, "/api/v1/admin/tsdb/delete_series", "", nil); code != 204 || len(h.up.paths) != 1 {
		t.Fatalf("allowed admin path: got %d, upstream saw %v", code, h.up.paths)
	}
}

// TestKeepRemembersNames: within a write keep asks the engine once per
// metric name, answers as the engine does also for names that share a
// slot, flags a reserved name whatever came before it, and forgets the
// answers with the write.
func TestKeepRemembersNames(t *testing.T) {
	var asked []string
	ws := &writeState{
		wants:    func(n []byte) bool { asked = append(asked, string(n)); return string(n) == "sli" },
		reserved: reservedForTest,
	}
	// "sli" and "xli" differ in neither length nor the bytes nameSlot reads.
	if nameSlot([]byte("sli")) != nameSlot([]byte("xli")) {
		t.Fatal("the test's colliding names do not collide")
	}
	var got []bool
	for _, n := range []string{"sli", "node", "sli", "node", "other", "sli", "slo_x", "sli", "other", "xli", "sli", "node"} {
		got = append(got, ws.keep([]byte(n)))
	}
	want := []bool{true, false, true, false, false, true, false, true, false, false, true, false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keep answered %v, want %v", got, want)
	}
	// xli takes sli's slot, so sli is asked once more after it.
	if s := strings.Join(asked, ","); s != "sli,node,other,xli,sli" {
		t.Errorf("the engine was asked %s, want sli,node,other,xli,sli", s)
	}
	if !ws.forged {
		t.Error("a reserved name between remembered ones did not flag the write")
	}
	ws.reset()
	asked = nil
	ws.keep([]byte("node"))
	if len(asked) != 1 {
		t.Errorf("after a reset the engine was asked %v, want node again", asked)
	}
}
