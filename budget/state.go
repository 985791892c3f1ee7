package budget

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Engine state snapshots: the counting state of every tenant, so that a
// restarted engine continues as if it had never stopped. Objectives and
// masks are not stored: LoadState takes each route's objective from the
// engine's current Resolve and applies the engine's current masks (so
// SetMasks may run before or after it; see LoadState). Derived data is not
// stored either
// but rebuilt: the ring's and hour ring's sums, the exclusion bits (from
// the masks), sorted routes; nor is the cache of ignored series.
//
// Format (version 2; LoadState also reads version 1, whose buckets hold
// uvarint(hourLen) where version 2 has a layout, and no services), little
// endian; uvarint and varint as in
// encoding/binary (varint is zigzag); str = uvarint(len) bytes;
// differences are taken mod 2^64; wm0 is the tenant's watermark when its
// encoding began, m0 = floor(wm0 / 60000):
//
//	state   = "SLST" version:u8 codec:u8 body         codec 1 (written): zstd frame(s) of body; 0: body
//	body    = uvarint(#sources) source* uvarint(#tenants) tenant*
//	source  = str(name) kind:u8 str(metric) uvarint(#rl) str(routeLabel)*#rl str(statusLabel)
//	          str(bad) le:u64 uvarint(#filter) (str(label) str(regexp))*#filter uvarint(epoch)
//	tenant  = accountID:u32 projectID:u32 varint(wm0) route* 0x00 uvarint(#svc) svc* trailer
//	svc     = str(service name) uvarint(#by) str(value)*#by varint(newest-wm0) buckets
//	route   = 0x01 uvarint(source index) str(value)*#rl varint(newest-wm0) buckets
//	          uvarint(#series) series*
//	buckets = uvarint(0)                                          head noHead: no data yet
//	        | uvarint(1+zigzag(head-m0)) uvarint(ringLen) layout minutes units [slices]
//	          uvarint(foldRawGood) uvarint(foldRawTotal) uvarint(foldExclGood) uvarint(foldExclTotal)
//	layout  = uvarint(unit) [str(time zone) if unit = 0] uvarint(#units) uvarint(slice) [uvarint(phase) if slice > 0]
//	minutes = runs over the ring's ringLen minutes, oldest first
//	units   = runs over the unit ring's good/total, oldest first
//	slices  = runs over the unit ring's slice words (good|bad<<32, excluded), oldest first
//	          uvarint(0) | uvarint(1+zigzag(pending start-m0)) uvarint(incl) uvarint(good) uvarint(total)
//	          uvarint(final good) uvarint(final bad) uvarint(final excluded)           (only if slice > 0)
//	          varint(born-m0) varint(origin-m0)   (version 2: the ring's first start and first counted minute)
//	runs    = (uvarint(zeros) uvarint(k) (varint(total-previous total) varint(total-good))*k)*
//	          until all elements are covered, "previous" being the element before (0 first)
//	series  = hash:u64 target:u64 flags:u8 [points]       flags = class | firstFull<<2 | firstInHist<<3 | n<<4
//	points  = varint(hist[0].ts-wm0) uvarint(hist[0].v) (uvarint(Δts) varint(Δv))*(n-1)
//	          [uvarint(hist[0].ts-first.ts) uvarint(first.v)] unless firstInHist       (absent when n = 0)
//	trailer = varint(wm-wm0) uvarint(stat)*10 uvarint(#targets) (key:u64 varint(earliest-wm0))*
//
// The minute ring is mostly zeros (idle minutes), so it is stored as runs
// of zeros and non-zero minutes, and a busy minute's total as the change
// from the minute before. zstd's fastest level then takes the body to a
// fifth when routes are mostly idle (its default level would also save a
// quarter on busy routes, for three times the encoding time: measured 8.3
// instead of 11.3 KB per busy route, 2.7 instead of 1.0 s for 20,000).
//
// A series' hash is its key without the source index, and a route names
// its source by its place in the snapshot's source list, which holds
// names, counting rules and epochs (see sourceIndex.epochs; targets' keys
// include them): LoadState maps sources by name and drops the state of a
// source that is gone or counts differently (see reload.go), and the order
// of the sources may change.
//
// AppendState does not stop a tenant for the whole encoding: it takes the
// tenant's lock per chunk of routes (stateChunkRoutes or stateChunkBytes).
// A route and its series are always encoded together, so each route is
// consistent; across routes the snapshot is a little fuzzy when Ingest runs
// meanwhile. That is harmless: the watermark is taken last, every route
// keeps its own ring head, the samples a route missed arrived after it was
// encoded, like any sample after a snapshot, and after a crash the replay
// from VictoriaMetrics (from the watermark minus a margin) brings them
// back; and LoadState restores the first-value rule's invariant (a series'
// first point is a baseline only when it is not later than its target's
// start) that a reordered point seen between two chunks may break. A chunk holds the
// lock for well under a millisecond of work (BenchmarkAppendState reports
// the longest Ingest wait, max-ingest-stall-ms).
const (
	stateMagic       = "SLST"
	stateVersion     = 2
	codecNone        = 0
	codecZstd        = 1
	stateChunkRoutes = 64
	stateChunkBytes  = 64 << 10
	stateWindow      = 1 << 20 // zstd window: the body repeats itself at short range
	// maxStateTs bounds every timestamp (ms) LoadState accepts: minute and
	// ms arithmetic on them cannot overflow.
	maxStateTs = 1 << 50
	// minStateRing is the shortest minute ring an engine has (a 72h
	// horizon, MaxFuture of at most a minute); maxStateRing and
	// maxStateUnits bound what LoadState allocates per route.
	minStateRing  = 72*60 + 1 + 2
	maxStateRing  = 1 << 18
	maxStateUnits = 1 << 13
)

// AppendState appends the engine's counting state to dst (see the format
// above). It runs concurrently with Ingest and Evaluate, locking each
// tenant for one chunk of routes at a time; Reload and LoadState wait.
func (e *Engine) AppendState(dst []byte) ([]byte, error) {
	out := &appendWriter{b: dst}
	if err := e.WriteState(out); err != nil {
		return dst, err
	}
	return out.b, nil
}

// WriteState writes what AppendState appends to w, as it is encoded: the
// state is never in memory as a whole. An error of w ends it.
func (e *Engine) WriteState(w io.Writer) error {
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	if _, err := w.Write(append([]byte(stateMagic), stateVersion, codecZstd)); err != nil {
		return err
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(stateWindow))
	if err != nil {
		return fmt.Errorf("cannot compress state: %w", err)
	}
	var werr error
	flush := func(raw []byte) []byte { // the body goes through zstd in pieces
		if _, err := zw.Write(raw); err != nil && werr == nil {
			werr = err
		}
		return raw[:0]
	}
	raw := make([]byte, 0, 2*stateChunkBytes)
	raw = binary.AppendUvarint(raw, uint64(len(e.sources)))
	epochs := e.index.Load().epochs
	for i := range e.sources {
		raw = appendSourceSig(raw, signatureOf(&e.sources[i]))
		raw = binary.AppendUvarint(raw, epochs[i])
	}
	tenants := e.Tenants()
	raw = binary.AppendUvarint(raw, uint64(len(tenants)))
	for _, t := range tenants {
		raw = e.lookupTenant(t).appendState(raw, e, flush)
	}
	flush(raw)
	if err := zw.Close(); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("cannot compress state: %w", werr)
	}
	return nil
}

// appendWriter is an io.Writer appending to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func appendStr(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendSourceSig(dst []byte, s sourceSig) []byte {
	dst = appendStr(dst, s.name)
	dst = append(dst, byte(s.kind))
	dst = appendStr(dst, s.metric)
	dst = binary.AppendUvarint(dst, uint64(len(s.routeLabels)))
	for _, l := range s.routeLabels {
		dst = appendStr(dst, l)
	}
	dst = appendStr(appendStr(dst, s.statusLabel), s.bad)
	dst = binary.LittleEndian.AppendUint64(dst, s.le)
	dst = binary.AppendUvarint(dst, uint64(len(s.filter)))
	for _, l := range s.filter {
		dst = appendStr(appendStr(dst, l.Name), l.Value)
	}
	return dst
}

// appendState encodes tenant t, locking it per chunk of routes; between
// chunks, a dst of stateChunkBytes or more goes to flush, which returns
// what to append to next.
func (t *tenantState) appendState(dst []byte, e *Engine, flush func([]byte) []byte) []byte {
	type ref struct {
		r  *route
		si int
	}
	t.lock()
	wm0 := t.wm
	var refs []ref
	for si, routes := range t.routes {
		from := len(refs)
		for _, r := range routes {
			refs = append(refs, ref{r, si})
		}
		slices.SortFunc(refs[from:], func(a, b ref) int { return strings.Compare(a.r.key, b.r.key) })
	}
	t.mu.Unlock()

	dst = binary.LittleEndian.AppendUint32(dst, t.id.AccountID)
	dst = binary.LittleEndian.AppendUint32(dst, t.id.ProjectID)
	dst = binary.AppendVarint(dst, wm0)
	for i := 0; i < len(refs); {
		t.lock()
		for n, mark := 0, len(dst); i < len(refs) && n < stateChunkRoutes && len(dst)-mark < stateChunkBytes; i, n = i+1, n+1 {
			if rf := refs[i]; t.routes[rf.si][rf.r.key] == rf.r { // not forgotten meanwhile
				// As Evaluate would: the ring ends at the tenant's head, so
				// that SetMasks after LoadState has nothing left to fold.
				rf.r.b.advance(t.head, rf.r.masks, &t.scratch, nil)
				dst = appendRoute(dst, rf.r, rf.si, wm0)
			}
		}
		t.mu.Unlock()
		runtime.Gosched() // let a waiting Ingest in before the next chunk
		if len(dst) >= stateChunkBytes {
			dst = flush(dst)
		}
	}
	dst = append(dst, 0)

	t.lock()
	defer t.mu.Unlock()
	dst = t.appendServices(dst, e, wm0)
	dst = binary.AppendVarint(dst, t.wm-wm0)
	st := &t.stats
	for _, v := range [...]uint64{st.SamplesCounted, st.Duplicates, st.TooOld, st.Future, st.NaN,
		st.Expired, st.RoutesRefused, st.Reorders, st.FirstValueFixups, st.RoutesForgotten} {
		dst = binary.AppendUvarint(dst, v)
	}
	keys := slices.Sorted(maps.Keys(t.targets))
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = binary.LittleEndian.AppendUint64(dst, k)
		dst = binary.AppendVarint(dst, t.targets[k].earliest-wm0)
	}
	return dst
}

// appendRoute encodes route r of source index si and its series.
func appendRoute(dst []byte, r *route, si int, wm0 int64) []byte {
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(si))
	for _, l := range r.labels {
		dst = appendStr(dst, l.Value)
	}
	dst = binary.AppendVarint(dst, r.newest-wm0)
	dst = appendBuckets(dst, &r.b, wm0)
	dst = binary.AppendUvarint(dst, uint64(len(r.series)))
	for _, s := range r.series {
		dst = appendSeries(dst, s, si, wm0)
	}
	return dst
}

// appendBuckets encodes a route's or service's buckets.
func appendBuckets(dst []byte, b *buckets, wm0 int64) []byte {
	if b.head == noHead {
		return append(dst, 0)
	}
	m0 := floorDiv64(wm0, minuteMs)
	dst = appendZigzag1(dst, b.head-m0)
	dst = binary.AppendUvarint(dst, uint64(b.ringLen))
	l := b.lay
	dst = binary.AppendUvarint(dst, uint64(l.unit))
	if l.unit == 0 {
		dst = appendStr(dst, l.loc.String())
	}
	dst = binary.AppendUvarint(dst, uint64(l.n))
	dst = binary.AppendUvarint(dst, uint64(l.sl.len))
	if l.sl.len > 0 {
		dst = binary.AppendUvarint(dst, uint64(l.sl.phase))
	}
	buf := runWords.Get().(*[]uint64)
	defer runWords.Put(buf)
	*buf = b.ringWords((*buf)[:0])
	dst = appendRuns(dst, *buf, 1)
	i0 := int(floorMod64(b.unitHead+1, b.unitLen))
	*buf = (*buf)[:0]
	for k := range int(b.unitLen) {
		g, n := b.unitGet((i0 + k) % int(b.unitLen))
		*buf = append(*buf, g, n)
	}
	dst = appendRuns(dst, *buf, 2)
	if l.sl.len > 0 {
		// Slices of a unit as pairs: good | bad<<32, excluded.
		*buf = (*buf)[:0]
		for k := range int(b.unitLen) {
			j := 3 * ((i0 + k) % int(b.unitLen))
			*buf = append(*buf, b.sl.get(j+sliceGood)|b.sl.get(j+sliceBad)<<32, b.sl.get(j+sliceExcl))
		}
		dst = appendRuns(dst, *buf, 2)
		if b.pend.start == noHead {
			dst = append(dst, 0)
		} else {
			dst = appendZigzag1(dst, b.pend.start-m0)
			dst = binary.AppendUvarint(dst, uint64(b.pend.incl))
			dst = binary.AppendUvarint(dst, b.pend.good)
			dst = binary.AppendUvarint(dst, b.pend.total)
		}
		for _, v := range [...]uint64{b.fin.good, b.fin.bad, b.fin.excl} {
			dst = binary.AppendUvarint(dst, v)
		}
	}
	dst = binary.AppendVarint(dst, b.born-m0)
	dst = binary.AppendVarint(dst, b.origin-m0)
	for _, v := range [...]uint64{b.foldRawGood, b.foldRawTotal, b.foldExclGood, b.foldExclTotal} {
		dst = binary.AppendUvarint(dst, v)
	}
	return dst
}

// appendZigzag1 appends uvarint(1+zigzag(d)): 0 stays free for "none".
func appendZigzag1(dst []byte, d int64) []byte {
	return binary.AppendUvarint(dst, 1+uint64(d<<1^d>>63))
}

// appendServices encodes the tenant's service SLIs. t.mu is held.
func (t *tenantState) appendServices(dst []byte, e *Engine, wm0 int64) []byte {
	svcs := t.sortedServices()
	dst = binary.AppendUvarint(dst, uint64(len(svcs)))
	for _, sv := range svcs {
		t.advanceService(sv)
		dst = appendStr(dst, e.services[sv.def].Name)
		dst = binary.AppendUvarint(dst, uint64(len(sv.labels)))
		for _, l := range sv.labels {
			dst = appendStr(dst, l.Value)
		}
		dst = binary.AppendVarint(dst, sv.newest-wm0)
		dst = appendBuckets(dst, &sv.b, wm0)
	}
	return dst
}

// appendRuns encodes good/total pairs as runs, oldest element first; a
// total is stored as the difference to the one before (0 before the
// first), since traffic changes little from one minute to the next.
// stride 1: words are packed minutes (good | total<<32); stride 2: element
// p is the pair words[2p], words[2p+1].
func appendRuns(dst []byte, words []uint64, stride int) []byte {
	n := len(words) / stride
	var prev uint64
	for k := 0; k < n; {
		z := k + zeroRun(words, stride, k, n-k)
		nz := z
		for nz < n && pairNonZero(words, stride, nz) {
			nz++
		}
		dst = binary.AppendUvarint(dst, uint64(z-k))
		dst = binary.AppendUvarint(dst, uint64(nz-z))
		if z > k {
			prev = 0
		}
		for ; z < nz; z++ {
			g, t := words[z]&math.MaxUint32, words[z]>>32
			if stride == 2 {
				g, t = words[2*z], words[2*z+1]
			}
			dst = binary.AppendVarint(dst, int64(t-prev))
			dst = binary.AppendVarint(dst, int64(t-g))
			prev = t
		}
		k = nz
	}
	return dst
}

// pairNonZero reports whether element q of appendRuns' words is not zero.
func pairNonZero(words []uint64, stride, q int) bool {
	if stride == 1 {
		return words[q] != 0
	}
	return words[2*q]|words[2*q+1] != 0
}

// runWords holds the counts appendBuckets encodes, unpacked.
var runWords = sync.Pool{New: func() any { return new([]uint64) }}

// ringWords appends the ring's minutes, oldest first, as good | total<<32,
// reading them block by block.
func (b *buckets) ringWords(dst []uint64) []uint64 {
	for m := b.ringStart(); m <= b.head; {
		blk, k := b.ring.block(m)
		hi := min(b.head+1, m+60-int64(k))
		hs := b.hsumAt(m)
		if blk.empty() || b.hsum.get(hs+hsGood)|b.hsum.get(hs+hsTotal) == 0 {
			// An hour whose raw sums are 0 (they cannot wrap: at most 60 * 2 *
			// 2^32) holds no events in the ring.
			for ; m < hi; m++ {
				dst = append(dst, 0)
			}
			continue
		}
		dst = blk.appendWords(dst, k, k+int(hi-m))
		m = hi
	}
	return dst
}

// zeroRun returns how many elements, from element p on (wrapping around,
// at most limit), are zero. It scans words, four at a time: most minutes
// of most routes are idle.
func zeroRun(words []uint64, stride, p, limit int) int {
	c := 0
	for c < limit {
		seg := words[p*stride : min(len(words), (p+limit-c)*stride)]
		j := 0
		for j+4 <= len(seg) && seg[j]|seg[j+1]|seg[j+2]|seg[j+3] == 0 {
			j += 4
		}
		for j < len(seg) && seg[j] == 0 {
			j++
		}
		c += j / stride
		if j < len(seg) {
			return c
		}
		p = 0
	}
	return c
}

func appendSeries(dst []byte, s *series, si int, wm0 int64) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, s.key^seriesKey(0, uint16(si)))
	dst = binary.LittleEndian.AppendUint64(dst, s.target.key)
	n := int(s.n)
	inHist := n > 0 && s.first == s.hist[0]
	flags := byte(s.class) | byte(n)<<4
	if s.firstFull {
		flags |= 1 << 2
	}
	if inHist {
		flags |= 1 << 3
	}
	dst = append(dst, flags)
	if n == 0 {
		return dst
	}
	dst = binary.AppendVarint(dst, s.hist[0].ts-wm0)
	dst = binary.AppendUvarint(dst, s.hist[0].v)
	for j := 1; j < n; j++ {
		dst = binary.AppendUvarint(dst, uint64(s.hist[j].ts-s.hist[j-1].ts))
		dst = binary.AppendVarint(dst, int64(s.hist[j].v-s.hist[j-1].v))
	}
	if !inHist {
		dst = binary.AppendUvarint(dst, uint64(s.hist[0].ts-s.first.ts))
		dst = binary.AppendUvarint(dst, s.first.v)
	}
	return dst
}

// stateReader reads the format; after the first error every read returns
// zero and err stays.
type stateReader struct {
	b    []byte
	size int // of the whole body, for offsets in errors
	err  error
}

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.size-len(r.b), fmt.Sprintf(format, args...))
	}
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *stateReader) fixed(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if len(r.b) < n {
		r.fail("truncated")
		r.b = nil
		return make([]byte, n)
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *stateReader) u8() byte    { return r.fixed(1)[0] }
func (r *stateReader) u32() uint32 { return binary.LittleEndian.Uint32(r.fixed(4)) }
func (r *stateReader) u64() uint64 { return binary.LittleEndian.Uint64(r.fixed(8)) }

// count reads a count of items of at least minBytes bytes each, checked
// against the bytes left, so that no count makes an absurd allocation.
func (r *stateReader) count(minBytes int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/minBytes) {
		r.fail("count %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *stateReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("string of %d bytes, %d left", n, len(r.b))
		return ""
	}
	return string(r.fixed(int(n)))
}

// ts reads a timestamp stored relative to base and checks its range
// (sentinel, when not 0, is also accepted).
func (r *stateReader) ts(base, sentinel int64) int64 {
	v := base + r.varint()
	if (v < -maxStateTs || v > maxStateTs) && (sentinel == 0 || v != sentinel) && r.err == nil {
		r.fail("timestamp %d out of range", v)
	}
	return v
}

func (r *stateReader) source() sourceSig {
	s := sourceSig{name: r.str(), kind: SLIKind(r.u8()), metric: r.str()}
	if s.kind > Latency {
		r.fail("unknown source kind %d", s.kind)
	}
	s.routeLabels = make([]string, r.count(1))
	for i := range s.routeLabels {
		s.routeLabels[i] = r.str()
	}
	s.statusLabel, s.bad = r.str(), r.str()
	s.le = r.u64()
	s.filter = make([]Label, r.count(2))
	for i := range s.filter {
		s.filter[i] = Label{Name: r.str(), Value: r.str()}
	}
	return s
}
