package remotewrite

// Hand-written rather than VictoriaMetrics' easyproto or lib/prompb: on
// 10,000-series requests (one sample each, no decompression) this scanner
// takes 21.5 ns per sample with 1% SLI series and 40.1 ns with 10%; the
// same algorithm on easyproto.FieldContext 71.6 and 97.5 ns; decoding
// every series, then keeping the wanted ones, 87.5-101.5 ns with easyproto
// and 97.6-109.8 ns with prompb.WriteRequestUnmarshaler. All allocate
// nothing when reused. The gap is the inline fast paths for one-byte tags
// and lengths, and the walk over the rest of a refused series, which looks
// into a label only as far as needed to rule out a second metric name (a
// forged synthetic name hidden behind an innocent first one). Medians of 6
// runs on the 2-core machine of
// `go test -run '^$' -bench BenchmarkScanLibraries -benchmem ./remotewrite`
// (library_compare_test.go). BenchmarkDecodeScan/sli=0%/scan-only takes
// 18.4 ns per sample (snappy included: 33.4 ns, zstd 40.0 ns).

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// Label is a name/value pair of a series.
type Label struct {
	Name  string
	Value string
}

// Sample is one point: Timestamp in Unix milliseconds.
type Sample struct {
	Value     float64
	Timestamp int64
}

// The wire schema (prometheus/prompb remote.proto and types.proto; the
// VictoriaMetrics protocol is the same message zstd-compressed):
//
//	message WriteRequest {
//	  repeated TimeSeries timeseries = 1;
//	  reserved 2;
//	  repeated MetricMetadata metadata = 3;
//	}
//	message TimeSeries {
//	  repeated Label labels = 1;
//	  repeated Sample samples = 2;
//	  repeated Exemplar exemplars = 3;
//	  repeated Histogram histograms = 4;
//	}
//	message Label  { string name = 1; string value = 2; }
//	message Sample { double value = 1; int64 timestamp = 2; }
//
// Unknown fields are skipped by wire type, as protobuf requires.

// Limits bound what a kept series may hold. A series over a limit is not
// kept (it is still forwarded: the upstream decides about it) and counted in
// WriteRequest.Refused.
type Limits struct {
	// MaxLabels is the most labels a kept series may have. Default 64.
	MaxLabels int
	// MaxLabelLen is the longest label name or value of a kept series, in
	// bytes. Default 4096.
	MaxLabelLen int
}

func (l *Limits) defaults() {
	if l.MaxLabels <= 0 {
		l.MaxLabels = 64
	}
	if l.MaxLabelLen <= 0 {
		l.MaxLabelLen = 4096
	}
}

// TimeSeries is a kept series. Its strings alias the decompressed buffer:
// they are valid only until the WriteRequest is reset or reused.
type TimeSeries struct {
	Labels  []Label
	Samples []Sample
	// Key is set by a lazy scan (WriteRequest.Lazy), which leaves Labels
	// empty; AppendLabels decodes them.
	Key SeriesKey
}

// SeriesKey is what a lazy scan records of a kept series instead of its
// labels: what the engine needs to find a series it knows.
type SeriesKey struct {
	// Name is the metric name: the value of the first __name__ label.
	// Kept series of one metric that follow each other share one string
	// (the first one's bytes), so that a caller comparing the names of
	// consecutive series compares pointers rather than bytes it would
	// have to read back from memory.
	Name string
	// Raw hashes the series' label fields as they are on the wire (tags
	// and lengths included, in order): equal label fields, equal Raw. It
	// is seeded per process (rawHash): never persist it.
	Raw uint64
	// msg is the TimeSeries message; nil when the scan was not lazy.
	msg []byte
}

// Lazy reports whether the key is set: Labels were not decoded.
func (k *SeriesKey) Lazy() bool { return k.msg != nil }

// AppendLabels appends the series' labels to dst: Labels, or for a series
// of a lazy scan its labels decoded from the wire, aliasing it as Labels
// would.
func (ts *TimeSeries) AppendLabels(dst []Label) []Label {
	if !ts.Key.Lazy() {
		return append(dst, ts.Labels...)
	}
	for b := ts.Key.msg; len(b) > 0; {
		field, wt, n := readTag(b)
		b = b[n:] // the message was validated by the scan
		if wt != wireBytes {
			b, _ = skipField(b, wt)
			continue
		}
		v, rest, _ := readBytes(b)
		b = rest
		if field == 1 {
			k, val, ok := fastLabel(v)
			if !ok {
				k, val, _ = readLabel(v)
			}
			dst = append(dst, Label{Name: toString(k), Value: toString(val)})
		}
	}
	return dst
}

// WriteRequest holds the result of scanning one request. Reuse it (Reset or
// a pool): in steady state scanning allocates nothing.
type WriteRequest struct {
	// Series are the series the keep function wanted.
	Series []TimeSeries
	// SeriesTotal counts every series on the wire. Samples are read only
	// from kept series: skipping the rest of a series as soon as its name
	// says it is not wanted is what makes the scan cheap.
	SeriesTotal int
	// Refused counts wanted series over the Limits.
	Refused int

	// Buf is scratch space for the decompressed body, kept for reuse.
	Buf []byte

	// Lazy, set before Unmarshal, leaves the Labels of kept series empty
	// and sets their Key instead: a known series needs no labels, so
	// they are decoded (TimeSeries.AppendLabels) only for a new one.
	Lazy bool

	labels  []Label
	samples []Sample
	// name is the Key.Name of the last series a lazy scan kept.
	name string
	// raw is lazySeries' scratch space for the label fields of a series.
	raw []byte
	// known are the label fields lazy scans checked (known.go): the
	// process' set unless a test gives its own; limKey keys them by the
	// Limits of the scan; knownHits counts the series read with them.
	known     *knownLabels
	limKey    uint64
	knownHits int
	// pend queues the kept series waiting for known's answer, npend of
	// them from pend0 on (known.go).
	pend         [pendDepth]pendingSeries
	pend0, npend int
	// asked is keep's answer for the last metric name asked.
	asked asked
	// reference turns skipRefused and asked off: the plain scan that
	// FuzzScanShortcuts compares with.
	reference bool
}

// Reset forgets the scanned series but keeps the memory.
func (wr *WriteRequest) Reset() {
	clear(wr.Series) // drop references into Buf
	wr.Series = wr.Series[:0]
	wr.SeriesTotal, wr.Refused = 0, 0
	clear(wr.labels)
	wr.labels = wr.labels[:0]
	wr.samples = wr.samples[:0]
	wr.name = ""
	wr.pend, wr.pend0, wr.npend = [pendDepth]pendingSeries{}, 0, 0
	wr.asked = asked{}
}

// keyName returns the metric name of a kept series for its SeriesKey:
// the last kept series' name when they are equal (the bytes just read by
// the scan, in the cache), else name itself.
func (wr *WriteRequest) keyName(name []byte) string {
	if string(name) != wr.name {
		wr.name = toString(name)
	}
	return wr.name
}

var nameLabel = []byte("__name__")

// Unmarshal scans src, a decompressed WriteRequest. For every series it
// reads the metric name and asks keep, once for a run of series of the
// same name (keep must answer by the name alone); series keep refuses are
// not decoded (their labels are only walked, see below). Kept series are
// decoded into wr.Series, aliasing src. Errors wrap ErrMalformed.
//
// keep is also called, its answer ignored, with every further non-empty
// value of a label that VictoriaMetrics would take for the metric name (a
// second __name__, or a label with an empty name: VictoriaMetrics keeps the
// last one), so that a caller guarding names sees every name a series can
// end up with.
func (wr *WriteRequest) Unmarshal(src []byte, keep func(name []byte) bool, lim Limits) error {
	wr.Reset()
	lim.defaults()
	if wr.Lazy {
		if wr.known == nil {
			wr.known = sharedKnown()
		}
		wr.limKey = limitsKey(&lim)
	}
	for len(src) > 0 {
		// Fast path: a TimeSeries field (tag 0x0a) with a length of one or
		// two bytes, as nearly every series has (under 16 KiB).
		if len(src) >= 2 && src[0] == 0x0a {
			hdr, l := 2, int(src[1])
			if l >= 0x80 {
				hdr, l = 3, -1 // a longer length: the general decoder
				if len(src) >= 3 && src[2] < 0x80 {
					l = int(src[1])&0x7f | int(src[2])<<7
				}
			}
			if l >= 0 && hdr+l <= len(src) {
				if err := wr.scanSeries(src[hdr:hdr+l], keep, &lim, nil); err != nil {
					return err
				}
				if wr.npend == pendDepth {
					if err := wr.resolve(1, keep, &lim); err != nil {
						return err
					}
				}
				src = src[hdr+l:]
				continue
			}
		}
		field, wt, n := readTag(src)
		if n <= 0 {
			return malformed("WriteRequest", "bad field tag")
		}
		src = src[n:]
		if field != 1 || wt != wireBytes {
			var err error
			if src, err = skipField(src, wt); err != nil {
				return fmt.Errorf("cannot skip WriteRequest field %d: %w", field, err)
			}
			continue
		}
		msg, rest, err := readBytes(src)
		if err != nil {
			return fmt.Errorf("cannot read TimeSeries: %w", err)
		}
		src = rest
		if err := wr.scanSeries(msg, keep, &lim, nil); err != nil {
			return err
		}
		if wr.npend == pendDepth {
			if err := wr.resolve(1, keep, &lim); err != nil {
				return err
			}
		}
	}
	if err := wr.resolve(pendDepth, keep, &lim); err != nil {
		return err
	}
	wr.fixSeries()
	return nil
}

// scanSeries handles one TimeSeries message. It walks the labels until it
// finds the metric name (nearly always the first label) and returns at once
// when keep does not want it; only a kept series is walked again to decode
// its labels and samples. A lazy scan (WriteRequest.Lazy) of a kept series
// in the common form (the name first, then the other labels, then
// samples, every field with one-byte lengths) checks the labels and
// decodes the samples on the way, and hashes its label fields in one go;
// one that may be a series whose label fields it checked before is
// queued and read from its end if it is (known.go); anything else is
// left to lazySeries. resume, when set, is a queued series that was not
// known: the walk goes on after its first label.
func (wr *WriteRequest) scanSeries(msg []byte, keep func([]byte) bool, lim *Limits, resume *pendingSeries) error {
	var name []byte
	labels := 0
	skip := false
	lazy, slow := wr.Lazy, false
	kept := false  // lazy: the name is known and wanted
	named := false // lazy: a label after the first went to scanLabel
	// tailEnd is where the series' last field, one sample, starts and
	// tailRaw the raw hash of the fields before it (0: not found).
	tailEnd, tailRaw := 0, uint64(0)
	s0 := len(wr.samples)
	labEnd := 0 // lazy: the end of the last label field
	ask := &wr.asked
	if wr.reference {
		ask = nil
	}
	i0 := 0
	if resume != nil {
		name, labels, kept, labEnd, i0 = resume.name, 1, true, resume.lab, resume.lab
		tailEnd, tailRaw = resume.tail, resume.raw
	} else {
		wr.SeriesTotal++
	}
	for i := i0; i < len(msg); {
		// Fast path: a one-byte tag of a labels (0x0a) or samples (0x12)
		// field with a one-byte length, which is nearly every field on the
		// wire. Everything else goes through the general decoder.
		tag := msg[i]
		if (tag == 0x0a || tag == 0x12) && i+1 < len(msg) && msg[i+1] < 0x80 {
			start := i + 2
			end := start + int(msg[i+1])
			if end > len(msg) {
				return malformed("TimeSeries", "field past the end")
			}
			i = end
			if tag == 0x12 {
				if lazy && !slow {
					slow = !kept || !wr.lazySample(msg[start:end])
				}
				continue
			}
			labels++
			if kept && !slow {
				// Labels after the samples, or too long, are lazySeries'.
				k, v, ok := fastLabel(msg[start:end])
				if !ok || labEnd != start-2 || len(k) > lim.MaxLabelLen || len(v) > lim.MaxLabelLen {
					slow = true
				} else if labEnd = end; len(k) != 0 && string(k) != "__name__" {
					continue // what maybeName answers for it
				}
				named = true // keep may hear of it: not a known series
			}
			if name != nil && !maybeName(msg[start:end]) {
				continue // inlined: the common label after the name
			}
			if err := scanLabel(msg[start:end], &name, &skip, keep, ask); err != nil {
				return err
			}
			if skip {
				// Refused: only what could still fail the write or name
				// it (skipRefused) needs this loop.
				if !wr.reference {
					i = skipRefused(msg, i)
				}
				continue
			}
			if lazy && !kept && name != nil {
				kept = true
				slow = slow || labels != 1 || start != 2 || !fitLabel(msg[start:end], lim)
				labEnd = end
				if !slow {
					if tail, ok := tailSample(msg); ok && tail >= end {
						tailEnd, tailRaw = tail, rawHash(rawSeed, msg[:tail])
						wr.queue(pendingSeries{msg: msg, name: name, lab: end, tail: tail, raw: tailRaw})
						return nil
					}
				}
				// The queued series come first: this one adds samples.
				if err := wr.resolve(pendDepth, keep, lim); err != nil {
					return err
				}
				s0 = len(wr.samples)
			}
			continue
		}
		slow = true
		field, wt, n := readTag(msg[i:])
		if n <= 0 {
			return malformed("TimeSeries", "bad field tag")
		}
		i += n
		if wt != wireBytes {
			rest, err := skipField(msg[i:], wt)
			if err != nil {
				return fmt.Errorf("cannot skip TimeSeries field %d: %w", field, err)
			}
			i = len(msg) - len(rest)
			continue
		}
		v, rest, err := readBytes(msg[i:])
		if err != nil {
			return fmt.Errorf("cannot read TimeSeries field %d: %w", field, err)
		}
		i = len(msg) - len(rest)
		if field == 1 {
			labels++
			if err := scanLabel(v, &name, &skip, keep, ask); err != nil {
				return err
			}
		}
	}
	if name == nil || skip {
		return nil // a series without a name is nobody's SLI
	}
	if labels > lim.MaxLabels {
		wr.samples = wr.samples[:s0]
		wr.Refused++
		return nil
	}
	if !lazy {
		return wr.decodeSeries(msg, lim)
	}
	if slow {
		wr.samples = wr.samples[:s0]
		return wr.lazySeries(msg, name, lim)
	}
	raw := tailRaw
	if tailEnd != labEnd || tailRaw == 0 {
		raw = rawHash(rawSeed, msg[:labEnd])
	} else if !named && len(wr.samples)-s0 == 1 {
		// Checked label fields, then one sample: known.go.
		wr.known.add(knownKey(raw, wr.limKey))
	}
	wr.Series = append(wr.Series, TimeSeries{
		Samples: wr.samples[s0:len(wr.samples):len(wr.samples)],
		Key:     SeriesKey{Name: wr.keyName(name), Raw: raw, msg: msg},
	})
	return nil
}

// skipRefused returns where the fields of a refused series, from i on,
// stop being ones the scan loop would only step over: the end of msg, or
// the first field that is not in the fast form (one-byte tag 0x0a or
// 0x12 and length, inside msg) or is a label maybeName cannot rule out.
// A refused series is nobody's SLI; what the loop still does with its
// fields is report the malformed and hand further names to keep.
func skipRefused(msg []byte, i int) int {
	for i+1 < len(msg) {
		tag, l := msg[i], int(msg[i+1])
		end := i + 2 + l
		if l >= 0x80 || end > len(msg) {
			return i
		}
		switch tag {
		case 0x12:
		case 0x0a:
			// maybeName on the label at i+2, written out: a call of it
			// costs this loop 5% (FuzzScanShortcuts holds them equal).
			if l < 2 || msg[i+2] != 0x0a || msg[i+3] == 0 ||
				(msg[i+3] == 8 && l >= 10 && string(msg[i+4:i+12]) == "__name__") {
				return i
			}
		default:
			return i
		}
		i = end
	}
	return i
}

// knownSeries adds the kept series of fields msg, whose label fields
// msg[:tail] of raw hash raw are known (known.go), and whose last field,
// at tail, is one sample.
func (wr *WriteRequest) knownSeries(msg, name []byte, tail int, raw uint64) {
	smp, _ := fastSample(msg[tail+2:]) // tailSample checked its form
	wr.knownHits++
	wr.samples = append(wr.samples, smp)
	n := len(wr.samples)
	wr.Series = append(wr.Series, TimeSeries{
		Samples: wr.samples[n-1 : n : n],
		Key:     SeriesKey{Name: wr.keyName(name), Raw: raw, msg: msg},
	})
}

// fitLabel reports whether a label is {1: name, 2: value} with one-byte
// tags and lengths (fastLabel) and within the length limit.
func fitLabel(b []byte, lim *Limits) bool {
	k, v, ok := fastLabel(b)
	return ok && len(k) <= lim.MaxLabelLen && len(v) <= lim.MaxLabelLen
}

// lazySample decodes a sample of a lazy scan; false when it is malformed
// (lazySeries then reports it).
func (wr *WriteRequest) lazySample(b []byte) bool {
	smp, ok := fastSample(b)
	if !ok {
		var err error
		if smp, err = readSample(b); err != nil {
			return false
		}
	}
	wr.samples = append(wr.samples, smp)
	return true
}

// scanLabel handles one label of a series: the first __name__ sets *name
// and asks keep (*skip when refused); any later label VictoriaMetrics
// could take for the name goes to keep too.
func scanLabel(label []byte, name *[]byte, skip *bool, keep func([]byte) bool, last *asked) error {
	if *name == nil {
		if err := findName(label, name); err != nil {
			return err
		}
		if *name != nil {
			*skip = !last.ask(*name, keep)
			return nil
		}
	}
	if !maybeName(label) {
		return nil
	}
	k, v, err := readLabel(label)
	if err != nil {
		return err
	}
	if (len(k) == 0 || string(k) == string(nameLabel)) && len(v) > 0 {
		keep(v)
	}
	return nil
}

// asked is keep's answer for the metric name of the series before, so
// that a run of series of one name (a scrape lists a metric's series
// together) asks keep once: keep answers by the name alone.
type asked struct {
	name []byte // aliases the request; nil: none yet
	keep bool
}

// ask returns keep(name), from a for a repeated name; a nil a always asks.
func (a *asked) ask(name []byte, keep func([]byte) bool) bool {
	if a == nil {
		return keep(name)
	}
	if a.name != nil && string(name) == string(a.name) {
		return a.keep
	}
	a.name, a.keep = name, keep(name)
	return a.keep
}

// maybeName is a cheap test whether a label may be a metric name label:
// anything but {1: name, ...} with a one-byte length of a name other than
// __name__.
func maybeName(label []byte) bool {
	const n = len("__name__")
	return len(label) < 2 || label[0] != 0x0a || label[1] == 0 ||
		(int(label[1]) == n && len(label) >= 2+n && string(label[2:2+n]) == "__name__")
}

// findName sets *name to the label's value if the label is __name__. An
// empty metric name is reported as a non-nil empty slice.
func findName(label []byte, name *[]byte) error {
	// Fast path: {1: "__name__", 2: value} with one-byte lengths, as every
	// encoder writes it; anything else takes the general decoder.
	const n = len("__name__")
	if len(label) >= 2+n+2 && label[0] == 0x0a && label[1] == byte(n) {
		if string(label[2:2+n]) != "__name__" {
			return nil
		}
		if v := label[2+n:]; v[0] == 0x12 && v[1] < 0x80 && int(v[1]) == len(v)-2 {
			*name = v[2:]
			return nil
		}
	}
	k, val, err := readLabel(label)
	if err != nil {
		return err
	}
	if string(k) == string(nameLabel) {
		*name = val
		if len(val) == 0 {
			*name = nameLabel[:0]
		}
	}
	return nil
}

func (wr *WriteRequest) decodeSeries(msg []byte, lim *Limits) error {
	l0, s0 := len(wr.labels), len(wr.samples)
	for b := msg; len(b) > 0; {
		field, wt, n := readTag(b)
		b = b[n:] // the tag was validated by scanSeries
		if wt != wireBytes {
			b, _ = skipField(b, wt)
			continue
		}
		v, rest, _ := readBytes(b)
		b = rest
		switch field {
		case 1:
			k, val, ok := fastLabel(v)
			if !ok {
				var err error
				if k, val, err = readLabel(v); err != nil {
					return err
				}
			}
			if len(k) > lim.MaxLabelLen || len(val) > lim.MaxLabelLen {
				wr.labels = wr.labels[:l0]
				wr.samples = wr.samples[:s0]
				wr.Refused++
				return nil
			}
			wr.labels = append(wr.labels, Label{Name: toString(k), Value: toString(val)})
		case 2:
			s, err := readSample(v)
			if err != nil {
				return err
			}
			wr.samples = append(wr.samples, s)
		}
	}
	// Only the lengths matter here: wr.labels and wr.samples may still grow
	// and move, so Unmarshal points every series into them at the end.
	wr.Series = append(wr.Series, TimeSeries{
		Labels:  wr.labels[l0:len(wr.labels):len(wr.labels)],
		Samples: wr.samples[s0:len(wr.samples):len(wr.samples)],
	})
	return nil
}

// lazySeries is decodeSeries of a lazy scan in any form: it checks the
// labels instead of decoding them, applies the same limits, and hashes
// the label fields as scanSeries does.
func (wr *WriteRequest) lazySeries(msg, name []byte, lim *Limits) error {
	s0 := len(wr.samples)
	wr.raw = wr.raw[:0] // the label fields, for rawHash
	for b := msg; len(b) > 0; {
		f := b
		field, wt, n := readTag(b)
		b = b[n:] // the tag was validated by scanSeries
		if wt != wireBytes {
			b, _ = skipField(b, wt)
			continue
		}
		v, rest, _ := readBytes(b)
		b = rest
		switch field {
		case 1:
			k, val, ok := fastLabel(v)
			if !ok {
				var err error
				if k, val, err = readLabel(v); err != nil {
					return err
				}
			}
			if len(k) > lim.MaxLabelLen || len(val) > lim.MaxLabelLen {
				wr.samples = wr.samples[:s0]
				wr.Refused++
				return nil
			}
			wr.raw = append(wr.raw, f[:len(f)-len(rest)]...)
		case 2:
			s, err := readSample(v)
			if err != nil {
				return err
			}
			wr.samples = append(wr.samples, s)
		}
	}
	wr.Series = append(wr.Series, TimeSeries{
		Samples: wr.samples[s0:len(wr.samples):len(wr.samples)],
		Key:     SeriesKey{Name: wr.keyName(name), Raw: rawHash(rawSeed, wr.raw), msg: msg},
	})
	return nil
}

// fixSeries points every series into the final backing arrays of
// wr.labels and wr.samples.
func (wr *WriteRequest) fixSeries() {
	li, si := 0, 0
	for i := range wr.Series {
		ts := &wr.Series[i]
		nl, ns := len(ts.Labels), len(ts.Samples)
		ts.Labels = wr.labels[li : li+nl : li+nl]
		ts.Samples = wr.samples[si : si+ns : si+ns]
		li += nl
		si += ns
	}
}

// fastLabel decodes {1: name, 2: value} with one-byte tags and lengths,
// the form every encoder writes for labels shorter than 128 bytes; ok is
// false for anything else, which readLabel then decodes.
func fastLabel(b []byte) (name, value []byte, ok bool) {
	if len(b) < 4 || b[0] != 0x0a || b[1] >= 0x80 {
		return nil, nil, false
	}
	n := 2 + int(b[1])
	if n+2 > len(b) || b[n] != 0x12 || b[n+1] >= 0x80 || n+2+int(b[n+1]) != len(b) {
		return nil, nil, false
	}
	return b[2:n], b[n+2:], true
}

func readLabel(b []byte) (name, value []byte, err error) {
	for len(b) > 0 {
		field, wt, n := readTag(b)
		if n <= 0 {
			return nil, nil, malformed("Label", "bad field tag")
		}
		b = b[n:]
		if wt != wireBytes {
			if b, err = skipField(b, wt); err != nil {
				return nil, nil, fmt.Errorf("cannot skip Label field %d: %w", field, err)
			}
			continue
		}
		var v []byte
		if v, b, err = readBytes(b); err != nil {
			return nil, nil, fmt.Errorf("cannot read Label field %d: %w", field, err)
		}
		switch field {
		case 1:
			name = v
		case 2:
			value = v
		}
	}
	return name, value, nil
}

// fastSample decodes a Sample in the form every encoder writes: the value
// (tag 0x09, 8 bytes), then the timestamp (tag 0x10) as a varint of at
// most 9 bytes, and nothing else. ok is false for anything else, which
// readSample then decodes; when ok, the result is readSample's.
func fastSample(b []byte) (s Sample, ok bool) {
	if len(b) < 11 || len(b) > 19 || b[0] != 0x09 || b[9] != 0x10 {
		return s, false
	}
	var ts uint64
	for i, shift := 10, uint(0); i < len(b); i, shift = i+1, shift+7 {
		c := b[i]
		ts |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if i != len(b)-1 {
				return s, false
			}
			return Sample{Value: math.Float64frombits(le64(b[1:])), Timestamp: int64(ts)}, true
		}
	}
	return s, false
}

func readSample(b []byte) (Sample, error) {
	var s Sample
	for len(b) > 0 {
		field, wt, n := readTag(b)
		if n <= 0 {
			return s, malformed("Sample", "bad field tag")
		}
		b = b[n:]
		switch {
		case field == 1 && wt == wireFixed64:
			if len(b) < 8 {
				return s, malformed("Sample", "truncated value")
			}
			s.Value = math.Float64frombits(le64(b))
			b = b[8:]
		case field == 2 && wt == wireVarint:
			v, n := readVarint(b)
			if n <= 0 {
				return s, malformed("Sample", "bad timestamp")
			}
			s.Timestamp = int64(v)
			b = b[n:]
		default:
			var err error
			if b, err = skipField(b, wt); err != nil {
				return s, fmt.Errorf("cannot skip Sample field %d: %w", field, err)
			}
		}
	}
	return s, nil
}

// toString aliases b as a string without copying. The caller guarantees b is
// not modified while the string is in use (until the WriteRequest is reused).
func toString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func malformed(msg, what string) error {
	return fmt.Errorf("cannot decode %s: %w: %s", msg, ErrMalformed, what)
}

var errTruncated = errors.New("truncated")
