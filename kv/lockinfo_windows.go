//go:build windows

package kv

import (
	"errors"

	"golang.org/x/sys/windows"
)

// processAlive reports whether a process with this pid runs on this
// machine.
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code == 259 // STILL_ACTIVE
}

// isLockViolation reports whether err is Windows refusing to read a file
// another process has locked: the lock file while a writer holds it.
func isLockViolation(err error) bool {
	return errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}
