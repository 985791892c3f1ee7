package prefetch

import "unsafe"

// Line prefetches the cache line of p into all cache levels (PREFETCHT0).
// It never faults, whatever p is.
//
//go:noescape
func Line(p unsafe.Pointer)

// Range prefetches the cache lines of the n bytes from p (n > 0), as Line
// does.
//
//go:noescape
func Range(p unsafe.Pointer, n uintptr)
