package kv

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// A NoSync log is synced by Sync and Close, and, beside the writers, by a
// checkpoint (before its hint describes the log) and by the background
// writer of wal.order (before its run does). After a failed fsync the
// kernel may have dropped the pages it could not write, and it reports the
// failure once, to one caller of one file description: a Sync whose fsync
// ran right after a checkpoint's failed one could return success for
// writes that are gone. So these syncs go through logSync, one at a time,
// and a failure is kept for the log it struck, for the next Sync, Close or
// write to find (adoptLogSyncFailureLocked).
type logSync struct {
	// mu serializes the syncs and guards failures. A leaf: taken with wmu
	// held (Sync, Close, a write that finds a failure, swapClosed) or with
	// no lock (a checkpoint, the order writer); never with mu held.
	mu       sync.Mutex
	failures []logSyncFailure
	// failed is set once failures is not empty, for writers to look at
	// without mu.
	failed atomic.Bool
}

// logSyncFailure is a failed sync of a log.
type logSyncFailure struct {
	log File
	err error
}

// syncNoSyncLog fsyncs log, a NoSync store's log, after any sync of it in
// progress, and returns an error if this sync or an earlier one of log
// failed.
func (db *DB) syncNoSyncLog(log File) error {
	ls := &db.logSync
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, f := range ls.failures {
		if f.log == log {
			return f.err
		}
	}
	err := log.Sync()
	if err != nil {
		ls.failures = append(ls.failures, logSyncFailure{log: log, err: err})
		ls.failed.Store(true)
	}
	return err
}

// adoptLogSyncFailureLocked fails the store if a sync of its log has
// failed: one beside the writers, whose caller could not take wmu to say
// so. The failures of logs a compaction has replaced are dropped: such a
// log is never the store's again, and the writes that follow need not look
// at them (or wait for a sync in progress to do so). The caller holds wmu.
func (db *DB) adoptLogSyncFailureLocked() {
	if db.failed == nil && db.logSync.failed.Load() { // inlined on every write
		db.adoptLogSyncFailureSlowLocked()
	}
}

// adoptLogSyncFailureSlowLocked is adoptLogSyncFailureLocked once a
// failure is recorded.
func (db *DB) adoptLogSyncFailureSlowLocked() {
	ls := &db.logSync
	ls.mu.Lock()
	defer ls.mu.Unlock()
	kept := ls.failures[:0]
	for _, f := range ls.failures {
		if f.log == db.mu.view.f {
			kept = append(kept, f)
			if db.failed == nil {
				db.failed = fmt.Errorf("sync %s: %w", db.path, f.err)
			}
		}
	}
	clear(ls.failures[len(kept):]) // lets the replaced logs' files go
	ls.failures = kept
	ls.failed.Store(len(kept) > 0)
}

// reopened records that opened is a new handle of the log closed was
// open on (a swap where an open file cannot be renamed over): a failure
// kept for closed is opened's.
func (ls *logSync) reopened(closed, opened File) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for i := range ls.failures {
		if ls.failures[i].log == closed {
			ls.failures[i].log = opened
		}
	}
}
