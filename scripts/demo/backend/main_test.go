package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestControlSwitchesAnswers(t *testing.T) {
	srv := httptest.NewServer(&service{name: "shop", s: settings{Latency: time.Millisecond}})
	defer srv.Close()
	statuses := func(n int) map[int]int {
		t.Helper()
		got := map[int]int{}
		for range n {
			resp, err := client.Get(srv.URL + "/products/1")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got[resp.StatusCode]++
		}
		return got
	}
	control := func(q string, want int) settings {
		t.Helper()
		resp, err := client.PostForm(srv.URL+"/-/control", mustQuery(t, q))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST /-/control?%s: status %d, want %d", q, resp.StatusCode, want)
		}
		var s settings
		if want == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}

	if got := statuses(20); got[200] != 20 {
		t.Errorf("healthy backend answered %v, want 20 x 200", got)
	}
	if s := control("errors=1&latency=2ms", http.StatusOK); s.Errors != 1 || s.Latency != 2*time.Millisecond {
		t.Errorf("settings after errors=1&latency=2ms: %+v", s)
	}
	if got := statuses(20); got[500] != 20 {
		t.Errorf("errors=1 answered %v, want 20 x 500", got)
	}
	control("down=true", http.StatusOK)
	if got := statuses(5); got[503] != 5 {
		t.Errorf("down=true answered %v, want 5 x 503", got)
	}
	// A bad parameter changes nothing, not even the valid ones with it.
	control("down=false&errors=2", http.StatusBadRequest)
	control("slowLatency=1h", http.StatusBadRequest)
	if s := control("", http.StatusOK); !s.Down || s.Errors != 1 || s.SlowLatency != 0 {
		t.Errorf("settings after refused changes: %+v, want down, errors 1", s)
	}
	control("down=false&errors=0", http.StatusOK)
	if got := statuses(20); got[200] != 20 {
		t.Errorf("recovered backend answered %v, want 20 x 200", got)
	}

	resp, err := client.Get(srv.URL + "/-/control")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s settings
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK || s.Down {
		t.Errorf("GET /-/control: status %d, %+v, %v; want 200 and not down", resp.StatusCode, s, err)
	}
}

func TestSlowShare(t *testing.T) {
	srv := httptest.NewServer(&service{name: "api", s: settings{Slow: 1, SlowLatency: 30 * time.Millisecond}})
	defer srv.Close()
	start := time.Now()
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("slow=1 answered in %s, want at least slowLatency 30ms", d)
	}
}

func mustQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// client bounds every request of these tests.
var client = &http.Client{Timeout: time.Minute}
