package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slogate/slogate/budget"
)

// The route journal says which routes a restart must replay from
// VictoriaMetrics when no snapshot holds them yet: every route the engine
// creates is appended (identity and first event time) and made durable
// before the write that created it is acknowledged. A snapshot makes the
// records of the routes it holds unnecessary: Compact drops them.
//
// The file is
//
//	magic "SLOGJRNL", format version (uint32 LE), then records:
//	payload length (uint32 LE), payload, CRC-32C of the payload (uint32 LE)
//
// and a payload is
//
//	accountID (uint32 LE), projectID (uint32 LE), first event (int64 LE, Unix ms),
//	source (uvarint length, bytes), label count (uvarint),
//	per label: name and value (uvarint length, bytes each)
//
// Records are only appended (and fsynced) or the file is replaced
// atomically (Compact), so a crash can only leave a torn last record: it is
// detected by its length or checksum, cut off and reported at open. It was
// never acknowledged (the fsync that would have made it durable did not
// return).
const (
	journalMagic   = "SLOGJRNL"
	journalVersion = 1
	journalHeader  = len(journalMagic) + 4
	// maxJournalRecord bounds a payload: a route has a few short labels.
	maxJournalRecord = 1 << 20
)

// ErrCorruptJournal is the error of a journal record (or header) that
// fails verification.
var ErrCorruptJournal = errors.New("corrupt route journal")

// Journal is the durable route journal. Add is the engine's NewRoute hook
// (quick, no IO); Sync makes what was added durable. Safe for concurrent
// use.
type Journal struct {
	path string
	// syncMu serializes Sync and Compact: the file's IO.
	syncMu sync.Mutex
	// mu guards the fields below; it is never held during IO except by
	// Open and Close.
	mu      sync.Mutex
	f       *os.File
	size    int64          // bytes of the file, all durable
	written []journalEntry // records in the file, in order
	pending []journalEntry // records added, not yet written
	// firsts holds the first event of every route in written and
	// pending, by journalKey.
	firsts  map[string]int64
	nextSeq uint64
	dirty   atomic.Bool // len(pending) > 0

	syncs atomic.Uint64 // fsyncs of appended records
}

// journalEntry is one encoded record.
type journalEntry struct {
	seq   uint64
	key   string
	first int64
	frame []byte
}

// JournalContents is what OpenJournal read.
type JournalContents struct {
	// Routes are the journaled routes, one per identity (with its
	// earliest first event), in file order.
	Routes []budget.NewRoute
	// Torn is why the end of the file was cut off (nil when it was
	// whole), TornBytes how much was cut off.
	Torn      error
	TornBytes int64
}

// OpenJournal opens the journal at path, creating it (and its directory)
// when missing, and reads it. A torn or corrupt tail is cut off and
// reported in JournalContents; a file that is no journal at all is set
// aside (path.corrupt-<time>) and a new one is started.
func OpenJournal(path string, now time.Time) (*Journal, JournalContents, error) {
	var out JournalContents
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, out, fmt.Errorf("cannot create state directory: %w", err)
	}
	if err := RemoveTemps(path); err != nil { // of a compaction a crash cut short
		return nil, out, err
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		data = nil
	case err != nil:
		return nil, out, fmt.Errorf("cannot read route journal: %w", err)
	case len(data) < journalHeader || string(data[:len(journalMagic)]) != journalMagic ||
		binary.LittleEndian.Uint32(data[len(journalMagic):]) != journalVersion:
		out.Torn = fmt.Errorf("%w %s: no journal header of version %d", ErrCorruptJournal, path, journalVersion)
		out.TornBytes = int64(len(data))
		if _, err := SetAside(path, now); err != nil {
			return nil, out, err
		}
		data = nil
	}
	if data == nil {
		data = binary.LittleEndian.AppendUint32([]byte(journalMagic), journalVersion)
		if err := WriteFileAtomic(path, data); err != nil {
			return nil, out, fmt.Errorf("cannot create route journal: %w", err)
		}
	}
	j := &Journal{path: path, firsts: map[string]int64{}}
	index := map[string]int{} // key -> index in out.Routes
	off := journalHeader
	for off < len(data) {
		r, n, err := decodeJournalRecord(data[off:])
		if err != nil {
			out.Torn = fmt.Errorf("%w %s at byte %d: %w", ErrCorruptJournal, path, off, err)
			out.TornBytes = int64(len(data) - off)
			break
		}
		key := journalKey(r)
		if i, ok := index[key]; !ok {
			index[key] = len(out.Routes)
			out.Routes = append(out.Routes, r)
		} else {
			out.Routes[i].First = min(out.Routes[i].First, r.First)
		}
		j.firsts[key] = out.Routes[index[key]].First
		j.written = append(j.written, journalEntry{seq: j.nextSeq, key: key, first: r.First, frame: data[off : off+n]})
		j.nextSeq++
		off += n
	}
	j.f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, out, fmt.Errorf("cannot open route journal: %w", err)
	}
	j.size = int64(off)
	if out.Torn != nil {
		if err := j.f.Truncate(j.size); err != nil {
			j.f.Close()
			return nil, out, fmt.Errorf("cannot cut the torn tail off the route journal: %w", err)
		}
		if err := j.f.Sync(); err != nil {
			j.f.Close()
			return nil, out, fmt.Errorf("cannot cut the torn tail off the route journal: %w", err)
		}
	}
	return j, out, nil
}

// Add records a new route, or an earlier first event of a route; it does
// no IO (Sync does). A route already in the journal with this first event
// or an earlier one is not added again. It is the engine's NewRoute hook.
func (j *Journal) Add(r budget.NewRoute) {
	key := journalKey(r)
	j.mu.Lock()
	defer j.mu.Unlock()
	if f, ok := j.firsts[key]; ok && f <= r.First {
		return
	}
	j.firsts[key] = r.First
	j.pending = append(j.pending, journalEntry{seq: j.nextSeq, key: key, first: r.First, frame: appendJournalRecord(nil, r)})
	j.nextSeq++
	j.dirty.Store(true)
}

// Pending reports whether records were added and are not durable yet. It
// is one atomic load: the write path asks it for every write.
func (j *Journal) Pending() bool { return j.dirty.Load() }

// Sync appends the pending records and fsyncs the file, once for every
// record pending when it is called (a concurrent Sync may have done it
// already: then it does nothing). When it fails, the records stay pending
// and the file is cut back to its last durable size.
func (j *Journal) Sync() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	batch := j.pending
	j.pending = nil
	j.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	var buf []byte
	for _, e := range batch {
		buf = append(buf, e.frame...)
	}
	_, err := j.f.WriteAt(buf, j.size)
	if err == nil {
		err = j.f.Sync()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		_ = j.f.Truncate(j.size) // best effort; a torn tail is cut off at open anyway
		j.pending = append(batch, j.pending...)
		return fmt.Errorf("cannot append to route journal %s: %w", j.path, err)
	}
	j.syncs.Add(1)
	j.size += int64(len(buf))
	j.written = append(j.written, batch...)
	j.dirty.Store(len(j.pending) > 0)
	return nil
}

// Mark returns the journal's position: every route added before it is
// held by a snapshot taken after it (the engine adds a route once it
// exists). Pass it to Compact once that snapshot is durable.
func (j *Journal) Mark() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.nextSeq
}

// Compact drops the records added before mark (see Mark): the file is
// replaced atomically by one holding the others, and such records still
// pending are forgotten (a snapshot holds them).
func (j *Journal) Compact(mark uint64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	j.pending = dropBefore(j.pending, mark)
	j.dirty.Store(len(j.pending) > 0)
	kept := dropBefore(j.written, mark)
	dropped := len(kept) != len(j.written)
	j.mu.Unlock()
	if dropped {
		data := binary.LittleEndian.AppendUint32([]byte(journalMagic), journalVersion)
		for _, e := range kept {
			data = append(data, e.frame...)
		}
		if err := WriteFileAtomic(j.path, data); err != nil {
			return fmt.Errorf("cannot compact route journal %s: %w", j.path, err)
		}
		f, err := os.OpenFile(j.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("cannot reopen route journal %s: %w", j.path, err)
		}
		j.mu.Lock()
		j.f.Close()
		j.f, j.size, j.written = f, int64(len(data)), kept
		j.mu.Unlock()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.firsts)
	for _, e := range append(slices.Clip(j.written), j.pending...) {
		if f, ok := j.firsts[e.key]; !ok || e.first < f {
			j.firsts[e.key] = e.first
		}
	}
	return nil
}

// dropBefore returns the entries of es added at or after mark (a new
// slice: es may be shared with a batch being written).
func dropBefore(es []journalEntry, mark uint64) []journalEntry {
	var out []journalEntry
	for _, e := range es {
		if e.seq >= mark {
			out = append(out, e)
		}
	}
	return out
}

// JournalStats are the journal's figures for self-metrics.
type JournalStats struct {
	// Bytes is the file's size, Records the records in it, Pending those
	// added and not yet written.
	Bytes            int64
	Records, Pending int
	// Syncs counts the fsyncs of appended records.
	Syncs uint64
}

// Stats returns the journal's figures.
func (j *Journal) Stats() JournalStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return JournalStats{Bytes: j.size, Records: len(j.written), Pending: len(j.pending), Syncs: j.syncs.Load()}
}

// Close closes the file; pending records are not written.
func (j *Journal) Close() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}

// journalKey identifies a route across tenants.
func journalKey(r budget.NewRoute) string {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], r.Tenant.AccountID)
	binary.LittleEndian.PutUint32(b[4:], r.Tenant.ProjectID)
	return string(b[:]) + r.Key()
}

var errShortRecord = errors.New("record cut short")

// appendJournalRecord appends the framed record of r to dst.
func appendJournalRecord(dst []byte, r budget.NewRoute) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // length, set below
	dst = binary.LittleEndian.AppendUint32(dst, r.Tenant.AccountID)
	dst = binary.LittleEndian.AppendUint32(dst, r.Tenant.ProjectID)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.First))
	dst = appendString(dst, r.Source)
	dst = binary.AppendUvarint(dst, uint64(len(r.Labels)))
	for _, l := range r.Labels {
		dst = appendString(dst, l.Name)
		dst = appendString(dst, l.Value)
	}
	payload := dst[start+4:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeJournalRecord decodes the framed record at the start of b and
// returns it with the frame's length. The strings are copies.
func decodeJournalRecord(b []byte) (budget.NewRoute, int, error) {
	var r budget.NewRoute
	if len(b) < 4 {
		return r, 0, errShortRecord
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxJournalRecord {
		return r, 0, fmt.Errorf("record length %d over the limit of %d bytes", n, maxJournalRecord)
	}
	if uint64(len(b)) < 4+uint64(n)+4 {
		return r, 0, errShortRecord
	}
	payload := b[4 : 4+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4+n:]) {
		return r, 0, errors.New("checksum mismatch")
	}
	d := decoder{b: payload}
	r.Tenant.AccountID = d.uint32()
	r.Tenant.ProjectID = d.uint32()
	r.First = int64(d.uint64())
	r.Source = d.string()
	count := d.uvarint()
	if count > uint64(len(d.b)) { // every label takes at least two bytes
		return r, 0, fmt.Errorf("label count %d larger than the record", count)
	}
	r.Labels = make([]budget.Label, 0, count)
	for range count {
		name := d.string()
		r.Labels = append(r.Labels, budget.Label{Name: name, Value: d.string()})
	}
	if d.err != nil {
		return r, 0, d.err
	}
	if len(d.b) != 0 {
		return r, 0, fmt.Errorf("%d bytes after the record", len(d.b))
	}
	return r, int(n) + 8, nil
}

// decoder reads a payload; the first error sticks and later reads return
// zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errors.New("payload cut short")
	}
	d.b = nil
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
