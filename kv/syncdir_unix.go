//go:build !windows

package kv

import "os"

// renameOpenFiles reports whether a file may be renamed over while it is
// open. It may on Unix.
const renameOpenFiles = true

// syncDir fsyncs a directory so that a rename or a creation in it survives a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
