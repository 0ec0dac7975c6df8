//go:build unix

package kv

import (
	"sync"
	"syscall"
	"unsafe"
)

// loadSlots maps the hint file's slots privately: pages are read on first
// touch, and a write to the table copies the page instead of changing the
// file. Opening a store with a hint is then a few system calls, whatever
// its size. Where the file cannot be mapped, the slots are read.
func loadSlots(f File, off int64, n int) ([]slot, []byte, error) {
	of, ok := f.(osFile)
	if !ok {
		return readSlots(f, off, n)
	}
	size := n * int(unsafe.Sizeof(slot{}))
	var data []byte
	err := withFd(of.File, func(fd int) (err error) {
		data, err = syscall.Mmap(fd, off, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
		return err
	})
	if err != nil {
		return readSlots(f, off, n)
	}
	return unsafe.Slice((*slot)(unsafe.Pointer(unsafe.SliceData(data))), n), data, nil
}

func unmapSlots(b []byte) error {
	if b == nil {
		return nil
	}
	dropPages(b)
	// Taken out while the map still holds its address: once unmapped, a
	// hint loaded meanwhile could be mapped there and held under it.
	v, held := heldHints.LoadAndDelete(unsafe.SliceData(b))
	err := syscall.Munmap(b)
	if held {
		if h := v.(heldHint); h.release != nil {
			h.release(h.f)
		} else {
			_ = h.f.Close() // read-only; closing lets go of its flock
		}
	}
	return err
}

// heldHints holds each hint file whose slots are mapped, open, with the
// shared flock its reader took (see DB.loadHint), until the map is
// unmapped: a writer that replaced or removed the hint frees the file's
// blocks a step at a time only once it can lock it exclusively (see
// releaseOldHint), and a cut under a live map would fault its reads. (On
// Linux the map alone keeps the lock, as it keeps the open file; not on
// every system.) Keyed by the map's first byte; the values are heldHint.
var heldHints sync.Map

// heldHint is a hint file held open while its slots are mapped, and what
// to do with it once they are not: release it (DB.retireHint), or, if
// release is nil, close it.
type heldHint struct {
	f       File
	release func(File)
}

// holdHint keeps f, the hint file m maps, open until m is unmapped, and
// then hands it to release, or closes it if release is nil.
func holdHint(m []byte, f File, release func(File)) {
	heldHints.Store(unsafe.SliceData(m), heldHint{f: f, release: release})
}
