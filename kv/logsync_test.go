package kv

import (
	"fmt"
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
