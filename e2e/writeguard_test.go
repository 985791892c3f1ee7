package e2e

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// README "Limits and security": what the write guard refuses and what
// passes through, on the real VictoriaMetrics.

// rawSeries encodes one series with its labels in the order given (a name
// may repeat, which marshalWriteRequest's map cannot express).
func rawSeries(dst []byte, labels [][2]string, value float64, ts int64) []byte {
	var s []byte
	for _, l := range labels {
		var lb []byte
		lb = appendBytesField(lb, 1, []byte(l[0]))
		lb = appendBytesField(lb, 2, []byte(l[1]))
		s = appendBytesField(s, 1, lb)
	}
	var smp []byte
	smp = binary.AppendUvarint(smp, 1<<3|1)
	smp = binary.LittleEndian.AppendUint64(smp, math.Float64bits(value))
	smp = binary.AppendUvarint(smp, 2<<3)
	smp = binary.AppendUvarint(smp, uint64(ts))
	s = appendBytesField(s, 2, smp)
	return appendBytesField(dst, 1, s)
}

// guardSeries exports the series labelled e2e="guard", as sorted keys.
func guardSeries(t *testing.T, vm *testenv.VM) []string {
	t.Helper()
	var keys []string
	for _, s := range vm.Export(t, `{e2e="guard"}`) {
		keys = append(keys, s.Metric["__name__"])
	}
	sort.Strings(keys)
	return keys
}

// TestForgeryRefused reproduces the forgery of the issue: anyone who can
// write sends slo_requests_total{result="bad"} 999999999 (and Sloth's
// names, and a synthetic name hidden behind an innocent first __name__)
// through /api/v1/write, and calls VictoriaMetrics' admin API through the
// pass-through. With default flags the write is acknowledged, its other
// series land in VictoriaMetrics, the forged ones do not (counted in
// slogate_write_synthetic_refused_total), and every admin or internal path
// gets 403 while queries still pass. -write.allowSynthetic and
// -proxy.allowAdminPaths let both through, for chained setups.
func TestForgeryRefused(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL())
	now := time.Now().UnixMilli()
	var body []byte
	body = rawSeries(body, [][2]string{{"__name__", "slo_requests_total"}, {"e2e", "guard"}, {"result", "bad"}, {"route", "shop"}, {"slo", "availability"}}, 999999999, now)
	body = rawSeries(body, [][2]string{{"__name__", "slo:sli_error:ratio_rate5m"}, {"e2e", "guard"}, {"sloth_service", "shop"}}, 1, now)
	body = rawSeries(body, [][2]string{{"__name__", "e2e_guard_innocent"}, {"e2e", "guard"}, {"__name__", "slo_error_budget_remaining_ratio"}}, -100, now)
	body = rawSeries(body, [][2]string{{"__name__", "e2e_guard_ok"}, {"e2e", "guard"}}, 1, now)
	for _, enc := range []string{"snappy", "zstd"} {
		b := snappyEncode(body)
		if enc == "zstd" {
			b = zstdEncode(t, body)
		}
		if code, _, resp := postWrite(t, http.MethodPost, sg.URL+"/api/v1/write", enc, b); code != http.StatusNoContent {
			t.Fatalf("%s write with forged series: status %d, want 204: %s", enc, code, resp)
		}
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		if got := guardSeries(t, vm); strings.Join(got, ",") != "e2e_guard_ok" {
			return fmt.Errorf("VictoriaMetrics holds %v, want only e2e_guard_ok", got)
		}
		return nil
	})
	metrics := testenv.ScrapeMetrics(t, sg.URL+"/metrics")
	if n, _ := testenv.SumMetric(metrics, "slogate_write_synthetic_refused_total", nil); n != 6 {
		t.Errorf("slogate_write_synthetic_refused_total = %v, want 6 (3 forged series in each of 2 writes)", n)
	}

	// VictoriaMetrics' admin and internal paths: 403 from slogate, and the
	// data is still there.
	match := url.Values{"match[]": {`{e2e="guard"}`}}.Encode()
	for _, p := range []string{
		"/api/v1/admin/tsdb/delete_series?" + match,
		"/prometheus/api/v1/admin/tsdb/delete_series?" + match,
		"/api/v1//admin/tsdb/delete_series?" + match,
		"/internal/force_merge", "/internal/force_flush", "/internal/resetRollupResultCache",
		"/snapshot/create", "/snapshot/delete_all", "/-/reload", "/debug/pprof/heap",
	} {
		code, _, resp := postWrite(t, http.MethodPost, sg.URL+p, "", nil)
		if code != http.StatusForbidden {
			t.Errorf("POST %s through slogate: status %d, want 403: %s", p, code, firstLineOf(resp))
		}
		checkOneLineReason(t, p, resp)
	}
	if got := guardSeries(t, vm); strings.Join(got, ",") != "e2e_guard_ok" {
		t.Fatalf("after the refused deletes VictoriaMetrics holds %v, want e2e_guard_ok", got)
	}
	q := url.Values{"query": {`e2e_guard_ok{e2e="guard"}`}}.Encode()
	if code, resp, err := testenv.Get(sg.URL + "/api/v1/query?" + q); err != nil || code != 200 || !strings.Contains(string(resp), "e2e_guard_ok") {
		t.Errorf("a query through slogate: %d %v %s, want it passed through", code, err, resp)
	}
	metrics = testenv.ScrapeMetrics(t, sg.URL+"/metrics")
	if n, _ := testenv.SumMetric(metrics, "slogate_proxy_refused_total", map[string]string{"reason": "admin_path"}); n != 10 {
		t.Errorf(`slogate_proxy_refused_total{reason="admin_path"} = %v, want 10`, n)
	}

	// A chained slogate lets both through on purpose.
	chained := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-write.allowSynthetic", "-proxy.allowAdminPaths")
	if code, _, resp := postWrite(t, http.MethodPost, chained.URL+"/api/v1/write", "snappy", snappyEncode(body)); code != http.StatusNoContent {
		t.Fatalf("write through -write.allowSynthetic: status %d: %s", code, resp)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		// VictoriaMetrics names the hidden series after its last
		// __name__: the reason the guard reads every name label.
		want := "e2e_guard_ok,slo:sli_error:ratio_rate5m,slo_error_budget_remaining_ratio,slo_requests_total"
		if got := guardSeries(t, vm); strings.Join(got, ",") != want {
			return fmt.Errorf("with -write.allowSynthetic VictoriaMetrics holds %v, want %s", got, want)
		}
		return nil
	})
	if code, _, resp := postWrite(t, http.MethodPost, chained.URL+"/api/v1/admin/tsdb/delete_series?"+match, "", nil); code != http.StatusNoContent {
		t.Fatalf("delete_series through -proxy.allowAdminPaths: status %d, want VictoriaMetrics' 204: %s", code, resp)
	}
	if got := guardSeries(t, vm); len(got) != 0 {
		t.Fatalf("after delete_series through -proxy.allowAdminPaths VictoriaMetrics still holds %v", got)
	}
}
