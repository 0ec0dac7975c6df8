//go:build unix

package kv

import "os"

// withFd runs fn on f's descriptor while holding it open. A Close from
// another goroutine — a compaction closing the log it replaced while a
// scan maps it — then waits for fn to return, and a file already closed
// is an error rather than a number that another file opened since may
// have been given (mapping that would read the wrong file's bytes).
// os.File.Fd gives no such hold.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
