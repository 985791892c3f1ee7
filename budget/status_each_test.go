package budget

import (
	"errors"
	"reflect"
	"testing"
)

// EachStatus hands out, chunk by chunk, exactly what Evaluate returns, and
// stops at fn's error.
func TestEachStatus(t *testing.T) {
	const routes = 3*evalChunk + 5
	e, at := newLoadedEngine(routes)
	want := e.Evaluate(Tenant{}, at)
	var got []RouteStatus
	chunks := 0
	buf, err := e.EachStatus(Tenant{}, at, nil, func(c []RouteStatus) error {
		if len(c) == 0 || len(c) > evalChunk {
			t.Fatalf("chunk of %d statuses", len(c))
		}
		chunks++
		got = append(got, c...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if chunks != 4 || !reflect.DeepEqual(got, want) {
		t.Fatalf("%d chunks, %d statuses; want 4 and the %d of Evaluate", chunks, len(got), len(want))
	}
	stop := errors.New("stop")
	chunks = 0
	if _, err := e.EachStatus(Tenant{}, at, buf, func([]RouteStatus) error { chunks++; return stop }); err != stop || chunks != 1 {
		t.Fatalf("err %v after %d chunks; want stop after 1", err, chunks)
	}
	if _, err := e.EachStatus(Tenant{AccountID: 7}, at, buf, func([]RouteStatus) error { t.Fatal("chunk of an unknown tenant"); return nil }); err != nil {
		t.Fatal(err)
	}
}
