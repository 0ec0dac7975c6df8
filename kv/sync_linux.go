package kv

import (
	"os"

	"golang.org/x/sys/unix"
)

func fdatasync(f *os.File) error {
	err := withFd(f, func(fd int) error {
		for {
			if err := unix.Fdatasync(fd); err != unix.EINTR {
				return err
			}
		}
	})
	if err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	return nil
}
