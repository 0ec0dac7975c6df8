package kv

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
)

// errLogCut is what a follower's read reports when the bytes it reads
// through its map are no longer in the file: another process cut the log
// below them (the writer repairing a torn tail at its Open, or `crabkv
// repair`). The follower's next step sees the log cut and reads it afresh
// (see logReplacedLocked); the read may be tried again then.
var errLogCut = fmt.Errorf("kv: the log was cut under a read: %w", ErrLogReplaced)

// followFile is a follower's log: the file, with a read-only shared map of
// it that serves every read of the bytes the follower has applied. A read
// from the map is a copy, where a ReadAt is a system call; reads past what
// the map may serve go to the file.
//
// The writer may cut the file under the map, and touching a page of a map
// past the end of its file faults (SIGBUS), which would end the process. So
// each copy out of the map runs with runtime/debug.SetPanicOnFault on for
// its goroutine, and a fault becomes errLogCut (see copyGuarded). Only
// copies leave followFile: no slice of the map reaches a caller, whose later
// reads no guard would cover. A follower's logView therefore has no map of
// its own (logView.m is nil): Get, View, iterators and History read through
// ReadAt, that is through this map, and View hands its callback a copy.
//
// The writer's own map is not guarded: nothing cuts the file a writer holds
// the lock of.
//
// ReadAt and Close are safe for concurrent use; advance is called by the
// follower holding wmu (its goroutine, a Refresh), by that goroutine as it
// starts, and on a file no reader has yet.
type followFile struct {
	File // the log, opened read-only

	// mu guards the map: shared for a copy out of it, exclusive to replace
	// or release it. It is a leaf: taken under DB.mu (a reader's ReadAt,
	// Close) or under none (an order build reading a private view).
	mu struct {
		sync.RWMutex
		m *mapping // nil where the file cannot be mapped
		// limit bounds the reads the map serves: the end of what the
		// follower has applied, or of the chunk it is applying, whose
		// bytes were in the file when read.
		limit  int64
		closed bool
	}
}

// newFollowFile wraps f, the log opened read-only, and lets reads through
// a map up to limit.
func newFollowFile(f File, limit int64) *followFile {
	ff := &followFile{File: f}
	ff.advance(limit)
	return ff
}

// advance lets the map serve reads up to end, mapping the file afresh
// when end lies past the map: as a writer's map, the new one is twice the
// log or more, so that this is rare. Where the file cannot be mapped, reads
// stay with ReadAt.
func (ff *followFile) advance(end int64) {
	ff.mu.RLock()
	m, closed := ff.mu.m, ff.mu.closed
	ff.mu.RUnlock()
	if closed {
		return
	}
	var nm *mapping
	if m == nil || end > int64(len(m.data)) {
		nm = mapLog(ff.File, end, false)
	}
	ff.mu.Lock()
	if ff.mu.closed { // Close ran meanwhile and released the map it saw
		ff.mu.Unlock()
		_ = nm.unmap() // harmless: see mapping.unmap
		return
	}
	var old *mapping
	if nm != nil {
		old, ff.mu.m = ff.mu.m, nm
	}
	ff.mu.limit = 0
	if m := ff.mu.m; m != nil {
		ff.mu.limit = min(end, int64(len(m.data)))
	}
	ff.mu.Unlock()
	_ = old.unmap() // no read holds it: each holds ff.mu shared
}

// ReadAt copies len(b) bytes at off out of the map when they lie below the
// limit, and reads them from the file otherwise.
func (ff *followFile) ReadAt(b []byte, off int64) (int, error) {
	ff.mu.RLock()
	defer ff.mu.RUnlock()
	if ff.mu.closed {
		return 0, os.ErrClosed
	}
	m := ff.mu.m
	if m == nil || off < 0 || off > ff.mu.limit-int64(len(b)) {
		return ff.File.ReadAt(b, off)
	}
	if err := copyGuarded(b, m.data[off:off+int64(len(b))]); err != nil {
		return 0, fmt.Errorf("kv: read at offset %d: %w", off, err)
	}
	return len(b), nil
}

// Close releases the map, after any read in progress, and closes the file.
func (ff *followFile) Close() error {
	ff.mu.Lock()
	m := ff.mu.m
	ff.mu.m, ff.mu.limit, ff.mu.closed = nil, 0, true
	ff.mu.Unlock()
	err := m.unmap()
	if cerr := ff.File.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyGuarded copies src, which lies in a map of a file that another
// process may cut, into dst, and returns errLogCut if the copy faults. The
// guard is per goroutine and is restored on the way out, whatever it was.
func copyGuarded(dst, src []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = faultError(r)
		}
	}()
	copy(dst, src)
	return nil
}

// faultError turns the value recovered from a memory fault into errLogCut,
// and panics again with any other.
func faultError(r any) error {
	var fault interface{ Addr() uintptr }
	if e, ok := r.(error); ok && errors.As(e, &fault) {
		return errLogCut
	}
	panic(r)
}

// followFileMuLocked returns the follower's log, if it has one. The caller
// holds mu.
func (db *DB) followFileMuLocked() *followFile {
	ff, _ := db.mu.view.f.(*followFile)
	return ff
}

// openFollowed opens wal.log read-only for a follower, with a map of the
// bytes it holds now: the replay that indexes it reads through the map.
func (db *DB) openFollowed() (*followFile, error) {
	f, err := reopenShared(db.fs, db.path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return followLog(f), nil
}

// followLog wraps f, a log opened read-only, in a followFile that maps the
// bytes it holds now.
func followLog(f File) *followFile {
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return newFollowFile(f, size)
}
