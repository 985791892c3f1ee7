package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/slogate/slogate/internal/testenv"
)

// TestShardedRestartKeepsOwnRoutes: a sharded replica restarted with its
// state replays the gap from vmselect. It must get back every route it had
// and must not take over the routes that vmagent sends to the other
// replica: after a SIGKILL with default flags (no snapshot yet: the route
// journal says which routes are its own), and after a graceful restart
// (from its snapshot).
func TestShardedRestartKeepsOwnRoutes(t *testing.T) {
	cl := testenv.StartCluster(t)
	var replicas []*testenv.Proc
	var states, addrs []string
	args := func(i int) []string {
		return []string{"-upstream.url=" + cl.InsertURL(), "-eval.interval=" + evalStep.String(),
			"-upstream.readURL=" + cl.SelectURL(), "-upstream.cluster", "-stateDir=" + states[i], "-httpListenAddr=" + addrs[i]}
	}
	for i := range 2 {
		states, addrs = append(states, t.TempDir()), append(addrs, testenv.FreeAddr(t))
		replicas = append(replicas, testenv.StartSlogate(t, args(i)...))
	}
	scrapes := int(2 * time.Hour / scrapeStep)
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	// Which replica vmagent gives a route changes from run to run (seen:
	// all 4 routes of defaultPlan on one replica, either one; the URLs
	// differ in their free ports). With 16 routes a replica without any is
	// about 2 in 65,536 if placement is even.
	plan := defaultPlan(scrapes)
	plan.routes = slices.Clone(ingressRoutes)
	for i := len(plan.routes); i < 16; i++ {
		plan.routes = append(plan.routes, ingressRoute{"shard", fmt.Sprintf("app%d", i), fmt.Sprintf("app%d.example.com", i), "/"})
	}
	st := generate(plan, start, 11)
	agentArgs := []string{"-remoteWrite.shardByURL", "-remoteWrite.shardByURL.labels=" + routeIdentityLabels, "-remoteWrite.queues=1"}
	for _, sg := range replicas {
		agentArgs = append(agentArgs, "-remoteWrite.url="+sg.URL+"/insert/1:0/prometheus/api/v1/write")
	}
	agent := testenv.StartVMAgent(t, "", agentArgs...)
	for _, b := range st.blocks {
		postBlock(t, agent.URL+"/api/v1/write", b, nil)
	}
	last := start.Add(time.Duration(scrapes-1) * scrapeStep).UnixMilli()
	waitSynthetic(t, cl, "1:0", last-last%evalStep.Milliseconds())
	// Each replica counts its own shard; the synthetic points above may
	// all come from one of them while vmagent still delivers to the other.
	before := map[string]bool{}
	testenv.Eventually(t, time.Minute, func() error {
		clear(before)
		for _, s := range fetchStatuses(t, replicas[0]) {
			before[s.Route] = true
		}
		other := len(fetchStatuses(t, replicas[1]))
		if len(before) == 0 || other == 0 || len(before)+other != len(st.routes) {
			return fmt.Errorf("replica 0 has %d routes, replica 1 %d, of %d", len(before), other, len(st.routes))
		}
		return nil
	})

	if len(before) == 0 || len(before) == len(st.routes) {
		t.Fatalf("replica 0 has %d of %d routes: no sharding to test", len(before), len(st.routes))
	}
	r0 := replicas[0]
	for _, restart := range []struct {
		how  string
		stop func()
	}{{"SIGKILL before any snapshot", r0.Kill}, {"graceful restart", func() { r0.Stop() }}} {
		restart.stop()
		r0 = testenv.StartSlogate(t, args(0)...)
		after := map[string]bool{}
		for _, s := range fetchStatuses(t, r0) {
			after[s.Route] = true
			if !before[s.Route] {
				t.Errorf("after a %s replica 0 evaluates %s (good %d), a route vmagent sends to replica 1", restart.how, s.Route, s.Requests.Good)
			}
		}
		for r := range before {
			if !after[r] {
				t.Errorf("after a %s replica 0 lost its route %s", restart.how, r)
			}
		}
	}
	// One more minute of traffic: both replicas write a new step.
	more := generate(defaultPlan(scrapes+4), start, 11)
	for _, b := range more.blocks[scrapes:] {
		postBlock(t, agent.URL+"/api/v1/write", b, nil)
	}
	last = start.Add(time.Duration(scrapes+3) * scrapeStep).UnixMilli()
	series := waitSynthetic(t, cl, "1:0", last-last%evalStep.Milliseconds())
	for _, s := range series {
		for i := 1; i < len(s.Timestamps); i++ {
			if s.Timestamps[i] == s.Timestamps[i-1] && s.Values[i] != s.Values[i-1] {
				t.Errorf("%s at %s: two replicas wrote %v and %v", s.Key(), time.UnixMilli(s.Timestamps[i]).UTC().Format(time.RFC3339), s.Values[i-1], s.Values[i])
			}
		}
	}
}
