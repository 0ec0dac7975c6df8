//go:build !unix && !windows

package kv

func processAlive(pid int) bool { return true }

func isLockViolation(error) bool { return false }
