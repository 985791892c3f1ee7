package testenv

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseExportMergesBlocksAndSpecialValues(t *testing.T) {
	body := `{"metric":{"__name__":"m","b":"2","a":"1"},"values":[3,null],"timestamps":[3000,4000]}
{"metric":{"__name__":"other"},"values":["Infinity","-Infinity"],"timestamps":[1,2]}

{"metric":{"a":"1","__name__":"m","b":"2"},"values":[1.5,2],"timestamps":[1000,2000]}
`
	got, err := ParseExport([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d series, want 2: %+v", len(got), got)
	}
	m := got[0]
	if m.Key() != `m{a="1",b="2"}` {
		t.Fatalf("first key = %s", m.Key())
	}
	if !reflect.DeepEqual(m.Timestamps, []int64{1000, 2000, 3000, 4000}) {
		t.Fatalf("timestamps = %v", m.Timestamps)
	}
	if m.Values[0] != 1.5 || m.Values[2] != 3 || !math.IsNaN(m.Values[3]) {
		t.Fatalf("values = %v", m.Values)
	}
	if o := got[1]; !math.IsInf(o.Values[0], 1) || !math.IsInf(o.Values[1], -1) {
		t.Fatalf("infinities = %v", o.Values)
	}
	if _, err := ParseExport([]byte(`{"metric":{},"values":[1],"timestamps":[]}`)); err == nil {
		t.Fatal("want error for values/timestamps length mismatch")
	}
}

func TestParseQuery(t *testing.T) {
	v, err := ParseQuery([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1700000000.123,"2.5"]},{"metric":{},"value":[1,"NaN"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 2 || v[0].Metric["a"] != "b" || v[0].Value != 2.5 || v[0].Timestamp.UnixMilli() != 1700000000123 || !math.IsNaN(v[1].Value) {
		t.Fatalf("got %+v", v)
	}
	s, err := ParseQuery([]byte(`{"status":"success","data":{"resultType":"scalar","result":[5,"7"]}}`))
	if err != nil || len(s) != 1 || s[0].Value != 7 {
		t.Fatalf("scalar: %+v, %v", s, err)
	}
	if _, err := ParseQuery([]byte(`{"status":"error","error":"bad query"}`)); err == nil || !strings.Contains(err.Error(), "bad query") {
		t.Fatalf("want the query error, got %v", err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP x y
vmagent_remotewrite_requests_total{url="1:secret-url", status_code="503"} 7
vmagent_remotewrite_requests_total{url="2:secret-url",status_code="2XX"} 3
weird{v="a\"b\\c,}"} 1.5e3 1700000000000
plain 4
`
	s, err := ParseMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
	if sum, n := SumMetric(s, "vmagent_remotewrite_requests_total", map[string]string{"status_code": "503"}); sum != 7 || n != 1 {
		t.Fatalf("503 sum = %v over %d", sum, n)
	}
	if sum, n := SumMetric(s, "vmagent_remotewrite_requests_total", nil); sum != 10 || n != 2 {
		t.Fatalf("total sum = %v over %d", sum, n)
	}
	if sum, _ := SumMetric(s, "weird", map[string]string{"v": `a"b\c,}`}); sum != 1500 {
		t.Fatalf("escaped label: sum = %v, samples %+v", sum, s)
	}
	if _, err := ParseMetrics("broken{a=\"x\" 1\n"); err == nil {
		t.Fatal("want error for an unterminated label set")
	}
}

func TestWithDefaults(t *testing.T) {
	got := withDefaults(
		[]string{"-a=1", "-remoteWrite.retryMinInterval=100ms", "-flag"},
		[]string{"--remoteWrite.retryMinInterval=1s", "-b=2"})
	want := []string{"-a=1", "-flag", "--remoteWrite.retryMinInterval=1s", "-b=2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if v, ok := flagValue([]string{"-x=1", "-x=2"}, "x"); !ok || v != "2" {
		t.Fatalf("flagValue = %q, %v; want the last value", v, ok)
	}
}

// TestStartProcCleanup checks what StartProc registers: when the test
// ends the process gets SIGTERM, and with ProcessGroup whatever its group
// left behind (here a child that ignores the leader's signal) is killed.
// The subtest's log is gone with its temporary directory, so the shell
// notes its graceful stop in a file of this test.
func TestStartProcCleanup(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "stopped")
	var p *Proc
	t.Run("run", func(t *testing.T) {
		p = StartProc(t, Spec{Name: "sh", Path: "sh", ProcessGroup: true, Env: []string{"MARK=" + mark}, Args: []string{"-c",
			`trap 'echo stopping > "$MARK"; exit 0' TERM; sleep 1000 & echo started; while :; do sleep 0.05; done`}})
		Eventually(t, 10*time.Second, func() error {
			if !strings.Contains(p.Log(), "started") {
				return fmt.Errorf("sh has not started: %q", p.Log())
			}
			return nil
		})
		if members, err := GroupMembers(p.Pid()); err != nil || len(members) < 2 {
			t.Fatalf("group of sh = %v, %v; want sh and its sleep", members, err)
		}
	})
	if b, err := os.ReadFile(mark); !p.Exited() || p.ExitErr() != nil || string(b) != "stopping\n" {
		t.Fatalf("after the subtest: exited %v (%v), mark %q (%v); want a stop by SIGTERM", p.Exited(), p.ExitErr(), b, err)
	}
	Eventually(t, 10*time.Second, func() error {
		if members, err := GroupMembers(p.Pid()); err != nil || len(members) > 0 {
			return fmt.Errorf("group of sh still holds %v (%v)", members, err)
		}
		return nil
	})
}

// TestVMLifecycle checks the helpers against a real VictoriaMetrics: data
// imported is exported and queried back, and survives Restart.
func TestVMLifecycle(t *testing.T) {
	vm := StartVM(t)
	now := time.Now().Truncate(time.Second)
	line := fmt.Sprintf(`{"metric":{"__name__":"testenv_m","k":"v"},"values":[1,2.25],"timestamps":[%d,%d]}`,
		now.Add(-time.Second).UnixMilli(), now.UnixMilli())
	resp, err := HTTPClient.Post(vm.URL()+"/api/v1/import", "application/json", strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("import: status %d", resp.StatusCode)
	}
	check := func() {
		t.Helper()
		vm.ForceFlush(t)
		got := vm.Export(t, `{__name__="testenv_m"}`)
		if len(got) != 1 || got[0].Key() != `testenv_m{k="v"}` || !reflect.DeepEqual(got[0].Values, []float64{1, 2.25}) {
			t.Fatalf("export = %+v", got)
		}
		q := vm.Query(t, `testenv_m`, now)
		if len(q) != 1 || q[0].Value != 2.25 {
			t.Fatalf("query = %+v", q)
		}
	}
	check()
	oldPid := vm.Proc().Pid()
	vm.Restart()
	if vm.Proc().Pid() == oldPid {
		t.Fatal("Restart kept the old process")
	}
	check()
	vm.Stop()
	if _, _, err := Get(vm.URL() + "/health"); err == nil {
		t.Fatal("VictoriaMetrics still answers after Stop")
	}
}

// TestVMAgentScrapesIntoVM checks StartVMAgent end to end: a scrape target
// served here reaches VictoriaMetrics through vmagent's remote write.
func TestVMAgentScrapesIntoVM(t *testing.T) {
	vm := StartVM(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, `testenv_target_value{x="y"} 42`)
	}))
	defer target.Close()
	cfg := fmt.Sprintf("scrape_configs:\n- job_name: t\n  scrape_interval: 1s\n  static_configs:\n  - targets: [%q]\n",
		strings.TrimPrefix(target.URL, "http://"))
	agent := StartVMAgent(t, cfg, "-remoteWrite.url="+vm.URL()+"/api/v1/write")
	Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		got := vm.Export(t, `testenv_target_value{job="t"}`)
		if len(got) != 1 || len(got[0].Values) == 0 || got[0].Values[0] != 42 {
			return fmt.Errorf("export = %+v", got)
		}
		return nil
	})
	if sum, _ := SumMetric(agent.Metrics(t), "vmagent_remotewrite_requests_total", map[string]string{"status_code": "2XX"}); sum < 1 {
		t.Fatalf("vmagent reports %v successful remote writes", sum)
	}
}

func TestEventuallyReportsLastError(t *testing.T) {
	n := 0
	err := Poll(300*time.Millisecond, func() error { n++; return fmt.Errorf("attempt %d", n) })
	if err == nil || n < 2 || err.Error() != fmt.Sprintf("attempt %d", n) {
		t.Fatalf("Poll = %v after %d attempts", err, n)
	}
	if err := Poll(time.Second, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestVMAlertRecordsIntoVM checks StartVMAlert: a recording rule evaluated
// against VictoriaMetrics is written back to it.
func TestVMAlertRecordsIntoVM(t *testing.T) {
	vm := StartVM(t)
	rules := WriteTemp(t, "rules.yml", `groups:
- name: testenv
  interval: 1s
  rules:
  - record: testenv_recorded
    expr: vector(7)
`)
	alert := StartVMAlert(t, "-rule="+rules, "-datasource.url="+vm.URL(), "-remoteWrite.url="+vm.URL(),
		"-remoteWrite.flushInterval=100ms", "-notifier.blackhole", "-rule.evalDelay=0s")
	if alert.URL == "" || alert.Exited() {
		t.Fatalf("vmalert not running: %+v", alert)
	}
	Eventually(t, 30*time.Second, func() error {
		vm.ForceFlush(t)
		got := vm.Export(t, "testenv_recorded")
		if len(got) != 1 || len(got[0].Values) == 0 || got[0].Values[0] != 7 {
			return fmt.Errorf("export = %+v", got)
		}
		return nil
	})
}
