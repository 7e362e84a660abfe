//go:build !unix

package store

// offHeap returns a zeroed array of n T; on this platform it is on the Go
// heap (see offheap_unix.go).
func offHeap[T any](n int) ([]T, func()) {
	return make([]T, n), func() {}
}
