//go:build unix

package arena

import (
	"syscall"
	"unsafe"
)

// arenaMap maps n bytes of zeroed private memory, nil if the system
// refuses. Pages count in the RSS once touched.
func arenaMap(n int) unsafe.Pointer {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// arenaRelease gives the pages of [p, p+n) back to the system: they read
// as zero when touched again.
func arenaRelease(p unsafe.Pointer, n int) {
	_ = syscall.Madvise(unsafe.Slice((*byte)(p), n), syscall.MADV_DONTNEED)
}
