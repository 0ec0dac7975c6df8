//go:build unix

package kv

import (
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
	return syscall.Munmap(b)
}
