package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/slogate/slogate/internal/testenv"
)

// Scaling out (README "Scaling"): the tests here run several slogates the
// way they are deployed, feed them generated ingress-nginx traffic through
// real vmagents, and require the numbers of one slogate fed everything.

// routeIdentityLabels are ingress-nginx's route identity labels: vmagent
// shards by them, so every series of a route reaches the same replica.
const routeIdentityLabels = "namespace,ingress,host,path"

// TestScaleShardByURL runs two slogate replicas behind one vmagent per
// tenant with -remoteWrite.shardByURL over the route identity labels, both
// writing to a VictoriaMetrics cluster through vminsert, tenants 1:0 and
// 2:0 with different traffic. A third slogate gets each tenant's whole
// stream, unsharded, under tenants 11:0 and 12:0. Required:
//   - every route of a tenant is owned by exactly one replica (its
//     /slogate/api/v1/slos lists it);
//   - every synthetic point the replicas wrote equals the single slogate's
//     point of the same series and timestamp, and the last points equal
//     the brute-force reference;
//   - every SLI sample landed in its own tenant, and tenant 0 got nothing.
func TestScaleShardByURL(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t)
	sgArgs := []string{"-upstream.url=" + cl.InsertURL(), "-eval.interval=" + evalStep.String()}
	replicas := []*testenv.Proc{testenv.StartSlogate(t, sgArgs...), testenv.StartSlogate(t, sgArgs...)}
	single := testenv.StartSlogate(t, sgArgs...)

	scrapes := int(2 * time.Hour / scrapeStep)
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	type tenantRun struct {
		id, singleID string
		st           *stream
	}
	// checkSLILanded compares sample by sample.
	plan1, plan2 := defaultPlan(scrapes), defaultPlan(scrapes)
	plan1.keepSamples, plan2.keepSamples = true, true
	plan2.outages = []outage{{route: 3, from: scrapes / 3, to: scrapes/3 + 60, status: "504"}}
	runs := []tenantRun{
		{id: "1:0", singleID: "11:0", st: generate(plan1, start, 11)},
		{id: "2:0", singleID: "12:0", st: generate(plan2, start, 12)},
	}
	for _, r := range runs {
		args := []string{
			"-remoteWrite.shardByURL",
			"-remoteWrite.shardByURL.labels=" + routeIdentityLabels,
			// Two hours of scrapes arrive in seconds here; one queue per
			// URL keeps vmagent's blocks in order, as a real scrape
			// interval does (a point older than a series' last 8 counts
			// zero, see budget/series.go).
			"-remoteWrite.queues=1",
		}
		for _, sg := range replicas {
			args = append(args, "-remoteWrite.url="+sg.URL+"/insert/"+r.id+"/prometheus/api/v1/write")
		}
		agent := testenv.StartVMAgent(t, "", args...)
		for _, b := range r.st.blocks {
			postBlock(t, agent.URL+"/api/v1/write", b, nil)
		}
		for _, b := range r.st.blocks {
			postBlock(t, single.URL+"/insert/"+r.singleID+"/prometheus/api/v1/write", b, nil)
		}
	}
	last := start.Add(time.Duration(scrapes-1) * scrapeStep).UnixMilli()
	at := last - last%evalStep.Milliseconds()

	for _, r := range runs {
		sharded := waitSynthetic(t, cl, r.id, at)
		alone := waitSynthetic(t, cl, r.singleID, at)
		checkReference(t, "tenant "+r.id, r.st.routes, routeValuesAt(sharded, at), reference(r.st, at, nil), 0.999)
		n := checkSamePoints(t, "tenant "+r.id+" (sharded) and "+r.singleID+" (one slogate)", sharded, alone)
		t.Logf("tenant %s: %d synthetic points in common with one slogate, all equal", r.id, n)

		for _, tenant := range []string{r.id, r.singleID} {
			checkSLILanded(t, r.st, cl.Export(t, tenant, `{__name__="nginx_ingress_controller_requests"}`), tenant)
		}
	}
	if s := cl.Export(t, "0", `{__name__=~"slo_.*|nginx_.*"}`); len(s) != 0 {
		t.Errorf("tenant 0 got %d series, want none; first: %s", len(s), s[0].Key())
	}

	// Ownership: each replica evaluates the routes vmagent sent it.
	owners := map[string][]int{} // tenant/route -> replicas
	for i, sg := range replicas {
		for _, s := range fetchStatuses(t, sg) {
			owners[s.Tenant+" "+s.Route] = append(owners[s.Tenant+" "+s.Route], i)
		}
	}
	perReplica := make([]int, len(replicas))
	for _, r := range runs {
		for ri := range ingressRoutes {
			key := r.id + " " + routeKey(ri)
			switch o := owners[key]; len(o) {
			case 1:
				perReplica[o[0]]++
				t.Logf("route %s: replica %d", key, o[0])
			default:
				t.Errorf("route %s is evaluated by replicas %v, want exactly one", key, o)
			}
		}
	}
	if len(owners) != len(runs)*len(ingressRoutes) {
		t.Errorf("replicas evaluate %d tenant routes, want %d: %v", len(owners), len(runs)*len(ingressRoutes), owners)
	}
	// vmagent's consistent hash covers the URLs, ports included, so about
	// one run in a hundred gives every route to one replica; the checks
	// above hold all the same, but sharding was not exercised.
	for i, n := range perReplica {
		if n == 0 {
			t.Logf("replica %d owns no route this run: sharding by %s sent everything to one replica", i, routeIdentityLabels)
		}
	}
}

// waitSynthetic polls the cluster until every route of the tenant has its
// synthetic point at at, then returns the tenant's synthetic series.
func waitSynthetic(t *testing.T, cl *testenv.Cluster, tenant string, at int64) []testenv.ExportedSeries {
	t.Helper()
	var series []testenv.ExportedSeries
	testenv.Eventually(t, 90*time.Second, func() error {
		cl.ForceFlush(t)
		series = cl.Export(t, tenant, `{__name__=~"slo_.*"}`)
		return missingRoutes(routeValuesAt(series, at), at)
	})
	return series
}

// missingRoutes says which route has no synthetic point at at yet.
func missingRoutes(got map[string]map[string]float64, at int64) error {
	for ri := range ingressRoutes {
		if _, ok := got[routeKey(ri)]["slo_requests_total{result=good}"]; !ok {
			return fmt.Errorf("no synthetic point at %s for route %s yet", time.UnixMilli(at).UTC().Format(time.RFC3339), routeKey(ri))
		}
	}
	return nil
}

// checkSamePoints requires every point that a and b both have (same series,
// same timestamp) to have the same value, every timestamp to be aligned to
// the evaluation step, and every series of either to be in both. It returns
// the number of points compared.
func checkSamePoints(t *testing.T, what string, a, b []testenv.ExportedSeries) int {
	t.Helper()
	pa, pb := pointsByKey(a), pointsByKey(b)
	n := 0
	for key, ta := range pa {
		tb, ok := pb[key]
		if !ok {
			t.Errorf("%s: %s only in the first", what, key)
			continue
		}
		for ts, va := range ta {
			if ts%evalStep.Milliseconds() != 0 {
				t.Errorf("%s: %s has a point at %d, not aligned to %s", what, key, ts, evalStep)
			}
			if vb, ok := tb[ts]; ok {
				n++
				if !approxEqual(va, vb) {
					t.Errorf("%s: %s at %s: %.12g and %.12g", what, key, time.UnixMilli(ts).UTC().Format(time.RFC3339), va, vb)
				}
			}
		}
	}
	for key := range pb {
		if _, ok := pa[key]; !ok {
			t.Errorf("%s: %s only in the second", what, key)
		}
	}
	return n
}

// pointsByKey indexes series as key -> timestamp -> value; of several
// values at one timestamp (a retried block) the last is kept.
func pointsByKey(series []testenv.ExportedSeries) map[string]map[int64]float64 {
	out := map[string]map[int64]float64{}
	for _, s := range series {
		m := map[int64]float64{}
		for i, ts := range s.Timestamps {
			m[ts] = s.Values[i]
		}
		out[s.Key()] = m
	}
	return out
}

// checkSLILanded requires the tenant to hold exactly the generated SLI
// series with every generated sample: forwarded unchanged, tenant kept. The
// stream must keep its samples (trafficPlan.keepSamples).
func checkSLILanded(t *testing.T, st *stream, got []testenv.ExportedSeries, tenant string) {
	t.Helper()
	want := map[string][]point{}
	for _, s := range st.series {
		if len(s.points) == 0 {
			t.Fatal("BUG: the stream was generated without trafficPlan.keepSamples")
		}
		m := map[string]string{}
		for _, l := range s.labels {
			m[l.Name] = l.Value
		}
		want[testenv.SeriesKey(m)] = s.points
	}
	if len(got) != len(want) {
		t.Errorf("tenant %s: %d SLI series, want %d", tenant, len(got), len(want))
	}
	samples := 0
	for _, s := range got {
		w, ok := want[s.Key()]
		if !ok {
			t.Errorf("tenant %s: unexpected series %s", tenant, s.Key())
			continue
		}
		samples += len(s.Timestamps)
		if len(w) != len(s.Timestamps) {
			t.Errorf("tenant %s: %s has %d samples, want %d", tenant, s.Key(), len(s.Timestamps), len(w))
			continue
		}
		for i, p := range w {
			if s.Timestamps[i] != p.ts || s.Values[i] != p.v {
				t.Errorf("tenant %s: %s sample %d = %v@%d, want %v@%d", tenant, s.Key(), i, s.Values[i], s.Timestamps[i], p.v, p.ts)
				break
			}
		}
	}
	t.Logf("tenant %s: %d SLI series, %d samples landed", tenant, len(got), samples)
}

// mergeBlocks joins consecutive blocks into requests of up to n blocks:
// WriteRequests concatenate on the wire (a repeated field), so the merged
// body carries the same series in the same order in fewer requests.
func mergeBlocks(blocks [][]byte, order []int, n int) [][]byte {
	var out [][]byte
	var raw, buf, enc []byte
	for i, b := range order {
		var err error
		raw, err = snappy.Decode(raw[:cap(raw)], blocks[b])
		if err != nil {
			panic(fmt.Sprintf("BUG: generated block %d does not decode: %s", b, err))
		}
		buf = append(buf, raw...)
		if (i+1)%n == 0 || i == len(order)-1 {
			// Only the encoded bytes are kept, not the worst case
			// snappy.Encode allocates for.
			enc = snappy.Encode(enc[:cap(enc)], buf)
			out = append(out, bytes.Clone(enc))
			buf = buf[:0]
		}
	}
	return out
}
