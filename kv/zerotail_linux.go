package kv

import "golang.org/x/sys/unix"

// holeTail returns where a hole of f that runs to size begins, from at the
// earliest, or size if there is none: lseek's SEEK_DATA and SEEK_HOLE,
// which report an extent that was reserved and never written as a hole.
// It looks at a bounded number of extents.
func holeTail(f File, from, size int64) int64 {
	of, ok := f.(osFile)
	if !ok {
		return size
	}
	tail := size
	_ = withFd(of.File, func(fd int) error {
		data := from
		for range 64 {
			hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
			if err != nil || hole >= size {
				return err
			}
			next, err := unix.Seek(fd, hole, unix.SEEK_DATA)
			if err == unix.ENXIO || (err == nil && next >= size) {
				tail = hole // no data after it, within size
				return nil
			}
			if err != nil {
				return err
			}
			data = next
		}
		return nil
	})
	return max(tail, from)
}
