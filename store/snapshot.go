// Package store keeps slogate's state on disk under -stateDir: the engine
// snapshot in a verified frame, the maintenance windows made through the API
// and their audit log, each written atomically (temporary file, fsync,
// rename) so that a crash leaves the old or the new version.
//
// It owns every file slogate writes; it must not import the HTTP packages.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
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
