package kv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fiemap mirrors struct fiemap with room for some extents (linux/fiemap.h).
type fiemap struct {
	start, length                  uint64
	flags, mapped, count, reserved uint32
	extents                        [64]fiemapExtent
}

type fiemapExtent struct {
	logical, physical, length uint64
	reserved64                [2]uint64
	flags                     uint32
	reserved                  [3]uint32
}

const (
	fsIocFiemap           = 0xC020660B
	fiemapFlagSync        = 0x1
	fiemapExtentUnwritten = 0x800
)

// unwrittenIn returns the first byte of [from, to) of f that lies in an
// unwritten extent, or -1; skip reports a file system that cannot say.
func unwrittenIn(t *testing.T, f *os.File, from, to int64) (at int64, skip bool) {
	t.Helper()
	fm := fiemap{start: uint64(from), length: uint64(to - from), flags: fiemapFlagSync, count: uint32(len(fiemap{}.extents))}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&fm))); e != 0 {
		return 0, true
	}
	for _, x := range fm.extents[:fm.mapped] {
		if x.flags&fiemapExtentUnwritten == 0 {
			continue
		}
		lo, hi := int64(x.logical), int64(x.logical+x.length)
		if hi > from && lo < to {
			return max(lo, from), false
		}
	}
	return -1, false
}

// TestSyncedAppendsLandOnWrittenSpace checks that a synced store keeps the
// reserved space just past its tail written, not merely allocated: an
// append into an unwritten extent converts it, and the fdatasync after it
// then commits a journal transaction as well as the data.
func TestSyncedAppendsLandOnWrittenSpace(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := bytes.Repeat([]byte("v"), 100)
	for i := range 60 { // 60 synced batches, past one zeroStep: the zeros have moved on
		b := db.NewBatch()
		for j := range 50 {
			b.Put(fmt.Appendf(nil, "key-%05d", i*50+j), val)
		}
		if err := db.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	db.wmu.Lock()
	tail, alloc := db.tail, db.alloc
	db.wmu.Unlock()
	if alloc <= tail {
		t.Skip("file system cannot reserve space")
	}
	f, err := os.Open(filepath.Join(dir, "wal.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	to := min(alloc, tail+zeroAhead-zeroStep)
	at, skip := unwrittenIn(t, f, tail, to)
	if skip {
		t.Skip("file system does not map extents")
	}
	if at >= 0 {
		t.Fatalf("byte %d, past the tail %d, is in an unwritten extent: the next synced appends convert it", at, tail)
	}
	rest, err := io.ReadAll(io.NewSectionReader(f, tail, alloc-tail))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, make([]byte, len(rest))) {
		t.Fatal("the reserved space past the tail holds bytes that are not zero")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(dir, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if n := db2.Stats().Keys; n != 3000 {
		t.Fatalf("reopened store has %d keys, want 3000", n)
	}
}
