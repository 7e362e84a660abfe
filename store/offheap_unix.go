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
// mapping fails it falls back to the Go heap.
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
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), func() { syscall.Munmap(b) }
}
