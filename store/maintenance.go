package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
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

// ErrTooManyWindows is returned by Create when the store holds
// MaintenanceConfig.MaxWindows windows already.
var ErrTooManyWindows = errors.New("too many maintenance windows")

// DefaultMaxWindows is the default of MaintenanceConfig.MaxWindows.
const DefaultMaxWindows = 10_000

// MaintenanceConfig configures OpenMaintenance.
type MaintenanceConfig struct {
	// Dir holds the windows file and the audit log; created if missing.
	Dir string
	// RetroactiveLimit: a window may not start earlier than now minus it.
	RetroactiveLimit time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Config are the windows of the configuration file (read-only here).
	Config []*maintenance.Window
	// OnChange receives every window (config and API) after each change,
	// and once at open. It is called outside any disk write.
	OnChange func([]budget.Mask)
	// MaxWindows bounds the API's windows; default DefaultMaxWindows.
	MaxWindows int
	// FS is where the files are written; default OSFS.
	FS FS
	// Log reports what loading skipped or repaired; default discards.
	Log *slog.Logger
}

// MaintenanceStats are the store's counters for self-metrics; all but
// Windows are monotonic.
type MaintenanceStats struct {
	// WriteErrors are changes refused because a file could not be written.
	WriteErrors uint64
	// WindowsSkipped are stored windows that did not load at open (kept in
	// the file as they are); AuditSkipped are audit lines that did not
	// parse, AuditRepaired torn or unmatched last audit lines cut off.
	WindowsSkipped, AuditSkipped, AuditRepaired uint64
	// Windows are the API's windows now.
	Windows int
}

// Maintenance holds the maintenance windows of the API, durably: every
// change is written and fsynced (audit entry appended, then the windows
// file replaced atomically) before it is applied and acknowledged, and a
// change that fails leaves neither. Windows of the configuration file are
// held beside them, read-only. Safe for concurrent use: changes are
// serialized among themselves, readers never wait for the disk.
type Maintenance struct {
	cfg   MaintenanceConfig
	audit auditLog

	// wmu serializes changes and is held while they write to disk; it
	// guards nextID, skipped and the calls of OnChange.
	wmu     sync.Mutex
	nextID  int
	skipped []json.RawMessage // stored windows that do not load, kept as they are
	// skippedIDs are their IDs: the audit log cannot be checked for them.
	skippedIDs map[string]bool
	// windowsLost: the windows file did not parse and was moved aside, so
	// the audit log cannot be checked against it.
	windowsLost bool

	mu      sync.RWMutex // guards the fields below; never held during IO
	api     []*maintenance.Window
	config  []*maintenance.Window
	entries []AuditEntry // the newest maxAuditInMemory entries
	stats   MaintenanceStats
}

const (
	windowsFile      = "maintenance.json"
	auditFile        = "maintenance-audit.jsonl"
	maxAuditInMemory = 10_000
)

// OpenMaintenance loads the windows and the audit log from cfg.Dir. A
// stored window that does not load (e.g. written by an older version with
// looser validation) is reported with its position, counted and skipped:
// it must not stop slogate. A torn last audit line is cut off and reported.
func OpenMaintenance(cfg MaintenanceConfig) (*Maintenance, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxWindows <= 0 {
		cfg.MaxWindows = DefaultMaxWindows
	}
	if cfg.FS == nil {
		cfg.FS = OSFS{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create state directory: %w", err)
	}
	s := &Maintenance{cfg: cfg, config: cfg.Config}
	s.audit = auditLog{fs: cfg.FS, path: filepath.Join(cfg.Dir, auditFile)}
	if err := s.loadWindows(); err != nil {
		return nil, err
	}
	if err := s.loadAudit(); err != nil {
		return nil, err
	}
	s.stats.Windows = len(s.api)
	s.notify()
	return s, nil
}

// bumpID makes sure the next ID is after id ("mw-<n>").
func (s *Maintenance) bumpID(id string) {
	if n, err := strconv.Atoi(strings.TrimPrefix(id, "mw-")); err == nil && n >= s.nextID {
		s.nextID = n + 1
	}
}

func (s *Maintenance) loadAudit() error {
	res, err := s.audit.load()
	if err != nil {
		return err
	}
	for _, e := range res.entries {
		s.bumpID(e.ID)
	}
	for _, msg := range res.skipped {
		s.cfg.Log.Error("maintenance audit log: skipping a line that does not parse", "file", s.audit.path, "at", msg)
	}
	s.stats.AuditSkipped += uint64(len(res.skipped))
	if res.torn != "" {
		s.cfg.Log.Warn("maintenance audit log: cut off a torn last line (a change that was not acknowledged)", "file", s.audit.path, "at", res.torn)
		s.stats.AuditRepaired++
	}
	// A crash between the audit append and the windows file leaves an
	// entry for a change that was not applied, hence not acknowledged.
	if n := len(res.entries); n > 0 && !s.windowsLost && !s.applied(res.entries[n-1]) {
		last := res.entries[n-1]
		if err := s.audit.truncate(res.lastStart); err != nil {
			return fmt.Errorf("cannot cut off the unapplied last audit entry: %w", err)
		}
		s.cfg.Log.Warn("maintenance audit log: cut off the last entry, its change is not in the windows file (not acknowledged)",
			"file", s.audit.path, "offset", res.lastStart, "action", last.Action, "id", last.ID)
		s.stats.AuditRepaired++
		res.entries = res.entries[:n-1]
	}
	s.entries = res.entries
	return nil
}

// applied reports whether the windows file reflects e.
func (s *Maintenance) applied(e AuditEntry) bool {
	var have *maintenance.Window
	for _, m := range s.api {
		if m.ID == e.ID {
			have = m
		}
	}
	switch e.Action {
	case "delete":
		return have == nil
	case "create", "update":
		return have == nil && s.skippedIDs[e.ID] || have != nil && e.After != nil && reflect.DeepEqual(have.Spec(), *e.After)
	}
	return true
}

// SetConfig replaces the windows of the configuration file (on reload).
func (s *Maintenance) SetConfig(config []*maintenance.Window) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	s.config = config
	s.mu.Unlock()
	s.notify()
}

// List returns every window: the configuration file's, then the API's.
func (s *Maintenance) List() []*maintenance.Window {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Concat(s.config, s.api)
}

// Audit returns the audit log, oldest first (the newest 10,000 entries).
func (s *Maintenance) Audit() []AuditEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.entries)
}

// Stats returns the store's counters.
func (s *Maintenance) Stats() MaintenanceStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats
}

// Limit is the retroactive limit.
func (s *Maintenance) Limit() time.Duration { return s.cfg.RetroactiveLimit }

// MaxWindows is the most windows the API may hold.
func (s *Maintenance) MaxWindows() int { return s.cfg.MaxWindows }

// Create validates and stores a new window. author and reason come from
// the spec; actor (the name of the caller's token) goes to the audit log.
// IDs are never reused: the counter is persisted in the windows file.
func (s *Maintenance) Create(spec maintenance.Spec, actor string) (*maintenance.Window, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	m, err := s.validate(spec)
	if err != nil {
		return nil, err
	}
	api := s.apiWindows()
	if len(api)+len(s.skipped) >= s.cfg.MaxWindows {
		return nil, fmt.Errorf("cannot create a maintenance window: %w: the API holds %d, at most %d; delete ended ones first",
			ErrTooManyWindows, len(api)+len(s.skipped), s.cfg.MaxWindows)
	}
	m.ID = "mw-" + strconv.Itoa(s.nextID)
	next := append(slices.Clone(api), m)
	after := m.Spec()
	if err := s.commit(next, s.nextID+1, AuditEntry{Action: "create", ID: m.ID, Actor: actor, Author: spec.Author, Reason: spec.Reason, After: &after}); err != nil {
		return nil, err
	}
	s.nextID++
	return m, nil
}

// Update replaces the window id (e.g. to shorten it after the fact).
func (s *Maintenance) Update(id string, spec maintenance.Spec, actor string) (*maintenance.Window, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	i, err := s.find(id)
	if err != nil {
		return nil, err
	}
	m, err := s.validate(spec)
	if err != nil {
		return nil, err
	}
	m.ID = id
	next := slices.Clone(s.apiWindows())
	before, after := next[i].Spec(), m.Spec()
	next[i] = m
	if err := s.commit(next, s.nextID, AuditEntry{Action: "update", ID: id, Actor: actor, Author: spec.Author, Reason: spec.Reason, Before: &before, After: &after}); err != nil {
		return nil, err
	}
	return m, nil
}

// Delete removes the window id; author and reason go to the audit log.
func (s *Maintenance) Delete(id, author, reason, actor string) (*maintenance.Window, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	i, err := s.find(id)
	if err != nil {
		return nil, err
	}
	api := s.apiWindows()
	old := api[i]
	before := old.Spec()
	next := slices.Delete(slices.Clone(api), i, i+1)
	if err := s.commit(next, s.nextID, AuditEntry{Action: "delete", ID: id, Actor: actor, Author: author, Reason: reason, Before: &before}); err != nil {
		return nil, err
	}
	return old, nil
}

// apiWindows returns the API's windows; the caller holds wmu, so they
// cannot change meanwhile.
func (s *Maintenance) apiWindows() []*maintenance.Window {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.api
}

func (s *Maintenance) find(id string) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
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
	now := s.cfg.Now()
	m, err := maintenance.New(spec, now)
	if err != nil {
		return nil, err
	}
	if oldest := now.Add(-s.cfg.RetroactiveLimit); m.Start.Before(oldest) {
		return nil, &maintenance.FieldError{Field: "start", Err: fmt.Errorf("%s is %w (-maintenance.retroactiveLimit=%s); the oldest allowed start is %s",
			m.Start.UTC().Format(time.RFC3339), ErrTooOld, s.cfg.RetroactiveLimit, oldest.UTC().Format(time.RFC3339))}
	}
	m.Source = maintenance.FromAPI
	return m, nil
}

// commit makes a change durable, then applies it; the caller holds wmu
// (not mu: readers and the engine never wait for the disk). The audit
// entry is appended and fsynced, then the windows file is replaced
// atomically; if that fails, the entry is cut off again. A crash between
// the two leaves an entry whose change is not in the windows file: the
// next start cuts it off (loadAudit).
func (s *Maintenance) commit(next []*maintenance.Window, nextID int, e AuditEntry) error {
	e.Time = s.cfg.Now().UTC()
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cannot encode audit entry: %w", err)
	}
	data, err := encodeWindows(next, s.skipped, nextID)
	if err != nil {
		return fmt.Errorf("cannot encode maintenance windows: %w", err)
	}
	size := s.audit.size
	if err := s.audit.append(append(line, '\n')); err != nil {
		s.writeFailed()
		return fmt.Errorf("cannot write audit log: %w", err)
	}
	if err := s.cfg.FS.WriteFileAtomic(filepath.Join(s.cfg.Dir, windowsFile), data); err != nil {
		s.writeFailed()
		if terr := s.audit.truncate(size); terr != nil {
			return fmt.Errorf("cannot write maintenance windows: %w (and cannot remove its audit entry: %w)", err, terr)
		}
		return fmt.Errorf("cannot write maintenance windows: %w", err)
	}
	s.mu.Lock()
	s.api = next
	s.entries = append(s.entries, e)
	if len(s.entries) > maxAuditInMemory {
		s.entries = slices.Delete(s.entries, 0, len(s.entries)-maxAuditInMemory)
	}
	s.stats.Windows = len(next)
	s.mu.Unlock()
	s.notify()
	return nil
}

func (s *Maintenance) writeFailed() {
	s.mu.Lock()
	s.stats.WriteErrors++
	s.mu.Unlock()
}

// notify hands every window to OnChange; the caller holds wmu (or is
// OpenMaintenance), so that OnChange sees the changes in order.
func (s *Maintenance) notify() {
	if s.cfg.OnChange == nil {
		return
	}
	s.mu.RLock()
	masks := make([]budget.Mask, 0, len(s.config)+len(s.api))
	for _, m := range s.config {
		masks = append(masks, m)
	}
	for _, m := range s.api {
		masks = append(masks, m)
	}
	s.mu.RUnlock()
	s.cfg.OnChange(masks)
}
