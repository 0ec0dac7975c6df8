package kv

import "errors"

var (
	// ErrNotFound is returned by Get and Entry for a key that is not in the
	// store.
	ErrNotFound = errors.New("kv: key not found")
	// ErrLocked is returned by a writer's Open, and by Repair, when another
	// process has the data directory open for writing. The error names that
	// process when the lock file does (see LockHolder).
	ErrLocked = errors.New("kv: data directory is locked by another process")
	// ErrClosed is returned by calls on a closed DB.
	ErrClosed = errors.New("kv: database is closed")
	// ErrReadOnly is returned by writes to a DB opened with ReadOnly.
	ErrReadOnly = errors.New("kv: database is read-only")
	// ErrEmptyKey is returned for a zero-length key.
	ErrEmptyKey = errors.New("kv: empty key")
	// ErrKeyTooLarge is returned for a key longer than Options.MaxKeySize.
	ErrKeyTooLarge = errors.New("kv: key too large")
	// ErrValueTooLarge is returned for a value longer than
	// Options.MaxValueSize.
	ErrValueTooLarge = errors.New("kv: value too large")
)

// lockedError names the directory another process holds, and that
// process when the lock file names it.
type lockedError struct {
	dir    string
	holder *Holder
}

func (e *lockedError) Error() string {
	if e.holder != nil {
		return "kv: data directory " + e.dir + " is locked by " + e.holder.String()
	}
	return "kv: data directory " + e.dir + " is locked by another process"
}

// Holder returns the process that holds the lock, when the lock file
// names it.
func (e *lockedError) Holder() (Holder, bool) {
	if e.holder == nil {
		return Holder{}, false
	}
	return *e.holder, true
}

func (e *lockedError) Unwrap() error { return ErrLocked }
