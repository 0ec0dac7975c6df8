package kv

import "golang.org/x/sys/unix"

// populateWrite faults the pages of b in for writing, as a write to each
// would, without changing them (Linux 5.14 and later; an older kernel
// declines, and the writes fault them in as before).
func populateWrite(b []byte) { _ = unix.Madvise(b, unix.MADV_POPULATE_WRITE) }
