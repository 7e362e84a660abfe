//go:build unix

package store

import (
	"syscall"
	"unsafe"
)

// offHeap returns a zeroed array of n T outside the Go heap (an anonymous
// private mapping) and the function that unmaps it. T must hold no
// pointers. Large pointer-free tables kept there are neither scanned by the
// garbage collector nor counted in the heap it paces itself by, so a
// 100 MB session index does not also let 100 MB of garbage pile up. If the
// mapping fails it falls back to the Go heap. A mapping of at least
// hugePage bytes asks for huge pages where the system has them (Linux:
// transparent huge pages), so that first touching it does not take one
// page fault per 4 KB: on a virtual machine that is ~12 µs a fault, and the
// session index touches a new table of up to tens of MB at once, under its
// lock, when it grows.
func offHeap[T any](n int) ([]T, func()) {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if size == 0 {
		return nil, func() {}
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]T, n), func() {}
	}
	if size >= hugePage {
		hugePages(b)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), func() { syscall.Munmap(b) }
}

// hugePage is the size of a huge page on common hardware.
const hugePage = 2 << 20
