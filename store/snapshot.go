// Package store keeps slogate's state on disk under -stateDir: the engine
// snapshot in a verified frame, the maintenance windows made through the API
// and their audit log, each written atomically (temporary file, fsync,
// rename) so that a crash leaves the old or the new version.
//
// It owns every file slogate writes; it must not import the HTTP packages.
package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A snapshot file is
//
//	magic "SLOGATE\x00", format version (uint32 LE),
//	payload length (uint64 LE), payload, CRC-32C of everything before it.
//
// It is written to a temporary file, fsynced and renamed over the old one
// (WriteFileAtomic), so a crash leaves the old or the new snapshot, and the
// checksum catches anything else (a torn copy, a disk error).
const (
	snapMagic   = "SLOGATE\x00"
	snapVersion = 1
	snapHeader  = len(snapMagic) + 4 + 8
)

// ErrCorruptSnapshot is returned for a snapshot file that fails
// verification.
var ErrCorruptSnapshot = errors.New("corrupt snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot frames payload and writes it atomically to path.
func WriteSnapshot(path string, payload []byte) error {
	buf := make([]byte, 0, snapHeader+len(payload)+4)
	buf = append(buf, snapMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, snapVersion)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	if err := WriteFileAtomic(path, buf); err != nil {
		return fmt.Errorf("cannot write snapshot %s: %w", path, err)
	}
	return nil
}

// WriteSnapshotFrom writes a snapshot whose payload write produces, as
// WriteSnapshot does, without holding the payload in memory: it goes to
// the temporary file as it comes, then the length goes into the header
// and the checksum is computed reading the file back. It returns the
// payload's length.
func WriteSnapshotFrom(path string, write func(io.Writer) error) (int64, error) {
	var n int64
	err := writeAtomic(path, func(f *os.File) error {
		header := append([]byte(snapMagic), make([]byte, 4+8)...)
		binary.LittleEndian.PutUint32(header[len(snapMagic):], snapVersion)
		if _, err := f.Write(header); err != nil {
			return err
		}
		cw := &countingWriter{w: bufio.NewWriterSize(f, 1<<20)}
		if err := write(cw); err != nil {
			return err
		}
		if err := cw.w.Flush(); err != nil {
			return err
		}
		n = cw.n
		binary.LittleEndian.PutUint64(header[len(snapMagic)+4:], uint64(n))
		if _, err := f.WriteAt(header[len(snapMagic)+4:], int64(len(snapMagic)+4)); err != nil {
			return err
		}
		sum := crc32.New(castagnoli)
		if _, err := io.Copy(sum, io.NewSectionReader(f, 0, int64(snapHeader)+n)); err != nil {
			return err
		}
		_, err := f.WriteAt(binary.LittleEndian.AppendUint32(nil, sum.Sum32()), int64(snapHeader)+n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cannot write snapshot %s: %w", path, err)
	}
	return n, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n += int64(k)
	return k, err
}

// ReadSnapshot reads and verifies a snapshot file and returns its
// payload. A missing file is os.ErrNotExist; a file that fails verification
// is ErrCorruptSnapshot.
func ReadSnapshot(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < snapHeader+4 || !bytes.Equal(data[:len(snapMagic)], []byte(snapMagic)) {
		return nil, fmt.Errorf("%w %s: not a slogate snapshot", ErrCorruptSnapshot, path)
	}
	if v := binary.LittleEndian.Uint32(data[len(snapMagic):]); v != snapVersion {
		return nil, fmt.Errorf("%w %s: format version %d, this slogate reads %d", ErrCorruptSnapshot, path, v, snapVersion)
	}
	n := binary.LittleEndian.Uint64(data[len(snapMagic)+4:])
	if n != uint64(len(data)-snapHeader-4) {
		return nil, fmt.Errorf("%w %s: payload of %d bytes, file holds %d", ErrCorruptSnapshot, path, n, len(data)-snapHeader-4)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w %s: checksum mismatch", ErrCorruptSnapshot, path)
	}
	return data[snapHeader : len(data)-4], nil
}

// SetAside renames a bad snapshot out of the way (path.corrupt-<time>), so
// that it can be inspected and is not read again.
func SetAside(path string, now time.Time) (string, error) {
	dst := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("cannot set aside %s: %w", path, err)
	}
	return filepath.Base(dst), nil
}

// RemoveTemps removes the temporary files WriteFileAtomic left for path
// when the process was killed in the middle of a write. Call it only
// before anything writes path.
func RemoveTemps(path string) error {
	names, err := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	if err != nil {
		return fmt.Errorf("cannot look for temporary files of %s: %w", path, err)
	}
	for _, name := range names {
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("cannot remove temporary file: %w", err)
		}
	}
	return nil
}
