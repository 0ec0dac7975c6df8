//go:build !windows

package kv

import "os"

// openFile is os.OpenFile: elsewhere than on Windows an open file never
// stops a rename over it.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
