//go:build unix

package arena

import (
	"syscall"
	"unsafe"
)

// arenaMap maps n bytes of zeroed private memory, nil if the system
// refuses. The mapping is never unmapped: its blocks are reused.
func arenaMap(n int) unsafe.Pointer {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return unsafe.Pointer(&b[0])
}
