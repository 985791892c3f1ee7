package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// demoPorts are the DEMO_<NAME>_PORT variables of scripts/demo.sh.
var demoPorts = []string{"VM", "SLOGATE", "VMAGENT", "CADDY", "CADDY_ADMIN", "SHOP", "API", "PORTAL"}

// TestDemoScript runs scripts/demo.sh as `make demo` does, on free ports, a
// temporary data directory and a 40s day. Before the live traffic it must
// write a month of history that slogate replays with -backfill, so that
// the shop starts with a few percent of its SLA budget (not a full one),
// and declare the API's outage of that month as maintenance after the fact
// (its budget shows the effect). Then it must print the page URL and the
// PromQL to try, route real requests through Caddy so that the page shows
// the routes of both customers and the synthetic series of both are in
// VictoriaMetrics, announce its planned maintenance window through
// slogate's API with the token (the portal's downtime in it is left out),
// play the incident through the real router so that the page, in Chromium
// too, says "SLA budget gone in" on the shop's row with an exhaustion the
// history alone would not give, and on SIGINT (Ctrl-C) exit 0 with a
// one-line goodbye, leaving nothing it started running and no port open.
func TestDemoScript(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	chromium := browserBinary(t, chromiumPath)
	for _, b := range []string{testenv.VictoriaMetricsBinary, testenv.VMAgentBinary, "caddy"} {
		testenv.Binary(t, b)
	}
	data := filepath.Join(t.TempDir(), "demo")
	ports := map[string]int{}
	env := []string{
		"DEMO_SLOGATE=" + testenv.BuildSlogate(t),
		"DEMO_DATA=" + data,
		"DEMO_SCRAPE_INTERVAL=1s",
		"DEMO_CYCLE=40s",
		"SLOGATE_BIN_DIR=" + testenv.BinDir(t),
	}
	for _, name := range demoPorts {
		ports[name] = testenv.FreePort(t)
		env = append(env, fmt.Sprintf("DEMO_%s_PORT=%d", name, ports[name]))
	}
	base := func(name string) string { return fmt.Sprintf("http://127.0.0.1:%d", ports[name]) }

	// The script puts each component into a process group of its own, so
	// the cleanup of demo.sh's group would miss a component it failed to
	// stop; this one does not (it runs after demo.sh has been stopped).
	t.Cleanup(func() {
		for pid, comm := range demoProcesses(t, data) {
			t.Logf("killing %s (pid %d), left by the demo", comm, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	demo := testenv.StartProc(t, testenv.Spec{
		Name: "demo.sh", Path: "bash", Args: []string{filepath.Join(root, "scripts", "demo.sh")},
		Env: env, Dir: root, ProcessGroup: true,
	})
	testenv.Eventually(t, 90*time.Second, func() error {
		if demo.Exited() {
			t.Fatalf("demo.sh exited early: %v\n%s", demo.ExitErr(), demo.LogTail())
		}
		if !strings.Contains(demo.Log(), "Press Ctrl-C") {
			return fmt.Errorf("demo.sh has not printed its URLs yet")
		}
		return nil
	})
	out := demo.Log()
	page := base("SLOGATE") + "/slogate/"
	for _, want := range []string{
		"history: wrote 31 days of Caddy's counters into VictoriaMetrics",
		"history: slogate replayed the month (-backfill)",
		"history: declared api.acme.localhost's outage",
		"as maintenance after the fact (mw-0, POST /slogate/api/v1/maintenance)",
		page,
		`slo_error_budget_remaining_ratio{kind="sla"}`,
		`slo_burn_rate{window="5m"} > 1`,
		`slo_error_budget_exhaustion_seconds{kind="sla"} / 60`,
		base("VM") + "/vmui/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo.sh did not print %s:\n%s", want, out)
		}
	}

	// The month is in the budgets before the live traffic adds to them:
	// the shop is left a few percent of its SLA budget, the API's outage is
	// left out by the window declared after the fact, the portal has its
	// calendar month (on the first days of a month, little of it).
	month := demoBudgets(t, base("SLOGATE"))
	if r := month[shop].sla(); r <= 0 || r > 0.1 {
		t.Errorf("the shop's SLA budget after the month's history: %.4f left, want (0, 0.1]", r)
	}
	if api := month[apiHost]; api.Requests.ExcludedBad < 1000 || api.sla() < 0.9 {
		t.Errorf("the API after its outage was declared maintenance: %d bad requests left out, SLA budget %.4f left; want >= 1000 and >= 0.9",
			api.Requests.ExcludedBad, api.sla())
	}
	if r := month[portal].sla(); r <= 0.5 || r > 1 {
		t.Errorf("the portal's SLA budget after the month's history: %.4f left, want (0.5, 1]", r)
	}

	// The page shows the routes of both customers (counted from Caddy's
	// metrics), and their synthetic series are in VictoriaMetrics.
	testenv.Eventually(t, 60*time.Second, func() error {
		_, body, err := testenv.Get(page)
		if err != nil {
			return err
		}
		for _, want := range []string{"edge/shop.acme.localhost/subroute", "edge/api.acme.localhost/subroute", "edge/portal.globex.localhost/subroute", "acme", "globex"} {
			if !bytes.Contains(body, []byte(want)) {
				return fmt.Errorf("the page does not show %s yet", want)
			}
		}
		return nil
	})
	testenv.Eventually(t, 60*time.Second, func() error {
		testenv.ForceFlush(t, base("VM"))
		got := map[string]bool{}
		for _, v := range testenv.Query(t, base("VM"), `slo_objective_ratio{source="caddy",slo="availability"}`, time.Now()) {
			got[v.Metric["customer"]+"/"+v.Metric["kind"]] = true
		}
		for _, want := range []string{"acme/slo", "acme/sla", "globex/slo", "globex/sla"} {
			if !got[want] {
				return fmt.Errorf("no slo_objective_ratio for %s in VictoriaMetrics yet (have %v)", want, got)
			}
		}
		return nil
	})

	// The day goes on: the maintenance window is announced with the token,
	// and the incident's 500s pass through the real router into
	// VictoriaMetrics.
	testenv.Eventually(t, 30*time.Second, func() error {
		body := testenv.MustGet(t, base("SLOGATE")+"/slogate/api/v1/maintenance")
		if !bytes.Contains(body, []byte("demo traffic generator")) || !bytes.Contains(body, []byte(`portal\\.globex\\.localhost`)) {
			return fmt.Errorf("no maintenance window of the traffic generator yet: %s", body)
		}
		if !bytes.Contains(body, []byte("demo history")) || !bytes.Contains(body, []byte(`api\\.acme\\.localhost`)) {
			return fmt.Errorf("no maintenance window declared after the fact: %s", body)
		}
		return nil
	})

	// The incident: the shop's row says its SLA budget will be gone soon,
	// within a day, where the month's usual errors alone give about ten
	// (one complete minute of the incident in the 5m window does it).
	var exhaustion float64
	testenv.Eventually(t, 90*time.Second, func() error {
		b := demoBudgets(t, base("SLOGATE"))[shop].Budgets["sla"]
		if b.ExhaustionSeconds == nil || *b.ExhaustionSeconds >= 24*3600 {
			return fmt.Errorf("the shop's SLA budget is not burning fast yet: %+v", b)
		}
		exhaustion = *b.ExhaustionSeconds
		if html := string(testenv.MustGet(t, page)); !shopGoneIn(html) {
			return fmt.Errorf("the page does not say \"SLA budget gone in\" on the shop's row yet")
		}
		return nil
	})
	t.Logf("during the incident the shop's SLA budget is gone in %.0f minutes", exhaustion/60)
	if dom := testenv.DumpDOM(t, chromium, page); !shopGoneIn(dom) {
		t.Errorf("the page in Chromium does not say \"SLA budget gone in\" on the shop's row:\n%s", dom)
	}

	// The planned window: the portal's downtime in it is left out. (The
	// traffic generator's line about it waits for the window's last
	// minute to be evaluated, up to a minute more; its own test checks it.)
	testenv.Eventually(t, 60*time.Second, func() error {
		if n := demoBudgets(t, base("SLOGATE"))[portal].Requests.ExcludedBad; n == 0 {
			return fmt.Errorf("no bad request of the portal left out by its planned window yet")
		}
		return nil
	})
	testenv.Eventually(t, 60*time.Second, func() error {
		testenv.ForceFlush(t, base("VM"))
		q := `caddy_http_request_duration_seconds_count{host="shop.acme.localhost",code="500"}`
		if len(testenv.Query(t, base("VM"), q, time.Now())) == 0 {
			return fmt.Errorf("no %s in VictoriaMetrics yet", q)
		}
		return nil
	})
	if !strings.Contains(demo.Log(), "incident: answers 50% of requests with 500") {
		t.Errorf("demo.sh did not print the incident:\n%s", demo.LogTail())
	}

	// Everything the script started carries DEMO_DATA in its environment,
	// which makes it findable whatever its process group.
	running := demoProcesses(t, data)
	var names []string
	for _, comm := range running {
		names = append(names, comm)
	}
	slices.Sort(names)
	for _, want := range []string{"backend", "caddy", "slogate", "traffic", "victoria-metric", "vmagent"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s among the demo's processes %v", want, names)
		}
	}
	if n := strings.Count(strings.Join(names, " "), "backend"); n != 3 {
		t.Errorf("%d backends running, want 3: %v", n, names)
	}
	t.Logf("the demo runs %d processes: %v", len(names), names)

	// Ctrl-C stops everything, with one line and status 0.
	if err := demo.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-demo.Done():
	case <-time.After(time.Minute):
		t.Fatal("demo.sh did not exit within a minute of SIGINT")
	}
	if err := demo.ExitErr(); err != nil {
		t.Errorf("demo.sh exited with %v after SIGINT, want status 0", err)
	}
	lines := strings.Split(strings.TrimSpace(demo.Log()), "\n")
	if last := lines[len(lines)-1]; last != "demo: stopped; data and logs are in "+data+". Bye." {
		t.Errorf("demo.sh's last line after SIGINT is %q, want its one-line goodbye", last)
	}
	if strings.Contains(demo.Log(), "stopping ") {
		t.Errorf("demo.sh told the terminal what it stopped, want one line:\n%s", demo.LogTail())
	}
	if left := demoProcesses(t, data); len(left) > 0 {
		t.Errorf("processes of the demo left after it exited: %v", left)
	}
	if members, err := testenv.GroupMembers(demo.Pid()); err != nil || len(members) > 0 {
		t.Errorf("processes of demo.sh's group left after it exited: %v (%v)", members, err)
	}
	for _, name := range demoPorts {
		if _, _, err := testenv.Get(base(name) + "/"); err == nil {
			t.Errorf("port %s %d still answers after demo.sh exited", name, ports[name])
		}
	}
	stopped, err := os.ReadFile(filepath.Join(data, "logs", "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"traffic", "caddy", "slogate", "victoria-metrics"} {
		if !strings.Contains(string(stopped), "stopping "+name) {
			t.Errorf("demo.sh did not log stopping %s:\n%s", name, stopped)
		}
	}
}

// The demo's hosts: the incident, the outage declared after the fact, the
// planned maintenance.
const (
	shop    = "shop.acme.localhost"
	apiHost = "api.acme.localhost"
	portal  = "portal.globex.localhost"
)

// demoSLO is an availability objective of /slogate/api/v1/slos.
type demoSLO struct {
	Labels    map[string]string `json:"labels"`
	Objective struct {
		Name string `json:"name"`
	} `json:"objective"`
	Requests struct {
		ExcludedBad int64 `json:"excludedBad"`
	} `json:"requests"`
	Budgets map[string]struct {
		RemainingRatio    float64  `json:"remainingRatio"`
		ExhaustionSeconds *float64 `json:"exhaustionSeconds"`
	} `json:"budgets"`
}

func (s demoSLO) sla() float64 { return s.Budgets["sla"].RemainingRatio }

// demoBudgets returns the availability objectives of the demo's slogate
// by host.
func demoBudgets(t *testing.T, base string) map[string]demoSLO {
	t.Helper()
	var resp struct {
		SLOs []demoSLO `json:"slos"`
	}
	if err := json.Unmarshal(testenv.MustGet(t, base+"/slogate/api/v1/slos"), &resp); err != nil {
		t.Fatalf("cannot read slogate's objectives: %s", err)
	}
	out := map[string]demoSLO{}
	for _, s := range resp.SLOs {
		if s.Objective.Name == "availability" {
			out[s.Labels["host"]] = s
		}
	}
	return out
}

// shopGoneIn reports whether a row or list item of the page that names the
// shop's route says its SLA budget will be gone.
func shopGoneIn(html string) bool {
	for _, sep := range []string{"<tr", "<li"} {
		for _, part := range strings.Split(html, sep) {
			if strings.Contains(part, "edge/"+shop+"/subroute") && strings.Contains(part, "SLA budget gone in ") {
				return true
			}
		}
	}
	return false
}

// demoProcesses returns pid -> command name of the live processes whose
// environment holds DEMO_DATA=data (the test itself does not).
func demoProcesses(t *testing.T, data string) map[int]string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("cannot list /proc: %s", err)
	}
	marker := []byte("DEMO_DATA=" + data + "\x00")
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(environ, marker) {
			continue // exited meanwhile, or not ours
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			continue // a zombie is not running
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		out[pid] = strings.TrimSpace(string(comm))
	}
	return out
}
