package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "engine.snapshot")
	payload := []byte("state state state")
	if err := WriteSnapshot(path, payload); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSnapshot(path)
	if err != nil || string(got) != string(payload) {
		t.Fatalf("got %q, %v", got, err)
	}
	good, _ := os.ReadFile(path)
	f := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSnapshot(path); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: want ErrCorruptSnapshot, got %v", name, err)
		}
	}
	flipped := append([]byte(nil), good...)
	flipped[snapHeader+3] ^= 1
	f("flipped bit", flipped)
	f("truncated", good[:len(good)-5])
	f("empty", nil)
	f("other file", []byte("{\"not\": \"a snapshot\"}"))
	wrongVersion := append([]byte(nil), good...)
	wrongVersion[len(snapMagic)] = 9
	f("version", wrongVersion)

	name, err := SetAside(path, time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC))
	if err != nil || name != "engine.snapshot.corrupt-20261125T010203Z" {
		t.Fatalf("set aside as %q, %v", name, err)
	}
	if _, err := ReadSnapshot(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the corrupt file is still there: %v", err)
	}
}

// TestSnapshotFrom: a snapshot written as its payload comes is the file
// WriteSnapshot writes for the whole payload; a failing payload leaves the
// old snapshot in place.
func TestSnapshotFrom(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "engine.snapshot")
	payload := make([]byte, 3<<20+17) // over the 1 MiB buffer
	for i := range payload {
		payload[i] = byte(i * 31 / 7)
	}
	if err := WriteSnapshot(path, payload); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(path)
	n, err := WriteSnapshotFrom(path, func(w io.Writer) error {
		for rest := payload; len(rest) > 0; {
			k := min(len(rest), 70_000)
			if _, err := w.Write(rest[:k]); err != nil {
				return err
			}
			rest = rest[k:]
		}
		return nil
	})
	if err != nil || n != int64(len(payload)) {
		t.Fatalf("WriteSnapshotFrom: %d bytes, %v", n, err)
	}
	streamed, _ := os.ReadFile(path)
	if !bytes.Equal(streamed, whole) {
		t.Fatalf("streamed snapshot (%d bytes) differs from the framed one (%d bytes)", len(streamed), len(whole))
	}
	if got, err := ReadSnapshot(path); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("ReadSnapshot: %d bytes, %v", len(got), err)
	}
	boom := errors.New("boom")
	if _, err := WriteSnapshotFrom(path, func(w io.Writer) error {
		w.Write(payload[:100])
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing payload: %v, want boom", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, whole) {
		t.Fatal("a failed snapshot replaced the old one")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
