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
	f(Tenant{AccountID: 7, ProjectID: 3}, []Label{{Name: "__name__", Value: "x"},
		{Name: "path", Value: "/a/very/long/path/beyond/sixteen/bytes"}, {Name: "e", Value: ""}}, 0x72fbdd80c3e830a8)
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
		add(Tenant{}, Label{Name: "a", Value: s})
		add(Tenant{}, Label{Name: "a" + s, Value: ""})
		add(Tenant{}, Label{Name: s, Value: "a"})
		add(Tenant{}, Label{Name: "a", Value: s}, Label{Name: "b", Value: ""})
		add(Tenant{}, Label{Name: "a", Value: ""}, Label{Name: "b", Value: s})
		add(Tenant{AccountID: uint32(n)}, Label{Name: "a", Value: "b"})
		add(Tenant{ProjectID: uint32(n)}, Label{Name: "a", Value: "b"})
	}
	add(Tenant{}, Label{Name: "a", Value: "b"}, Label{Name: "c", Value: "d"})
	add(Tenant{}, Label{Name: "a", Value: "d"}, Label{Name: "c", Value: "b"})
	for i := range 3000 { // short values whose lengths differ by one
		add(Tenant{}, Label{Name: "host", Value: fmt.Sprintf("h%d", i)})
		add(Tenant{}, Label{Name: "host", Value: fmt.Sprintf("ab%d", i%10)})
	}
	add(Tenant{}, Label{Name: "a", Value: "b"}, Label{Name: "c", Value: "d"}, Label{Name: "c", Value: "d"})
	for i := range 200_000 {
		add(Tenant{}, Label{Name: "__name__", Value: "m"}, Label{Name: "path", Value: fmt.Sprintf("/api/v1/items/%d", i)}, Label{Name: "pod", Value: "web-0"})
		add(Tenant{}, Label{Name: "code", Value: "200"}, Label{Name: "pod", Value: fmt.Sprintf("web-%d", i)})
	}
	// __name__ is not hashed: a series key adds the source, and a source
	// reads one metric.
	if seriesHash(Tenant{}, []Label{{Name: "__name__", Value: "m1"}, {Name: "a", Value: "b"}}) != seriesHash(Tenant{}, []Label{{Name: "a", Value: "b"}, {Name: "__name__", Value: "m2"}}) {
		t.Error("__name__ changes the hash")
	}
	// The order of labels does not: the export of VictoriaMetrics and a
	// sender may order them differently.
	if seriesHash(Tenant{}, []Label{{Name: "a", Value: "b"}, {Name: "c", Value: "d"}}) != seriesHash(Tenant{}, []Label{{Name: "c", Value: "d"}, {Name: "a", Value: "b"}}) {
		t.Error("the label order changes the hash")
	}
}
