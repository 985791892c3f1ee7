package remotewrite

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/slogate/slogate/internal/arena"
	"github.com/slogate/slogate/internal/prefetch"
	"github.com/slogate/slogate/internal/wyhash"
)

// Known label fields. A lazy scan of a kept series walks its labels to
// check them (the form and the Limits) and to find where they end, then
// hashes them for SeriesKey.Raw: about a third of what an SLI sample
// costs on the write path. Scrapes send the same series again and again,
// so a lazy WriteRequest remembers the raw hashes of label fields it
// checked (knownLabels). A kept series whose fields end with one sample
// in the form every encoder writes (fastSample) is then read from its
// end: the fields before the sample are hashed, and when the hash is
// known they are the fields checked before, and the walk is skipped.
// Only series that passed the walk with nothing else to report are
// remembered: every label in the common form within the Limits, no second
// name label (which keep must hear of), one sample. A hash collision of
// two different fields (64 bits, seeded per process: rawSeed) would make
// the second series pass unchecked as the first; SeriesKey.Raw already
// takes the two for one series.

// knownSets and knownWays size knownLabels: 2-way sets, 2 MiB, 262,144
// hashes. One set serves every lazy WriteRequest of the process (a scan
// on one connection finds the fields a scan on another checked), so it
// holds the label fields of the 100,000 or so SLI series that scrapes
// send again and again (about 2% of them lose their place to a third
// hash of their set), however many requests are in flight; a set per
// WriteRequest would hold a few thousand, each learning them anew.
//
// A set that large is not in the cache when a series is looked up, so a
// lazy scan does not wait for the lookup: it queues the series
// (pendingSeries), prefetching its slot, and decides a few series later,
// in order, when the slot has arrived (WriteRequest.resolve).
const (
	knownSets = 1 << 17
	knownWays = 2
)

// knownLabels is a 2-way set-associative set of raw hashes of checked
// label fields, indexed by the hash's low bits; a new hash replaces the
// older of its set's two. 0 is no hash (a hash of 0 is not kept). Scans
// on many goroutines use it at once: a slot is read and written whole
// (atomically), and every value it holds is a hash some scan added, so a
// race loses an entry at worst. The hashes are keyed by the Limits the
// fields were checked against (knownKey).
type knownLabels struct {
	sets [knownSets][knownWays]atomic.Uint64
}

// sharedKnown is the process' set, made on first use outside the Go
// heap (arena.Static), where its 2 MiB would raise the garbage
// collector's goal by as much again.
var sharedKnown = sync.OnceValue(func() *knownLabels {
	if p := arena.Static(int(unsafe.Sizeof(knownLabels{}))); p != nil {
		return (*knownLabels)(p)
	}
	return new(knownLabels)
})

// knownKey is the key of raw, the raw hash of label fields, checked
// against the Limits of key limKey (limitsKey).
func knownKey(raw, limKey uint64) uint64 { return raw ^ limKey }

// limitsKey keys the hashes of knownLabels by the Limits the fields were
// checked against: fields checked under other Limits are checked again.
func limitsKey(lim *Limits) uint64 {
	return wyhash.Mix(rawSeed^uint64(lim.MaxLabels), uint64(lim.MaxLabelLen)^0x9e3779b97f4a7c15)
}

func (k *knownLabels) has(h uint64) bool {
	s := &k.sets[h%knownSets]
	return h != 0 && (s[0].Load() == h || s[1].Load() == h)
}

// prefetch asks for the slot of h, so that has(h) a few series later
// finds it in the cache.
func (k *knownLabels) prefetch(h uint64) { prefetch.Line(unsafe.Pointer(&k.sets[h%knownSets])) }

func (k *knownLabels) add(h uint64) {
	s := &k.sets[h%knownSets]
	if h != 0 {
		if old := s[0].Load(); old != h {
			s[1].Store(old)
			s[0].Store(h)
		}
	}
}

// pendingSeries is a kept series of a lazy scan whose first label (the
// name) was read and whose label fields were hashed, waiting for the
// known set's answer (WriteRequest.resolve).
type pendingSeries struct {
	msg, name []byte
	lab       int    // the end of the first label field
	tail      int    // where the last field, one sample, starts
	raw       uint64 // the raw hash of msg[:tail]
}

// pendDepth is how many series a lazy scan queues before it resolves the
// oldest: a few series' scans, long enough for the slot to arrive.
const pendDepth = 8

// queue adds p to the pending series and asks for its slot.
func (wr *WriteRequest) queue(p pendingSeries) {
	wr.pend[(wr.pend0+wr.npend)%pendDepth] = p
	wr.npend++
	wr.known.prefetch(knownKey(p.raw, wr.limKey))
}

// resolve takes the oldest n pending series, in order: a known one is
// read from its end (knownSeries), any other is walked from its second
// label on, as scanSeries would have.
func (wr *WriteRequest) resolve(n int, keep func([]byte) bool, lim *Limits) error {
	for ; n > 0 && wr.npend > 0; n-- {
		p := wr.pend[wr.pend0]
		wr.pend[wr.pend0] = pendingSeries{}
		wr.pend0 = (wr.pend0 + 1) % pendDepth
		wr.npend--
		if wr.known.has(knownKey(p.raw, wr.limKey)) {
			wr.knownSeries(p.msg, p.name, p.tail, p.raw)
			continue
		}
		if err := wr.scanSeries(p.msg, keep, lim, &p); err != nil {
			return err
		}
	}
	return nil
}

// tailSample finds, in the fields of a series, a last field that is one
// sample in fastSample's form and returns where that field starts; ok is
// false when the series does not end so.
func tailSample(msg []byte) (start int, ok bool) {
	n := len(msg)
	if n < 13 || msg[n-1] >= 0x80 {
		return 0, false
	}
	j := n - 2 // the timestamp's tag, before its varint
	for j >= 0 && msg[j] >= 0x80 {
		j--
	}
	k := n - 1 - j // varint bytes
	if k > 9 || j < 11 || msg[j] != 0x10 || msg[j-9] != 0x09 || msg[j-10] != byte(10+k) || msg[j-11] != 0x12 {
		return 0, false
	}
	return j - 11, true
}
