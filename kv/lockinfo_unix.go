//go:build unix

package kv

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this pid runs on this
// machine. EPERM means it runs as another user.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func isLockViolation(error) bool { return false }
