package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
)

// putWhileLogSyncs returns how long a Put takes while a sync of a NoSync
// log holds logSync (as the order writer's or a checkpoint's does) for
// hold.
func putWhileLogSyncs(t *testing.T, db *DB, hold time.Duration) time.Duration {
	t.Helper()
	db.logSync.mu.Lock()
	took := make(chan time.Duration)
	go func() {
		start := time.Now()
		if err := db.Put([]byte("x"), []byte("y")); err != nil {
			t.Error(err)
		}
		took <- time.Since(start)
	}()
	time.Sleep(hold)
	db.logSync.mu.Unlock()
	return <-took
}

// TestReplacedLogSyncFailure records a failed sync of a log a compaction
// has replaced: the store must stay writable, and its NoSync writers must
// not wait, from then on, for the syncs of its current log to look at it.
func TestReplacedLogSyncFailure(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 1000 {
		if err := db.Put(fmt.Appendf(nil, "k%05d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	const hold = 200 * time.Millisecond
	if d := putWhileLogSyncs(t, db, hold); d >= hold/2 {
		t.Fatalf("before any failure, a Put waited %v for a sync of the log", d)
	}
	db.mu.RLock()
	old := db.mu.view.f
	db.mu.RUnlock()
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.oldLogs.Wait() // the old log is closed: its sync fails
	if err := db.syncNoSyncLog(old); err == nil {
		t.Fatal("a sync of the closed old log succeeded")
	}
	if err := db.Put([]byte("a"), []byte("b")); err != nil {
		t.Fatalf("a failed sync of a replaced log failed the store: %v", err)
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	if d := putWhileLogSyncs(t, db, hold); d >= hold/2 {
		t.Errorf("after a failed sync of a replaced log, a Put waited %v for a sync of the current one", d)
	}
}

// TestSwapClosedKeepsSyncFailure records a failed sync of a compaction's
// new log, as the order writer's beside the writers can, and puts that log
// in place the way a system that cannot rename an open file does: closed,
// renamed and opened again. The failure is the new handle's log's: the
// store must report it, not drop it as a replaced log's.
func TestSwapClosedKeepsSyncFailure(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 100 {
		if err := db.Put(fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	// The new log: here a copy of the old one, which the index describes.
	data, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tempName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp, err := db.fs.OpenFile(filepath.Join(dir, tempName), os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ls := &db.logSync
	ls.mu.Lock()
	ls.failures = append(ls.failures, logSyncFailure{log: tmp, err: syscall.EIO})
	ls.failed.Store(true)
	ls.mu.Unlock()
	db.wmu.Lock()
	db.mu.RLock()
	old, idx, c := db.mu.view.f, db.mu.index, db.mu.c
	db.mu.RUnlock()
	err = db.swapClosed(tmp, old, idx, c)
	db.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("after"), []byte("v")); !errors.Is(err, syscall.EIO) {
		t.Errorf("Put after the new log's failed sync: %v, want EIO", err)
	}
	if err := db.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Sync after the new log's failed sync: %v, want EIO", err)
	}
}
