package testenv

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/slogate/slogate/remotewrite"
)

// TestClusterTenants checks StartCluster against the real binaries: a
// remote write through WriteURL and an import land in their own tenants
// only, Export and Query read them back, the log names -cluster releases,
// and every process is gone when the test that started them ends.
func TestClusterTenants(t *testing.T) {
	var cl *Cluster
	t.Run("cluster", func(t *testing.T) {
		cl = StartCluster(t)
		for name, v := range cl.Versions {
			if !strings.HasPrefix(v, name+"-") || !strings.Contains(v, "-cluster-") {
				t.Errorf("%s -version = %q, want a %s release of the cluster branch", name, v, name)
			}
		}
		now := time.Now().Truncate(time.Second)
		body := remotewrite.AppendWriteRequest(nil, []remotewrite.TimeSeries{{
			Labels:  []remotewrite.Label{{Name: "__name__", Value: "testenv_written"}, {Name: "k", Value: "v"}},
			Samples: []remotewrite.Sample{{Value: 1, Timestamp: now.Add(-time.Second).UnixMilli()}, {Value: 2.5, Timestamp: now.UnixMilli()}},
		}})
		req, err := http.NewRequest(http.MethodPost, cl.WriteURL("42"), bytes.NewReader(snappy.Encode(nil, body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("remote write to %s: status %d, want 204", cl.WriteURL("42"), resp.StatusCode)
		}
		line := fmt.Sprintf("testenv_imported 7 %d\n", now.UnixMilli())
		resp, err = HTTPClient.Post(cl.InsertURL()+"/insert/43:1/prometheus/api/v1/import/prometheus", "text/plain", strings.NewReader(line))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("import into tenant 43:1: status %d, want 204", resp.StatusCode)
		}

		// vminsert forwards to vmstorage on its own schedule: poll.
		Eventually(t, 30*time.Second, func() error {
			cl.ForceFlush(t)
			if got := cl.Export(t, "42", `{__name__=~"testenv_.*"}`); len(got) != 1 || got[0].Key() != `testenv_written{k="v"}` ||
				!reflect.DeepEqual(got[0].Values, []float64{1, 2.5}) {
				return fmt.Errorf("tenant 42 exports %+v", got)
			}
			if got := cl.Export(t, "43:1", `{__name__=~"testenv_.*"}`); len(got) != 1 || got[0].Key() != `testenv_imported{}` {
				return fmt.Errorf("tenant 43:1 exports %+v", got)
			}
			return nil
		})
		if q := cl.Query(t, "42", "testenv_written", now); len(q) != 1 || q[0].Value != 2.5 {
			t.Errorf("query in tenant 42 = %+v, want 2.5", q)
		}
		for _, tenant := range []string{"0", "42:1", "43"} {
			if got := cl.Export(t, tenant, `{__name__=~"testenv_(written|imported)"}`); len(got) != 0 {
				t.Errorf("tenant %s sees %+v, want nothing", tenant, got)
			}
		}
	})
	if cl == nil {
		return
	}
	for _, p := range []*Proc{cl.Storage, cl.Insert, cl.Select} {
		if !p.Exited() {
			t.Errorf("%s (pid %d) still runs after the test that started it", p.Name, p.Pid())
		}
	}
}
