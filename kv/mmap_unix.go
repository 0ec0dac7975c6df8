//go:build unix

package kv

import (
	"math/bits"
	"os"
	"syscall"
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
	data, err := syscall.Mmap(int(of.Fd()), 0, n, prot, syscall.MAP_SHARED)
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
		return 1 << 46
	}
	return 1 << 30
}

func (m *mapping) unmap() error {
	if m == nil {
		return nil
	}
	return syscall.Munmap(m.data)
}
