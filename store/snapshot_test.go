package store

import (
	"errors"
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
