package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
	"github.com/slogate/slogate/remotewrite"
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

// TestSlowSendersDoNotStarveWrites reproduces the slow-sender repro with
// default flags: 16 connections announce a 1 MB body and send one byte
// every 5 s (8 of them after a quick first 16 KiB, past what fasthttp
// reads before the handler). A normal write is still answered at once,
// and every slow sender gets a 503 with Retry-After (retried by senders),
// never a 413 (dropped), once -write.bodyReadTimeout (10s) has passed.
func TestSlowSendersDoNotStarveWrites(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL())
	addr := strings.TrimPrefix(sg.URL, "http://")
	const slow = 16
	type answer struct {
		status string
		after  time.Duration
	}
	answers := make(chan answer, slow)
	start := time.Now()
	for i := range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		head := "POST /api/v1/write HTTP/1.1\r\nHost: slogate\r\nContent-Encoding: snappy\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000000\r\n\r\n"
		if i%2 == 1 {
			head += strings.Repeat("x", 16<<10)
		}
		if _, err := c.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		go func() { // one byte every 5 s until slogate closes
			for {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(5 * time.Second)
			}
		}()
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			b, _ := io.ReadAll(io.LimitReader(c, 4096))
			answers <- answer{string(b), time.Since(start)}
		}()
	}
	// The normal write comes once the slow ones are waiting in slogate.
	testenv.Eventually(t, 20*time.Second, func() error {
		n, _ := testenv.SumMetric(testenv.ScrapeMetrics(t, sg.URL+"/metrics"), "slogate_write_body_bytes_inflight", nil)
		if n < 1000000 {
			return fmt.Errorf("%v body bytes reserved, want the slow bodies past 8 KiB", n)
		}
		return nil
	})
	now := time.Now().UnixMilli()
	t0 := time.Now()
	code, _, resp := postWrite(t, http.MethodPost, sg.URL+"/api/v1/write", "snappy",
		snappyEncode(marshalWriteRequest(nil, uniqueSeries("e2e_slow_normal", 1, now))))
	took := time.Since(t0)
	t.Logf("a normal write behind %d slow senders: %d after %s", slow, code, took)
	if code != http.StatusNoContent || took > 5*time.Second {
		t.Fatalf("a normal write behind %d slow senders: %d after %s, want 204 within 5s (the issue: 57s): %s", slow, code, took, resp)
	}
	for range slow {
		a := <-answers
		first, _, _ := strings.Cut(a.status, "\r\n")
		if !strings.HasPrefix(a.status, "HTTP/1.1 503") || !strings.Contains(a.status, "Retry-After:") {
			t.Errorf("slow sender answered %q after %s, want 503 with Retry-After", first, a.after)
		} else if a.after > 40*time.Second {
			t.Errorf("slow sender answered after %s, want about -write.bodyReadTimeout (10s)", a.after)
		}
	}
	metrics := testenv.ScrapeMetrics(t, sg.URL+"/metrics")
	pre, _ := testenv.SumMetric(metrics, "slogate_http_read_timeouts_total", nil)
	in, _ := testenv.SumMetric(metrics, "slogate_write_rejected_total", map[string]string{"reason": "read_timeout"})
	tooLarge, _ := testenv.SumMetric(metrics, "slogate_write_rejected_total", map[string]string{"reason": "too_large"})
	if pre != slow/2 || in != slow/2 || tooLarge != 0 {
		t.Errorf("read timeouts before the handler %v, in it %v, too_large %v; want %d, %d, 0", pre, in, tooLarge, slow/2, slow/2)
	}
	if n, _ := testenv.SumMetric(metrics, "slogate_write_body_bytes_inflight", nil); n != 0 {
		t.Errorf("%v body bytes still reserved after every slow sender was answered", n)
	}
}

// TestProxiedImportsBounded reproduces the pass-through repro with default
// flags: forty concurrent 30 MB /api/v1/import bodies. At most
// -proxy.maxConcurrentRequests (8) are held at once, in reused buffers, so
// slogate's peak memory grows by about 8 x 30 MB, not 40 x 30 MB (2 GB in
// the issue); every sender gets VictoriaMetrics' answer.
func TestProxiedImportsBounded(t *testing.T) {
	t.Parallel()
	// stalledAtVM stands for VictoriaMetrics' 400 "no forward progress
	// made": it timed out a body that slogate relayed too slowly.
	const stalledAtVM = -400
	vm := testenv.StartVM(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL())
	const n, size = 40, 30 << 20
	// One body of 120 JSON lines, each padded with a 256 KiB label
	// (VictoriaMetrics truncates it), sent by all: a whole 30 MB body for
	// slogate, little work for VictoriaMetrics or the test.
	const lines = 120
	var body []byte
	for j := range lines {
		head := fmt.Sprintf(`{"metric":{"__name__":"e2e_import","j":"%d","pad":"`, j)
		tail := fmt.Sprintf(`"},"values":[1],"timestamps":[%d]}`+"\n", time.Now().UnixMilli())
		body = append(body, head...)
		body = append(body, strings.Repeat("x", size/lines-len(head)-len(tail))...)
		body = append(body, tail...)
	}
	_, peakBefore := sg.MemoryStatus(t)
	codes := make(chan int, n)
	for i := range n {
		go func() {
			code, _, resp, err := tryWrite(http.MethodPost, sg.URL+"/api/v1/import", "", body)
			if err != nil {
				// slogate closed the connection of a body that did not
				// arrive within -write.bodyReadTimeout (a loaded machine):
				// counted below.
				t.Logf("import %d: %s", i, err)
			} else if code != http.StatusNoContent {
				t.Logf("import %d: %d %s", i, code, firstLineOf(resp))
				if code == http.StatusBadRequest && strings.Contains(string(resp), "no forward progress") {
					// VictoriaMetrics' own answer to a body that reached
					// it too slowly (a loaded machine): still its answer.
					code = stalledAtVM
				}
			}
			codes <- code
		}()
	}
	byCode := map[int]int{}
	for range n {
		byCode[<-codes]++
	}
	metrics := testenv.ScrapeMetrics(t, sg.URL+"/metrics")
	cut, _ := testenv.SumMetric(metrics, "slogate_proxy_refused_total", map[string]string{"reason": "read_timeout"})
	early, _ := testenv.SumMetric(metrics, "slogate_http_read_timeouts_total", nil)
	if byCode[0] > int(cut+early) {
		t.Errorf("%d imports failed in transport, but slogate cut only %v slow bodies", byCode[0], cut+early)
	}
	_, peakAfter := sg.MemoryStatus(t)
	growth := peakAfter - peakBefore
	t.Logf("%d concurrent %s imports: answers %v; slogate peak RSS %s -> %s", n, describeSize(size), byCode, describeSize(int(peakBefore)), describeSize(int(peakAfter)))
	if byCode[http.StatusServiceUnavailable]+byCode[http.StatusNoContent]+byCode[0]+byCode[stalledAtVM] != n || byCode[http.StatusNoContent] == 0 {
		t.Errorf("answers %v, want VictoriaMetrics' 204 (or its 400 for a stalled body, %d here), or slogate's 503 (0: connection cut after a read timeout)", byCode, stalledAtVM)
	}
	// 8 bodies at once in reused buffers, plus a quarter for the garbage
	// collector and 64 MiB for the rest (measured: 273 MiB).
	if limit := int64(8*size*5/4 + 64<<20); growth > limit {
		t.Errorf("slogate peak RSS grew by %s, want at most %s (8 bodies + 25%% + 64 MiB)", describeSize(int(growth)), describeSize(int(limit)))
	}
}

// TestRouteAndTenantCaps reproduces the unbounded growth of the issue
// (many tenants, each under its per-source route cap) on a real cluster,
// scaled down: 40 tenants x 1,000 routes against -sli.maxRoutes=20000 and
// -sli.maxTenants=30 (lowered from 100,000 and 1,000 so that the test stays
// short; the caps are the same code). The engine keeps exactly 20,000
// routes, counts the refusals by reason, memory stays within the
// documented per-route figure, and every write is still forwarded.
func TestRouteAndTenantCaps(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t)
	sg := testenv.StartSlogate(t, "-upstream.url="+cl.InsertURL(), "-upstream.readURL="+cl.SelectURL(), "-upstream.cluster",
		"-sli.maxRoutes=20000", "-sli.maxTenants=30")
	const tenants, routes = 40, 1000
	rssBefore, _ := sg.MemoryStatus(t)
	now := time.Now().UnixMilli()
	series := make([]remotewrite.TimeSeries, routes)
	var raw []byte
	for tn := 1; tn <= tenants; tn++ {
		for i := range series {
			series[i] = remotewrite.TimeSeries{
				Labels: []remotewrite.Label{
					{Name: "__name__", Value: "nginx_ingress_controller_requests"},
					{Name: "host", Value: fmt.Sprintf("h%d.example.com", i)},
					{Name: "ingress", Value: "web"}, {Name: "instance", Value: "10.0.0.1:10254"},
					{Name: "job", Value: "ingress-nginx"}, {Name: "namespace", Value: fmt.Sprintf("t%d", tn)},
					{Name: "path", Value: "/"}, {Name: "status", Value: "200"},
				},
				Samples: []remotewrite.Sample{{Value: 5, Timestamp: now}},
			}
		}
		raw = remotewrite.AppendWriteRequest(raw[:0], series)
		url := fmt.Sprintf("%s/insert/%d/prometheus/api/v1/write", sg.URL, tn)
		if code, _, resp := postWrite(t, http.MethodPost, url, "snappy", snappyEncode(raw)); code != http.StatusNoContent {
			t.Fatalf("tenant %d: status %d, want 204: %s", tn, code, resp)
		}
	}
	rssAfter, _ := sg.MemoryStatus(t)
	metrics := testenv.ScrapeMetrics(t, sg.URL+"/metrics")
	got := func(name string, labels map[string]string) float64 {
		v, _ := testenv.SumMetric(metrics, name, labels)
		return v
	}
	t.Logf("RSS %s -> %s for %v routes (%.1f KiB per route)", describeSize(int(rssBefore)), describeSize(int(rssAfter)),
		got("slogate_engine_routes", nil), float64(rssAfter-rssBefore)/1024/20000)
	if n := got("slogate_engine_routes", nil); n != 20000 {
		t.Errorf("slogate_engine_routes = %v, want the 20000 of -sli.maxRoutes", n)
	}
	// Tenants 21-30 fit the tenant cap but not the route cap; 31-40 fit
	// neither.
	if n := got("slogate_engine_routes_refused_total", map[string]string{"reason": "total_cap"}); n != 10*routes {
		t.Errorf(`slogate_engine_routes_refused_total{reason="total_cap"} = %v, want %d`, n, 10*routes)
	}
	if n := got("slogate_engine_routes_refused_total", map[string]string{"reason": "tenant_cap"}); n != 10*routes {
		t.Errorf(`slogate_engine_routes_refused_total{reason="tenant_cap"} = %v, want %d`, n, 10*routes)
	}
	if n := got("slogate_engine_routes_refused_total", map[string]string{"reason": "source_cap"}); n != 0 {
		t.Errorf(`slogate_engine_routes_refused_total{reason="source_cap"} = %v, want 0`, n)
	}
	// README: a route takes up to about 4 KiB (measured here: 1.9 KiB).
	if growth, limit := rssAfter-rssBefore, int64(20000*4<<10+32<<20); growth > limit {
		t.Errorf("RSS grew by %s for 20000 routes, want under %s (4 KiB a route + 32 MiB)", describeSize(int(growth)), describeSize(int(limit)))
	}
	// A refused tenant's data still reached VictoriaMetrics.
	testenv.Eventually(t, 30*time.Second, func() error {
		cl.ForceFlush(t)
		if n := len(cl.Export(t, "40", `{__name__="nginx_ingress_controller_requests"}`)); n != routes {
			return fmt.Errorf("tenant 40 has %d series in VictoriaMetrics, want %d", n, routes)
		}
		return nil
	})
}

// TestOperationsMetrics: snapshots and config reloads show in /metrics,
// successes and failures alike. The snapshot interval is shortened only so
// that the test need not wait 5 minutes for one.
func TestOperationsMetrics(t *testing.T) {
	t.Parallel()
	vm := testenv.StartVM(t)
	state := t.TempDir()
	cfg := testenv.WriteTemp(t, "slogate.yml", "presets: [ingress-nginx]\n")
	sg := testenv.StartSlogate(t, "-upstream.url="+vm.URL(), "-config="+cfg, "-stateDir="+state, "-snapshot.interval=1s")
	metric := func(name string) float64 {
		v, _ := testenv.SumMetric(testenv.ScrapeMetrics(t, sg.URL+"/metrics"), name, nil)
		return v
	}
	start := float64(time.Now().Unix())
	testenv.Eventually(t, 20*time.Second, func() error {
		if v := metric("slogate_snapshot_last_success_timestamp_seconds"); v < start-1 {
			return fmt.Errorf("slogate_snapshot_last_success_timestamp_seconds = %v, want a snapshot after %v", v, start)
		}
		return nil
	})
	if v := metric("slogate_snapshot_errors_total"); v != 0 {
		t.Fatalf("slogate_snapshot_errors_total = %v before any failure", v)
	}
	// The state directory becomes a file: every further snapshot fails.
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(state) })
	testenv.Eventually(t, 20*time.Second, func() error {
		if v := metric("slogate_snapshot_errors_total"); v < 1 {
			return fmt.Errorf("slogate_snapshot_errors_total = %v, want the failed snapshots counted", v)
		}
		return nil
	})

	// A good reload, then a bad one (the old configuration stays).
	if v := metric("slogate_config_last_reload_successful"); v != 1 {
		t.Fatalf("slogate_config_last_reload_successful = %v at start, want 1", v)
	}
	if err := sg.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if v := metric("slogate_config_reloads_total"); v != 1 {
			return fmt.Errorf("slogate_config_reloads_total = %v, want 1", v)
		}
		return nil
	})
	okAt := metric("slogate_config_last_reload_success_timestamp_seconds")
	if okAt < start-1 || metric("slogate_config_reload_errors_total") != 0 {
		t.Fatalf("after a good reload: last success %v, errors %v", okAt, metric("slogate_config_reload_errors_total"))
	}
	if err := os.WriteFile(cfg, []byte("presets: [no-such-preset]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sg.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if v := metric("slogate_config_reload_errors_total"); v != 1 {
			return fmt.Errorf("slogate_config_reload_errors_total = %v, want 1", v)
		}
		return nil
	})
	if v := metric("slogate_config_last_reload_successful"); v != 0 {
		t.Errorf("slogate_config_last_reload_successful = %v after a refused reload, want 0", v)
	}
	if v := metric("slogate_config_last_reload_success_timestamp_seconds"); v != okAt {
		t.Errorf("the last success time moved to %v on a refused reload, want %v", v, okAt)
	}
}
