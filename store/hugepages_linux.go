package store

import "syscall"

// hugePages advises the kernel to back b with transparent huge pages (used
// when THP is "always" or "madvise", the usual settings). Failure only
// costs speed, so it is ignored.
func hugePages(b []byte) {
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
