package store

import (
	"io"
	"os"
	"path/filepath"
)

// FS is the file system the maintenance store writes through: the OS
// (OSFS) unless a caller injects another one, e.g. one that fails like a
// full disk, which a real disk cannot do on demand.
type FS interface {
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// WriteFileAtomic replaces path with data (see WriteFileAtomic).
	WriteFileAtomic(path string, data []byte) error
}

// File is the part of *os.File the store uses.
type File interface {
	io.ReadWriteCloser
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// OSFS is the operating system's file system.
type OSFS struct{}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return os.OpenFile(name, flag, perm)
}

// WriteFileAtomic implements FS.
func (OSFS) WriteFileAtomic(path string, data []byte) error { return WriteFileAtomic(path, data) }

// WriteFileAtomic replaces path with data: written to a temporary file in
// the same directory, fsynced, renamed over path, and the directory
// fsynced, so that a crash leaves either the old or the new file.
func WriteFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// writeAtomic is WriteFileAtomic with the contents written by write into
// the temporary file.
func writeAtomic(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
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
