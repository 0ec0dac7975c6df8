//go:build unix && !aix

package kv

import (
	"errors"

	"golang.org/x/sys/unix"
)

// shareLog takes a shared flock on f, a log a reader opened, and holds it
// until f is closed: a compaction cuts the log it replaced only once it can
// lock it exclusively (see oldlog.go). It returns errLogGone if a
// compaction holds that lock, or if f is no longer linked: the reader got
// the old log just as it was replaced. Where flock is not supported the
// reader goes on without it, and no compaction can claim the log either.
func shareLog(f File) error {
	of, ok := f.(osFile)
	if !ok {
		return nil
	}
	return withFd(of.File, func(fd int) error {
		if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
			if errors.Is(err, unix.EWOULDBLOCK) {
				return errLogGone
			}
			return nil
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Nlink == 0 {
			return errLogGone
		}
		return nil
	})
}

// claimLog tries to take an exclusive flock on f, the log a compaction
// replaced, without waiting. got reports that it holds it, and so that no
// reader of another open file has the log; ok is false where it never can
// (another kind of File, no flock on this file system, or a file that
// still has a name, such as a hard link), so that waiting is pointless.
func claimLog(f File) (got, ok bool) {
	of, isOS := f.(osFile)
	if !isOS {
		return false, false
	}
	linked := false
	err := withFd(of.File, func(fd int) error {
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Nlink != 0 {
			linked = true // or unknown: not a file to cut
			return unix.Flock(fd, unix.LOCK_UN)
		}
		return nil
	})
	switch {
	case linked:
		return false, false
	case err == nil:
		return true, true
	case errors.Is(err, unix.EWOULDBLOCK):
		return false, true
	default:
		return false, false
	}
}
