package remotewrite

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

// knownSets and knownWays size knownLabels: 2-way sets, 64 KiB.
const (
	knownSets = 4096
	knownWays = 2
)

// knownLabels is a 2-way set-associative set of raw hashes of checked
// label fields, indexed by the hash's low bits; a new hash replaces the
// older of its set's two. 0 is no hash (a hash of 0 is not kept).
type knownLabels struct {
	lim  Limits // the Limits the fields were checked against
	sets [knownSets][knownWays]uint64
}

func (k *knownLabels) has(h uint64) bool {
	s := &k.sets[h%knownSets]
	return h != 0 && (s[0] == h || s[1] == h)
}

func (k *knownLabels) add(h uint64) {
	s := &k.sets[h%knownSets]
	if s[0] != h {
		s[0], s[1] = h, s[0]
	}
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
