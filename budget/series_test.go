package budget

import (
	"fmt"
	"strings"
	"testing"
)

// TestSeriesHashStable pins seriesHash: snapshots may store it.
func TestSeriesHashStable(t *testing.T) {
	f := func(tn Tenant, labels []Label, want uint64) {
		t.Helper()
		if got := seriesHash(tn, labels); got != want {
			t.Errorf("seriesHash(%v, %v) = %#x, want %#x", tn, labels, got, want)
		}
	}
	f(Tenant{}, req("a", "200", "i1"), 0x65e4ad9153082817)
	f(Tenant{AccountID: 7, ProjectID: 3}, []Label{{"__name__", "x"},
		{"path", "/a/very/long/path/beyond/sixteen/bytes"}, {"e", ""}}, 0x72fbdd80c3e830a8)
	f(Tenant{}, nil, 0x1ff5c2923a788d2c)
}

func TestSeriesHashDistinct(t *testing.T) {
	seen := map[uint64]string{}
	add := func(tn Tenant, labels ...Label) {
		t.Helper()
		h, key := seriesHash(tn, labels), fmt.Sprint(tn, labels)
		if old, ok := seen[h]; ok && old != key {
			t.Fatalf("collision: %s and %s", old, key)
		}
		seen[h] = key
	}
	for n := range 40 { // every length class, and where the name/value boundary lies
		s := strings.Repeat("x", n)
		add(Tenant{}, Label{"a", s})
		add(Tenant{}, Label{"a" + s, ""})
		add(Tenant{}, Label{s, "a"})
		add(Tenant{}, Label{"a", s}, Label{"b", ""})
		add(Tenant{}, Label{"a", ""}, Label{"b", s})
		add(Tenant{AccountID: uint32(n)}, Label{"a", "b"})
		add(Tenant{ProjectID: uint32(n)}, Label{"a", "b"})
	}
	add(Tenant{}, Label{"a", "b"}, Label{"c", "d"})
	add(Tenant{}, Label{"a", "d"}, Label{"c", "b"})
	for i := range 3000 { // short values whose lengths differ by one
		add(Tenant{}, Label{"host", fmt.Sprintf("h%d", i)})
		add(Tenant{}, Label{"host", fmt.Sprintf("ab%d", i%10)})
	}
	add(Tenant{}, Label{"a", "b"}, Label{"c", "d"}, Label{"c", "d"})
	for i := range 200_000 {
		add(Tenant{}, Label{"__name__", "m"}, Label{"path", fmt.Sprintf("/api/v1/items/%d", i)}, Label{"pod", "web-0"})
		add(Tenant{}, Label{"code", "200"}, Label{"pod", fmt.Sprintf("web-%d", i)})
	}
	// __name__ is not hashed: a series key adds the source, and a source
	// reads one metric.
	if seriesHash(Tenant{}, []Label{{"__name__", "m1"}, {"a", "b"}}) != seriesHash(Tenant{}, []Label{{"a", "b"}, {"__name__", "m2"}}) {
		t.Error("__name__ changes the hash")
	}
	// The order of labels does not: the export of VictoriaMetrics and a
	// sender may order them differently.
	if seriesHash(Tenant{}, []Label{{"a", "b"}, {"c", "d"}}) != seriesHash(Tenant{}, []Label{{"c", "d"}, {"a", "b"}}) {
		t.Error("the label order changes the hash")
	}
}
