//go:build !unix

package arena

import "unsafe"

// arenaMap returns nil: the counts stay on the Go heap.
func arenaMap(int) unsafe.Pointer { return nil }

func arenaRelease(unsafe.Pointer, int) {}
