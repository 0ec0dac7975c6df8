//go:build unix

package kv

import (
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// mapping is a read-only, shared memory map of the log, larger than the
// file so that appends land inside it without remapping. Readers look only
// below the published end of the log: touching a page past the end of the
// file would fault.
type mapping struct {
	data []byte
	// writable maps allow appends by copying into reserved space: see
	// DB.appendLocked.
	writable bool
	// released is where the pages a NoSync writer copied records into are
	// still mapped from (see releaseWritten). Guarded by DB.wmu.
	released int64
	// populated is where a NoSync writer's pages are faulted in ahead of
	// it up to (see populateAhead). Guarded by DB.wmu.
	populated int64
	// populating is set while a goroutine faults pages in, releasing
	// while one releases written pages, and bg counts those goroutines,
	// which unmap waits for.
	populating, releasing atomic.Bool
	bg                    sync.WaitGroup
}

// mapLog maps f, which must be an *os.File underneath, with room for the
// log to grow to at least twice size; writable when asked. It returns nil
// where the file cannot be mapped (a wrapped file in tests); reads then use
// ReadAt.
func mapLog(f File, size int64, writable bool) *mapping {
	of, ok := f.(osFile)
	if !ok {
		return nil
	}
	prot := syscall.PROT_READ
	if writable {
		prot |= syscall.PROT_WRITE
	}
	n := mapSize(size)
	var data []byte
	err := withFd(of.File, func(fd int) (err error) {
		data, err = syscall.Mmap(fd, 0, n, prot, syscall.MAP_SHARED)
		return err
	})
	if err != nil {
		return nil
	}
	return &mapping{data: data, writable: writable}
}

// mapSize reserves address space generously on 64-bit systems (1 GiB, or
// twice the log), where it costs nothing until pages are touched.
func mapSize(size int64) int {
	min := int64(16 << 20)
	if bits.UintSize == 64 {
		min = 1 << 30
	}
	n := max(2*size, min)
	if n > int64(maxMap()) {
		n = int64(maxMap())
	}
	pg := int64(os.Getpagesize())
	return int((n + pg - 1) / pg * pg)
}

func maxMap() int {
	if bits.UintSize == 64 {
		big := uint64(1) << 46 // a variable: the constant would not compile where int is 32 bits
		return int(big)
	}
	return 1 << 30
}

// unmap releases the map. munmap fails only for a range that is not a
// mapping, which would be a bug here: nothing can be done about it at run
// time, and no data depends on it (at worst address space stays reserved).
// Close returns the error; the places that release a map in passing (a
// remap, a compaction's swap, an Open that fails) drop it, saying so.
func (m *mapping) unmap() error {
	if m == nil {
		return nil
	}
	m.bg.Wait()
	dropPages(m.data)
	return syscall.Munmap(m.data)
}

// dropPages releases a map's pages a few megabytes at a time before it is
// unmapped. munmap holds the process's memory-map lock exclusively while
// it tears down every page, and any reader that faults on another map in
// the meantime waits for it: milliseconds, for a large log. madvise holds
// the lock shared, so readers fault in beside it, and the munmap that
// follows has nothing left to tear down.
func dropPages(b []byte) {
	const chunk = 4 << 20
	for off := 0; off < len(b); off += chunk {
		// Only a hint: on failure munmap tears the pages down itself.
		_ = unix.Madvise(b[off:min(off+chunk, len(b))], unix.MADV_DONTNEED)
	}
}

// releaseWritten drops from the process the pages of m that a NoSync
// writer has copied records into, up to keep bytes behind end, the log's
// tail, once releaseStep bytes (or a quarter of a smaller keep) have built
// up behind that. It does not drop them from the page cache: they are the
// file's, dirty ones included (the kernel moves a page's dirty bit to the
// file as it unmaps it), and a reader that touches one maps it again, as a
// reader faults in any page of the log. The release runs on a goroutine of
// its own: releasing 16 MiB of written pages took 0.4–2 ms here (median
// 0.45 ms), which the writer, holding DB.wmu, made every writer wait for
// when it released them itself. The caller holds DB.wmu.
func (m *mapping) releaseWritten(end, keep int64) {
	// to < end, which the caller has checked lies within m.data.
	to := (end - keep) &^ int64(os.Getpagesize()-1)
	if to-m.released < min(releaseStep, keep/4) || m.releasing.Load() {
		return
	}
	from := m.released
	m.released = to
	m.releasing.Store(true)
	m.bg.Go(func() {
		defer m.releasing.Store(false)
		// Only a hint: if it fails the pages stay mapped, as before.
		_ = unix.Madvise(m.data[from:to], unix.MADV_DONTNEED)
	})
}

// populateAhead has the pages of m from end, the log's tail, to
// populateWindow past it, or to limit, the end of the space reserved in
// the file, faulted in for writing on a goroutine of their own, once the
// writer has come within half the window of the pages faulted in so far.
// A NoSync writer copies its records into the map: without this, each new
// page costs the write that first touches it a page fault, and a fault,
// on a virtual machine, can take the host milliseconds to serve, and a
// Put as long. The pages faulted in are the file's zeros, which the
// writer then overwrites: nothing changes in the file. The caller holds
// DB.wmu.
func (m *mapping) populateAhead(end, limit int64) {
	if end+populateWindow/2 <= m.populated || m.populating.Load() {
		return
	}
	pg := int64(os.Getpagesize())
	from := max(m.populated, end) &^ (pg - 1)
	to := min(from+populateWindow, limit, int64(len(m.data))) &^ (pg - 1)
	if to <= from {
		return
	}
	m.populated = to
	m.populating.Store(true)
	m.bg.Go(func() {
		defer m.populating.Store(false)
		populateWrite(m.data[from:to])
	})
}

// populateWindow is how far ahead of a NoSync writer its pages are
// faulted in.
const populateWindow = 8 << 20
