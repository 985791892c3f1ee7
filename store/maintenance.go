package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/slogate/slogate/budget"
	"github.com/slogate/slogate/maintenance"
)

// ErrTooOld is returned for a window that starts before the retroactive
// limit: history that old is no longer minute-exact.
var ErrTooOld = errors.New("older than the retroactive limit")

// ErrNotFound is returned for an unknown window ID.
var ErrNotFound = errors.New("no such maintenance window")

// ErrFromConfig is returned when the API tries to change a window of the
// configuration file.
var ErrFromConfig = errors.New("window is defined in the configuration file; change it there")

// AuditEntry is one change of the maintenance windows.
type AuditEntry struct {
	Time   time.Time         `json:"time"`
	Action string            `json:"action"` // "create", "update" or "delete"
	ID     string            `json:"id"`
	Author string            `json:"author"`
	Reason string            `json:"reason"`
	Before *maintenance.Spec `json:"before,omitempty"`
	After  *maintenance.Spec `json:"after,omitempty"`
}

// storedWindow is a window as maintenance.json keeps it.
type storedWindow struct {
	ID      string           `json:"id"`
	Created time.Time        `json:"created"`
	Spec    maintenance.Spec `json:"spec"`
}

// Maintenance holds the maintenance windows of the API, durably: every
// change is written and fsynced (windows file replaced atomically, audit
// log appended) before it is applied and acknowledged. Windows of the
// configuration file are held beside them, read-only. Safe for concurrent
// use.
type Maintenance struct {
	dir      string
	limit    time.Duration
	now      func() time.Time
	onChange func([]budget.Mask)

	mu     sync.Mutex
	api    []*maintenance.Window
	config []*maintenance.Window
	nextID int
	audit  []AuditEntry // the newest maxAuditInMemory entries
}

const (
	windowsFile      = "maintenance.json"
	auditFile        = "maintenance-audit.jsonl"
	maxAuditInMemory = 10_000
)

// OpenMaintenance loads the windows and the audit log from dir
// (created if missing). limit is the retroactive limit; onChange receives
// every window (config and API) after each change, and once at open.
func OpenMaintenance(dir string, limit time.Duration, now func() time.Time, config []*maintenance.Window, onChange func([]budget.Mask)) (*Maintenance, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create state directory: %w", err)
	}
	s := &Maintenance{dir: dir, limit: limit, now: now, onChange: onChange, config: config}
	data, err := os.ReadFile(filepath.Join(dir, windowsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot read maintenance windows: %w", err)
	}
	if len(data) > 0 {
		var stored []storedWindow
		if err := json.Unmarshal(data, &stored); err != nil {
			return nil, fmt.Errorf("cannot parse %s: %w", filepath.Join(dir, windowsFile), err)
		}
		for _, sw := range stored {
			m, err := maintenance.New(sw.Spec, sw.Created)
			if err != nil {
				return nil, fmt.Errorf("cannot load maintenance window %s: %w", sw.ID, err)
			}
			m.ID, m.Source = sw.ID, maintenance.FromAPI
			s.api = append(s.api, m)
			s.bumpID(sw.ID)
		}
	}
	if err := s.loadAudit(); err != nil {
		return nil, err
	}
	s.notify()
	return s, nil
}

func (s *Maintenance) bumpID(id string) {
	if n, err := strconv.Atoi(id[min(len(id), len("mw-")):]); err == nil && n >= s.nextID {
		s.nextID = n + 1
	}
}

func (s *Maintenance) loadAudit() error {
	f, err := os.Open(filepath.Join(s.dir, auditFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot open audit log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// A torn last line from a crash mid-append is the only way
			// to get here; the change it described was not acknowledged.
			continue
		}
		s.audit = append(s.audit, e)
		if len(s.audit) > maxAuditInMemory {
			s.audit = s.audit[len(s.audit)-maxAuditInMemory:]
		}
	}
	return sc.Err()
}

// SetConfig replaces the windows of the configuration file (on reload).
func (s *Maintenance) SetConfig(config []*maintenance.Window) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = config
	s.notify()
}

// List returns every window: the configuration file's, then the API's.
func (s *Maintenance) List() []*maintenance.Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Concat(s.config, s.api)
}

// Audit returns the audit log, oldest first (the newest 10,000 entries).
func (s *Maintenance) Audit() []AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit)
}

// Limit is the retroactive limit.
func (s *Maintenance) Limit() time.Duration { return s.limit }

// Create validates and stores a new window. author and reason come from
// the spec.
func (s *Maintenance) Create(spec maintenance.Spec) (*maintenance.Window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.validate(spec)
	if err != nil {
		return nil, err
	}
	m.ID = "mw-" + strconv.Itoa(s.nextID)
	next := append(slices.Clone(s.api), m)
	after := m.Spec()
	if err := s.commit(next, AuditEntry{Action: "create", ID: m.ID, Author: spec.Author, Reason: spec.Reason, After: &after}); err != nil {
		return nil, err
	}
	s.nextID++
	return m, nil
}

// Update replaces the window id (e.g. to shorten it after the fact).
func (s *Maintenance) Update(id string, spec maintenance.Spec) (*maintenance.Window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.find(id)
	if err != nil {
		return nil, err
	}
	m, err := s.validate(spec)
	if err != nil {
		return nil, err
	}
	m.ID = id
	next := slices.Clone(s.api)
	before, after := next[i].Spec(), m.Spec()
	next[i] = m
	if err := s.commit(next, AuditEntry{Action: "update", ID: id, Author: spec.Author, Reason: spec.Reason, Before: &before, After: &after}); err != nil {
		return nil, err
	}
	return m, nil
}

// Delete removes the window id; author and reason go to the audit log.
func (s *Maintenance) Delete(id, author, reason string) (*maintenance.Window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.find(id)
	if err != nil {
		return nil, err
	}
	old := s.api[i]
	before := old.Spec()
	next := slices.Delete(slices.Clone(s.api), i, i+1)
	if err := s.commit(next, AuditEntry{Action: "delete", ID: id, Author: author, Reason: reason, Before: &before}); err != nil {
		return nil, err
	}
	return old, nil
}

func (s *Maintenance) find(id string) (int, error) {
	for _, m := range s.config {
		if m.ID == id {
			return 0, fmt.Errorf("cannot change %s: %w", id, ErrFromConfig)
		}
	}
	for i, m := range s.api {
		if m.ID == id {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrNotFound, id)
}

// validate builds the window and applies the retroactive limit: a window
// may not start before now - limit (for a recurring window, its first
// occurrence).
func (s *Maintenance) validate(spec maintenance.Spec) (*maintenance.Window, error) {
	now := s.now()
	m, err := maintenance.New(spec, now)
	if err != nil {
		return nil, err
	}
	if oldest := now.Add(-s.limit); m.Start.Before(oldest) {
		return nil, &maintenance.FieldError{Field: "start", Err: fmt.Errorf("%s is %w (-maintenance.retroactiveLimit=%s); the oldest allowed start is %s",
			m.Start.UTC().Format(time.RFC3339), ErrTooOld, s.limit, oldest.UTC().Format(time.RFC3339))}
	}
	m.Source = maintenance.FromAPI
	return m, nil
}

// commit makes a change durable, then applies it: the audit entry is
// appended and fsynced, then the windows file is replaced atomically. A
// crash between the two leaves an audit entry for a change that was not
// acknowledged, never an acknowledged change without its entry.
func (s *Maintenance) commit(next []*maintenance.Window, e AuditEntry) error {
	e.Time = s.now().UTC()
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cannot encode audit entry: %w", err)
	}
	if err := appendSync(filepath.Join(s.dir, auditFile), append(line, '\n')); err != nil {
		return fmt.Errorf("cannot write audit log: %w", err)
	}
	stored := make([]storedWindow, len(next))
	for i, m := range next {
		stored[i] = storedWindow{ID: m.ID, Created: m.Created, Spec: m.Spec()}
	}
	data, err := json.MarshalIndent(stored, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode maintenance windows: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(s.dir, windowsFile), data); err != nil {
		return fmt.Errorf("cannot write maintenance windows: %w", err)
	}
	s.api = next
	s.audit = append(s.audit, e)
	if len(s.audit) > maxAuditInMemory {
		s.audit = s.audit[1:]
	}
	s.notify()
	return nil
}

func (s *Maintenance) notify() {
	if s.onChange == nil {
		return
	}
	masks := make([]budget.Mask, 0, len(s.config)+len(s.api))
	for _, m := range s.config {
		masks = append(masks, m)
	}
	for _, m := range s.api {
		masks = append(masks, m)
	}
	s.onChange(masks)
}

func appendSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	return writeSyncClose(f, data)
}

// writeSyncClose writes data to f, fsyncs and closes it; f is closed on
// every path.
func writeSyncClose(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteFileAtomic replaces path with data: written to a temporary file in
// the same directory, fsynced, renamed over path, and the directory
// fsynced, so that a crash leaves either the old or the new file.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := writeSyncClose(f, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
