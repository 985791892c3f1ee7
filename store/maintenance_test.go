package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slogate/slogate/maintenance"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T, dir string, fs FS) *Maintenance {
	t.Helper()
	s, err := OpenMaintenance(MaintenanceConfig{Dir: dir, RetroactiveLimit: 72 * time.Hour, Now: func() time.Time { return testNow }, FS: fs})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func window(hour int) maintenance.Spec {
	start := testNow.Add(time.Duration(hour) * time.Hour)
	return maintenance.Spec{Start: start.Format(time.RFC3339), Duration: "1h", Reason: "r", Author: "ops"}
}

func mustCreate(t *testing.T, s *Maintenance, spec maintenance.Spec) string {
	t.Helper()
	m, err := s.Create(spec, "alice")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return m.ID
}

func auditActions(s *Maintenance) string {
	var out []string
	for _, e := range s.Audit() {
		out = append(out, e.Action+" "+e.ID+" "+e.Actor)
	}
	return strings.Join(out, ", ")
}

// TestMaintenanceIDsNeverReused: the newest window deleted, slogate
// restarted, the next window still gets a new ID; also from a windows file
// of an older version (a bare array), where the audit log knows the ID.
func TestMaintenanceIDsNeverReused(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	mustCreate(t, s, window(1))
	id := mustCreate(t, s, window(2))
	if _, err := s.Delete(id, "ops", "oops", "bob"); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, nil)
	if got := mustCreate(t, s, window(3)); got != "mw-2" {
		t.Fatalf("after delete of mw-1 and restart: new ID %s, want mw-2", got)
	}
	if got, want := auditActions(s), "create mw-0 alice, create mw-1 alice, delete mw-1 bob, create mw-2 alice"; got != want {
		t.Fatalf("audit: %s, want %s", got, want)
	}

	legacy := t.TempDir()
	if err := os.WriteFile(filepath.Join(legacy, windowsFile), []byte(`[{"id":"mw-0","created":"2026-11-20T00:00:00Z","spec":{"start":"2026-11-21T00:00:00Z","end":"2026-11-21T01:00:00Z"}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacy, auditFile), []byte(`{"action":"create","id":"mw-0"}`+"\n"+`{"action":"create","id":"mw-5"}`+"\n"+`{"action":"delete","id":"mw-5"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, legacy, nil)
	if len(s.List()) != 1 {
		t.Fatalf("legacy file: %d windows, want 1", len(s.List()))
	}
	if got := mustCreate(t, s, window(1)); got != "mw-6" {
		t.Fatalf("legacy file: new ID %s, want mw-6", got)
	}
}

func TestMaintenanceMaxWindows(t *testing.T) {
	s, err := OpenMaintenance(MaintenanceConfig{Dir: t.TempDir(), RetroactiveLimit: time.Hour, Now: func() time.Time { return testNow }, MaxWindows: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustCreate(t, s, window(i))
	}
	_, err = s.Create(window(4), "alice")
	if !errors.Is(err, ErrTooManyWindows) {
		t.Fatalf("window 4 of at most 3: %v, want ErrTooManyWindows", err)
	}
	if len(s.List()) != 3 || len(s.Audit()) != 3 {
		t.Fatalf("after the refused create: %d windows, %d audit entries, want 3 and 3", len(s.List()), len(s.Audit()))
	}
}

// failingFS is a full disk on demand: a write of the audit log stores
// half its bytes and fails; the windows file cannot be replaced.
type failingFS struct {
	OSFS
	auditFull, windowsFull bool
}

func (f *failingFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := os.OpenFile(name, flag, perm)
	if err != nil || !f.auditFull || flag&os.O_APPEND == 0 {
		return file, err
	}
	return halfWriter{file}, nil
}

func (f *failingFS) WriteFileAtomic(path string, data []byte) error {
	if f.windowsFull {
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	return WriteFileAtomic(path, data)
}

type halfWriter struct{ *os.File }

func (h halfWriter) Write(p []byte) (int, error) {
	n, _ := h.File.Write(p[:len(p)/2])
	return n, &os.PathError{Op: "write", Path: h.Name(), Err: syscall.ENOSPC}
}

// TestMaintenanceFullDisk: a change that cannot be written fails, leaves
// no audit entry (not even a torn half) and is counted; the next good
// entry is intact, also after a restart.
func TestMaintenanceFullDisk(t *testing.T) {
	dir := t.TempDir()
	fs := &failingFS{}
	s := openTest(t, dir, fs)
	mustCreate(t, s, window(1))

	fs.auditFull = true
	if _, err := s.Create(window(2), "alice"); err == nil || !strings.Contains(err.Error(), "cannot write audit log") || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create on a full disk (audit): %v", err)
	}
	fs.auditFull, fs.windowsFull = false, true
	if _, err := s.Delete("mw-0", "ops", "", "bob"); err == nil || !strings.Contains(err.Error(), "cannot write maintenance windows") {
		t.Fatalf("delete on a full disk (windows file): %v", err)
	}
	if got := s.Stats().WriteErrors; got != 2 {
		t.Fatalf("write errors: %d, want 2", got)
	}
	fs.windowsFull = false
	mustCreate(t, s, window(3))
	want := "create mw-0 alice, create mw-1 alice"
	if got := auditActions(s); got != want {
		t.Fatalf("audit: %s, want %s", got, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, auditFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 2 || !strings.HasSuffix(string(data), "\n") {
		t.Fatalf("audit file has %d lines, want 2 whole lines:\n%s", n, data)
	}
	s = openTest(t, dir, nil)
	if got := auditActions(s); got != want {
		t.Fatalf("audit after restart: %s, want %s", got, want)
	}
	if st := s.Stats(); st.AuditRepaired+st.AuditSkipped != 0 || len(s.List()) != 2 {
		t.Fatalf("after restart: %+v, %d windows; want nothing repaired and 2 windows", st, len(s.List()))
	}
}

// TestMaintenanceTornAuditLine: a crash mid-append leaves a torn last
// line; the start cuts it off and reports it, and the next entry is not
// swallowed by it.
func TestMaintenanceTornAuditLine(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	mustCreate(t, s, window(1))
	path := filepath.Join(dir, auditFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"time":"2026-11-20T12:00:00Z","action":"cre`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s = openTest(t, dir, nil)
	if got := s.Stats().AuditRepaired; got != 1 {
		t.Fatalf("repaired: %d, want 1", got)
	}
	mustCreate(t, s, window(2))
	s = openTest(t, dir, nil)
	if got, want := auditActions(s), "create mw-0 alice, create mw-1 alice"; got != want {
		t.Fatalf("audit: %s, want %s", got, want)
	}
}

// TestMaintenanceUnappliedAuditEntry: a crash after the audit entry and
// before the windows file leaves an entry for a change that was never
// acknowledged; the start cuts it off.
func TestMaintenanceUnappliedAuditEntry(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	mustCreate(t, s, window(1))
	windows, err := os.ReadFile(filepath.Join(dir, windowsFile))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, window(2))
	if err := os.WriteFile(filepath.Join(dir, windowsFile), windows, 0o644); err != nil { // as if the rename never happened
		t.Fatal(err)
	}
	s = openTest(t, dir, nil)
	if got, want := auditActions(s), "create mw-0 alice"; got != want || s.Stats().AuditRepaired != 1 {
		t.Fatalf("audit: %s (repaired %d), want %s (repaired 1)", got, s.Stats().AuditRepaired, want)
	}
}

// TestMaintenanceSkipsBadWindow: a stored window that does not load (the
// window that once bricked the start: its end is in the year 10000) is
// skipped and counted, slogate starts, and the entry stays in the file.
func TestMaintenanceSkipsBadWindow(t *testing.T) {
	dir := t.TempDir()
	bad := `{"id":"mw-0","created":"2026-11-20T00:00:00Z","spec":{"start":"9999-12-31T23:00:00Z","end":"10000-01-01T01:00:00Z"}}`
	good := `{"id":"mw-1","created":"2026-11-20T00:00:00Z","spec":{"start":"2026-11-21T00:00:00Z","end":"2026-11-21T01:00:00Z"}}`
	if err := os.WriteFile(filepath.Join(dir, windowsFile), []byte("["+bad+","+good+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir, nil)
	if got := s.Stats().WindowsSkipped; got != 1 {
		t.Fatalf("skipped: %d, want 1", got)
	}
	if ws := s.List(); len(ws) != 1 || ws[0].ID != "mw-1" {
		t.Fatalf("windows: %v, want mw-1 only", ws)
	}
	if got := mustCreate(t, s, window(1)); got != "mw-2" {
		t.Fatalf("new ID %s, want mw-2", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, windowsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), bad) {
		t.Fatalf("the skipped window is no longer in the file:\n%s", data)
	}

	if err := os.WriteFile(filepath.Join(dir, windowsFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, nil)
	if len(s.List()) != 0 || s.Stats().WindowsSkipped != 1 {
		t.Fatalf("unparsable file: %d windows, %d skipped; want 0 and 1", len(s.List()), s.Stats().WindowsSkipped)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, windowsFile+".corrupt-*")); len(matches) != 1 {
		t.Fatalf("the unparsable file was not moved aside: %v", matches)
	}
	if got, want := auditActions(s), "create mw-2 alice"; got != want || s.Stats().AuditRepaired != 0 {
		t.Fatalf("audit beside an unparsable windows file: %s (repaired %d), want %s kept", got, s.Stats().AuditRepaired, want)
	}
}
