package vmclient

import (
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/slogate/slogate/budget"
)

func TestClassify(t *testing.T) {
	f := func(code int, want Verdict) {
		t.Helper()
		if got := Classify(code); got != want {
			t.Fatalf("Classify(%d) = %s, want %s", code, got, want)
		}
	}
	f(200, Accepted)
	f(204, Accepted)
	f(429, Retryable)
	f(500, Retryable)
	f(503, Retryable)
	f(400, Permanent)
	f(409, Permanent)
	f(413, Permanent)
	f(301, Permanent)
}

func TestIsRetryable(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if got := IsRetryable(err); got != want {
			t.Fatalf("IsRetryable(%v) = %v, want %v", err, got, want)
		}
	}
	f(nil, false)
	f(errors.New("connection refused"), true)
	f(&StatusError{Code: 503}, true)
	f(&StatusError{Code: 429}, true)
	f(&StatusError{Code: 400}, false)
}

func TestRetryAfter(t *testing.T) {
	f := func(header string, def time.Duration, want string) {
		t.Helper()
		var resp *fasthttp.Response
		if header != "-" {
			resp = &fasthttp.Response{}
			if header != "" {
				resp.Header.Set("Retry-After", header)
			}
		}
		if got := RetryAfter(resp, def); got != want {
			t.Fatalf("RetryAfter(%q, %s) = %q, want %q", header, def, got, want)
		}
	}
	f("7", 5*time.Second, "7")                           // the upstream's own
	f("", 5*time.Second, "5")                            // none given
	f("-", 5*time.Second, "5")                           // no response at all
	f("0", 5*time.Second, "5")                           // never retry at once
	f("Wed, 21 Oct 2026 07:28:00 GMT", time.Second, "1") // dates are not used
	f("", 0, "1")                                        // at least a second
	f("", 2400*time.Millisecond, "2")
}

func TestWritePath(t *testing.T) {
	single, err := New(Config{URL: "http://vm:8428/prefix/"})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := New(Config{URL: "http://vminsert:8480", ReadURL: "http://vmselect:8481", Cluster: true})
	if err != nil {
		t.Fatal(err)
	}
	f := func(c *Client, tn budget.Tenant, want string) {
		t.Helper()
		if got := c.WritePath(tn); got != want {
			t.Fatalf("WritePath(%v) = %q, want %q", tn, got, want)
		}
	}
	f(single, budget.Tenant{}, "/api/v1/write")
	f(single, budget.Tenant{AccountID: 42}, "/insert/42:0/prometheus/api/v1/write")
	f(cluster, budget.Tenant{}, "/insert/0:0/prometheus/api/v1/write")
	f(cluster, budget.Tenant{AccountID: 7, ProjectID: 3}, "/insert/7:3/prometheus/api/v1/write")
	if single.URL() != "http://vm:8428/prefix" || single.ReadURL() != "http://vm:8428/prefix" {
		t.Fatalf("single node URLs %q %q", single.URL(), single.ReadURL())
	}
	if got := cluster.readPath(budget.Tenant{AccountID: 7}, "/api/v1/export"); got != "http://vmselect:8481/select/7:0/prometheus/api/v1/export" {
		t.Fatalf("cluster export path %q", got)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, u := range []string{"", "vm:8428", "ftp://vm", "http://", "http://vm?x=1", "http://vm#f"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) accepted a bad URL", u)
		}
	}
	if _, err := New(Config{URL: "http://vm:8428", ReadURL: "vmselect"}); err == nil {
		t.Error("New accepted a bad read URL")
	}
}
