package budget

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/slogate/slogate/internal/wyhash"
)

// seriesHash against xxhash on ingress label sets: ingress-nginx (14
// labels, 13 hashed) and Traefik (7 labels, 6 hashed). Every variant keeps
// what seriesHash promises: the label order and __name__ do not matter, the
// tenant does. Run:
//
//	go test ./budget -run '^$' -bench BenchmarkSeriesHashVsXxhash -benchmem -count 3
//
//   - wyhash: seriesHash.
//   - xxhash-strings: xxhash.Sum64String of each name and value, read in
//     place, the two folded with wyhash.Mix and the label hashes summed.
//   - xxhash-digest: one xxhash.Digest per label, name and value written
//     with a separator.
//   - xxhash-copy: each label copied into a stack buffer (name, 0xff,
//     value) and hashed with xxhash.Sum64.

func BenchmarkSeriesHashVsXxhash(b *testing.B) {
	sets := map[string][][]Label{
		"nginx-14":  nginxSeries(64, []string{"200", "404", "503"}),
		"traefik-7": traefikSeries(64, []string{"200", "404", "503"}),
	}
	for _, set := range []string{"nginx-14", "traefik-7"} {
		series := sets[set]
		for _, h := range seriesHashers {
			b.Run(set+"/"+h.name, func(b *testing.B) {
				b.SetBytes(labelBytes(series))
				b.ReportAllocs()
				var sink uint64
				i := 0
				for b.Loop() {
					sink += h.fn(Tenant{AccountID: 1}, series[i])
					if i++; i == len(series) {
						i = 0
					}
				}
				_ = sink
			})
		}
	}
}

var seriesHashers = []struct {
	name string
	fn   func(Tenant, []Label) uint64
}{
	{"wyhash", seriesHash},
	{"xxhash-strings", xxhashStrings},
	{"xxhash-digest", xxhashDigest},
	{"xxhash-copy", xxhashCopy},
}

// TestSeriesHashVariantsKeepContract checks that every benchmarked variant
// has seriesHash's properties, so the comparison is like for like, and that
// none allocates.
func TestSeriesHashVariantsKeepContract(t *testing.T) {
	ls := nginxSeries(1, []string{"200"})[0]
	rev := make([]Label, len(ls))
	for i := range ls {
		rev[len(ls)-1-i] = ls[i]
	}
	renamed := append([]Label{{Name: "__name__", Value: "other"}}, ls[1:]...)
	for _, h := range seriesHashers {
		a := h.fn(Tenant{}, ls)
		if h.fn(Tenant{}, rev) != a || h.fn(Tenant{}, renamed) != a {
			t.Errorf("%s: label order or __name__ changes the hash", h.name)
		}
		if h.fn(Tenant{AccountID: 1}, ls) == a || h.fn(Tenant{ProjectID: 1}, ls) == a {
			t.Errorf("%s: the tenant does not change the hash", h.name)
		}
		if h.fn(Tenant{}, []Label{{Name: "a", Value: "bc"}}) == h.fn(Tenant{}, []Label{{Name: "ab", Value: "c"}}) {
			t.Errorf("%s: the name/value boundary does not change the hash", h.name)
		}
		seen := map[uint64]bool{}
		for i := range 100_000 {
			seen[h.fn(Tenant{}, []Label{{Name: "path", Value: fmt.Sprintf("/api/v1/items/%d", i)}, {Name: "pod", Value: "web-0"}})] = true
		}
		if len(seen) != 100_000 {
			t.Errorf("%s: %d collisions in 100,000 series", h.name, 100_000-len(seen))
		}
		if n := testing.AllocsPerRun(100, func() { h.fn(Tenant{}, ls) }); n != 0 {
			t.Errorf("%s: %v allocs per hash", h.name, n)
		}
	}
}

func isName(l *Label) bool { return len(l.Name) == len("__name__") && l.Name == "__name__" }

func xxhashStrings(t Tenant, labels []Label) uint64 {
	var sum uint64
	n := 0
	for i := range labels {
		if isName(&labels[i]) {
			continue
		}
		// Name and value hashed apart: the boundary between them is kept by
		// folding the two hashes asymmetrically.
		sum += wyhash.Mix(xxhash.Sum64String(labels[i].Name)^wyhash.P0, xxhash.Sum64String(labels[i].Value)^wyhash.P1)
		n++
	}
	tenant := uint64(t.AccountID)<<32 | uint64(t.ProjectID)
	return wyhash.Mix(sum^tenant^wyhash.P0, uint64(n)^wyhash.P1)
}

func xxhashDigest(t Tenant, labels []Label) uint64 {
	var sum uint64
	n := 0
	var d xxhash.Digest
	for i := range labels {
		if isName(&labels[i]) {
			continue
		}
		d.Reset()
		_, _ = d.WriteString(labels[i].Name)
		_, _ = d.Write([]byte{0xff}) // no label name holds 0xff
		_, _ = d.WriteString(labels[i].Value)
		sum += d.Sum64()
		n++
	}
	return xxhashFinish(t, sum, n)
}

func xxhashCopy(t Tenant, labels []Label) uint64 {
	var sum uint64
	n := 0
	var buf [512]byte
	for i := range labels {
		if isName(&labels[i]) {
			continue
		}
		b := append(buf[:0], labels[i].Name...)
		b = append(b, 0xff)
		b = append(b, labels[i].Value...)
		sum += xxhash.Sum64(b)
		n++
	}
	return xxhashFinish(t, sum, n)
}

// xxhashFinish mixes the order-independent sum of n label hashes with the
// tenant, as seriesHash does.
func xxhashFinish(t Tenant, sum uint64, n int) uint64 {
	var tail [16]byte
	binary.LittleEndian.PutUint64(tail[:], sum)
	binary.LittleEndian.PutUint32(tail[8:], t.AccountID)
	binary.LittleEndian.PutUint32(tail[12:], t.ProjectID)
	return xxhash.Sum64(tail[:]) ^ uint64(n)
}
