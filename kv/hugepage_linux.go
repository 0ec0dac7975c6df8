package kv

import "golang.org/x/sys/unix"

// adviseHugePages asks the kernel to back m with huge pages; a kernel
// that declines leaves m as it was.
func adviseHugePages(m []byte) { _ = unix.Madvise(m, unix.MADV_HUGEPAGE) }
