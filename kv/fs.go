package kv

import (
	"fmt"
	"io"
	"os"

	"github.com/gofrs/flock"
)

// FS is the file system a DB lives on: the operating system's by default,
// or a wrapper that injects faults in tests. Implementations must be safe for
// concurrent use.
type FS interface {
	// OpenFile opens a file like os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Stat describes a file like os.Stat.
	Stat(name string) (os.FileInfo, error)
	// MkdirAll creates a directory and its parents like os.MkdirAll.
	MkdirAll(path string, perm os.FileMode) error
	// Rename atomically replaces newpath with oldpath like os.Rename.
	Rename(oldpath, newpath string) error
	// Remove deletes a file like os.Remove.
	Remove(name string) error
	// SyncDir makes the directory's entries (creations, renames) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive (or, with shared, a shared) lock on the file
	// name without waiting, creating it if needed. It returns an error that
	// wraps ErrLocked when another holder has it. Closing the returned
	// io.Closer releases the lock.
	Lock(name string, shared bool) (io.Closer, error)
}

// File is an open file of an FS. ReadAt must be safe to call concurrently
// with itself and with WriteAt at other offsets, and Sync concurrently with
// ReadAt and WriteAt (a synced store syncs its log while writers append,
// and a compaction its new log while it copies): such a Sync makes durable
// at least what was written before it began. The store tells its open
// files apart with ==, so a File's dynamic type must be comparable (a
// pointer, or a struct of comparable fields); Open refuses one that is not.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync flushes the file's data to stable storage (fdatasync where the
	// system has it).
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// DefaultFS returns the operating system's file system.
func DefaultFS() FS { return osFS{} }

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := openFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Stat(name string) (os.FileInfo, error)        { return os.Stat(name) }
func (osFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) SyncDir(dir string) error                     { return syncDir(dir) }

func (osFS) Lock(name string, shared bool) (io.Closer, error) {
	// The lock file names its holder (see LockHolder): readable by
	// everyone who may read the store, like the log.
	l := flock.New(name, flock.SetPermissions(0o644))
	var ok bool
	var err error
	if shared {
		ok, err = l.TryRLock()
	} else {
		ok, err = l.TryLock()
	}
	if err != nil {
		return nil, fmt.Errorf("kv: lock %s: %w", name, err)
	}
	if !ok {
		return nil, ErrLocked
	}
	return lockCloser{l}, nil
}

type lockCloser struct{ l *flock.Flock }

func (c lockCloser) Close() error { return c.l.Close() }

// osFile is an *os.File whose Sync is fdatasync where available: the log's
// size is part of its data, so fdatasync is enough to make an append
// durable, and it skips the metadata write that fsync adds.
type osFile struct{ *os.File }

func (f osFile) Sync() error { return fdatasync(f.File) }
