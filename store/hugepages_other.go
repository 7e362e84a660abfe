//go:build unix && !linux

package store

// hugePages does nothing where there are no transparent huge pages to ask
// for (see hugepages_linux.go).
func hugePages([]byte) {}
