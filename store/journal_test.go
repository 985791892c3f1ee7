package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slogate/slogate/budget"
)

func journalRoute(account uint32, path string, first int64) budget.NewRoute {
	return budget.NewRoute{
		Tenant: budget.Tenant{AccountID: account, ProjectID: 7},
		Source: "ingress-nginx",
		Labels: []budget.Label{{Name: "namespace", Value: "shop"}, {Name: "path", Value: path}},
		First:  first,
	}
}

func openJournal(t *testing.T, path string) (*Journal, JournalContents) {
	t.Helper()
	j, read, err := OpenJournal(path, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, read
}

// TestJournalRoundTrip: added routes are durable after one Sync, a route
// is journaled again only with an earlier first event, and a reopened
// journal returns each route once with its earliest first event.
func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "routes.journal")
	j, read := openJournal(t, path)
	if len(read.Routes) != 0 || read.Torn != nil || j.Pending() {
		t.Fatalf("new journal: %+v, pending %v", read, j.Pending())
	}
	want := []budget.NewRoute{journalRoute(1, "/", 1000), journalRoute(1, "/checkout", 2000), journalRoute(2, "/", 3000)}
	for _, r := range want {
		j.Add(r)
	}
	j.Add(journalRoute(1, "/", 5000))         // known: not added again
	j.Add(journalRoute(1, "/checkout", 1500)) // an earlier first event
	want[1].First = 1500
	if !j.Pending() {
		t.Fatal("added routes are not pending")
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(); err != nil { // nothing pending: no fsync
		t.Fatal(err)
	}
	st := j.Stats()
	if j.Pending() || st.Records != 4 || st.Syncs != 1 {
		t.Fatalf("after Sync: pending %v, %+v; want 4 records, 1 sync", j.Pending(), st)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != st.Bytes {
		t.Fatalf("file size %v (%v), Stats says %d", fi.Size(), err, st.Bytes)
	}
	j.Close()
	// A compaction a crash cut short left its temporary file.
	tmp := filepath.Join(filepath.Dir(path), ".routes.journal.tmp-12345")
	if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, read = openJournal(t, path)
	if read.Torn != nil || !reflect.DeepEqual(read.Routes, want) {
		t.Fatalf("reopened: %+v, want %+v", read, want)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left by a crash is still there: %v", err)
	}
}

// TestJournalTornTail: a record cut short or damaged at the end (a crash
// in the middle of an append) is cut off and reported; the records before
// it stay, and appending goes on after them.
func TestJournalTornTail(t *testing.T) {
	f := func(name string, damage func(good []byte, rec []byte) []byte) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "routes.journal")
		j, _ := openJournal(t, path)
		j.Add(journalRoute(1, "/", 1000))
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		j.Close()
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data := damage(good, appendJournalRecord(nil, journalRoute(1, "/torn", 2000)))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		j, read := openJournal(t, path)
		if !errors.Is(read.Torn, ErrCorruptJournal) || read.TornBytes != int64(len(data)-len(good)) {
			t.Fatalf("%s: torn %v, %d bytes; want ErrCorruptJournal, %d bytes", name, read.Torn, read.TornBytes, len(data)-len(good))
		}
		if len(read.Routes) != 1 || read.Routes[0].First != 1000 {
			t.Fatalf("%s: routes %+v, want the one before the damage", name, read.Routes)
		}
		j.Add(journalRoute(1, "/after", 3000))
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		j.Close()
		_, read = openJournal(t, path)
		if read.Torn != nil || len(read.Routes) != 2 || read.Routes[1].First != 3000 {
			t.Fatalf("%s: after repair and append: %+v", name, read)
		}
	}
	f("cut in the length", func(good, rec []byte) []byte { return append(good, rec[:2]...) })
	f("cut in the payload", func(good, rec []byte) []byte { return append(good, rec[:len(rec)/2]...) })
	f("cut in the checksum", func(good, rec []byte) []byte { return append(good, rec[:len(rec)-1]...) })
	f("flipped bit", func(good, rec []byte) []byte {
		rec[10] ^= 1
		return append(good, rec...)
	})
	f("zeros (preallocated blocks)", func(good, rec []byte) []byte { return append(good, make([]byte, 64)...) })
	f("huge length", func(good, rec []byte) []byte { return append(good, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3) })
}

// TestJournalNotAJournal: a file without the journal header is set aside
// and a new journal starts.
func TestJournalNotAJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.journal")
	if err := os.WriteFile(path, []byte("something else entirely"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, read := openJournal(t, path)
	if !errors.Is(read.Torn, ErrCorruptJournal) || len(read.Routes) != 0 {
		t.Fatalf("got %+v", read)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 1 {
		t.Fatalf("set aside: %v", m)
	}
	j.Add(journalRoute(1, "/", 1000))
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestJournalCompact: Compact drops the records added before the mark,
// written or still pending, and keeps the later ones, durable or pending.
func TestJournalCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.journal")
	j, _ := openJournal(t, path)
	j.Add(journalRoute(1, "/a", 1))
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Add(journalRoute(1, "/b", 2)) // pending, before the mark
	mark := j.Mark()
	j.Add(journalRoute(1, "/c", 3))
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Add(journalRoute(1, "/d", 4)) // pending, after the mark
	if err := j.Compact(mark); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Records != 1 || st.Pending != 1 || !j.Pending() {
		t.Fatalf("after Compact: %+v, pending %v; want 1 record, 1 pending", st, j.Pending())
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Add(journalRoute(1, "/a", 5)) // dropped by Compact: may come again
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	_, read := openJournal(t, path)
	var got []int64
	for _, r := range read.Routes {
		got = append(got, r.First)
	}
	if read.Torn != nil || !reflect.DeepEqual(got, []int64{3, 4, 5}) {
		t.Fatalf("reopened after Compact: first events %v (torn %v), want [3 4 5]", got, read.Torn)
	}
}

// TestJournalSyncFailure: when the file cannot be written, Sync fails and
// the records stay pending (the write path answers 503 until they are
// durable).
func TestJournalSyncFailure(t *testing.T) {
	j, _ := openJournal(t, filepath.Join(t.TempDir(), "routes.journal"))
	j.Add(journalRoute(1, "/", 1))
	j.f.Close() // a file that cannot be written
	if err := j.Sync(); err == nil {
		t.Fatal("Sync on a closed file succeeded")
	}
	if st := j.Stats(); !j.Pending() || st.Pending != 1 || st.Records != 0 {
		t.Fatalf("after a failed Sync: %+v, pending %v", st, j.Pending())
	}
}

// FuzzJournalRecord: no input makes the decoder panic or read beyond the
// frame, and what it reads encodes and reads back the same.
func FuzzJournalRecord(f *testing.F) {
	f.Add(appendJournalRecord(nil, journalRoute(1, "/", 1000)))
	f.Add(appendJournalRecord(nil, budget.NewRoute{Labels: []budget.Label{}}))
	f.Add([]byte{4, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeJournalRecord(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("frame of %d bytes in %d", n, len(b))
		}
		again, m, err := decodeJournalRecord(appendJournalRecord(nil, r))
		if err != nil || !reflect.DeepEqual(again, r) || m > n {
			t.Fatalf("re-encoded record reads %+v (%d bytes, %v), want %+v", again, m, err, r)
		}
	})
}

// TestJournalConcurrentSync: writes that add routes and sync at once are
// each durable when their Sync returns, with at most one fsync each.
func TestJournalConcurrentSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.journal")
	j, _ := openJournal(t, path)
	const writers, perWriter = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				r := journalRoute(uint32(w), fmt.Sprintf("/%d", i), int64(i))
				j.Add(r)
				if err := j.Sync(); err != nil {
					t.Error(err)
					return
				}
				j.mu.Lock()
				written := slices.ContainsFunc(j.written, func(e journalEntry) bool { return e.key == journalKey(r) })
				j.mu.Unlock()
				if !written {
					t.Errorf("writer %d: Sync returned before its record %d was written", w, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := j.Stats()
	if st.Records != writers*perWriter || st.Pending != 0 || st.Syncs > writers*perWriter {
		t.Fatalf("%+v; want %d records, none pending, at most one sync per write", st, writers*perWriter)
	}
	j.Close()
	if _, read := openJournal(t, path); len(read.Routes) != writers*perWriter || read.Torn != nil {
		t.Fatalf("reopened: %d routes (torn %v), want %d", len(read.Routes), read.Torn, writers*perWriter)
	}
}
