package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Pregenerate returns the bodies of requests 0..n-1 (rounds from round0).
// Bodies found in cacheFile (when not "") are read from it; the rest are
// encoded on every CPU and the file is rewritten with all n. Only zstd needs
// this: compressing a zstd body costs the generator more than slogate spends
// decoding it, so inline encoding would make the generator, not the process
// under test, set the pace; and the harness sends the same sequence to
// several processes, so it is compressed once.
func Pregenerate(bs *Bodies, n int, round0 int64, cacheFile string) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	var out [][]byte
	if cacheFile != "" {
		var err error
		if out, err = readBodies(cacheFile, n); err != nil {
			return nil, err
		}
	}
	have := len(out)
	if have == n {
		return out, nil
	}
	out = slices.Grow(out, n-have)[:n]
	nb := int64(bs.p.Blocks())
	next := atomic.Int64{}
	next.Store(int64(have))
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var buf BodyBuffer
			for {
				k := next.Add(1) - 1
				if k >= int64(n) {
					return
				}
				b, err := bs.Encode(&buf, int(k%nb), round0+k/nb)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				out[k] = slices.Clone(b)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("cannot pregenerate bodies: %w", firstErr)
	}
	if cacheFile != "" {
		if err := writeBodies(cacheFile, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cacheName names the cache file of a body sequence: everything that
// decides its bytes is in the name.
func cacheName(dir string, enc Encoding, cfg PayloadConfig, round0 int64) string {
	order := ""
	if cfg.Scattered {
		order = "-scattered"
	}
	return filepath.Join(dir, fmt.Sprintf("%s-sli%d-spb%d-routes%d-sliseries%d%s-start%d-iv%d-round%d.bodies",
		enc, cfg.SLIPercent, cfg.SamplesPerBlock, cfg.Routes, cfg.SLISeries, order, cfg.Start, cfg.IntervalMs, round0))
}

// The cache file is a sequence of bodies, each a little-endian uint32
// length and the bytes.

// readBodies reads at most n bodies; a missing file is an empty cache.
func readBodies(path string, n int) ([][]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open body cache: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out [][]byte
	var hdr [4]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("cannot read body cache %s: %w", path, err)
		}
		size := binary.LittleEndian.Uint32(hdr[:])
		if size > 64<<20 {
			return nil, fmt.Errorf("cannot read body cache %s: body of %d bytes", path, size)
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("cannot read body cache %s: %w", path, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// writeBodies replaces path atomically with bodies.
func writeBodies(path string, bodies [][]byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cannot create body cache: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, b := range bodies {
		_ = binary.Write(w, binary.LittleEndian, uint32(len(b)))
		_, _ = w.Write(b)
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("cannot write body cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write body cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write body cache: %w", err)
	}
	return nil
}
