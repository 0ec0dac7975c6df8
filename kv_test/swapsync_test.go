package kv_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// pauseAfterRename returns an inject function for a faultFS that holds the
// first SyncDir after the compaction renames its new log over wal.log: it
// closes paused and waits until resume is closed. Everything else runs.
func pauseAfterRename(paused chan<- struct{}, resume <-chan struct{}) func(fsOp, string, int) error {
	var mu sync.Mutex
	renamed, held := false, false
	return func(op fsOp, name string, flag int) error {
		mu.Lock()
		switch {
		case op == opRename && filepath.Base(name) == "wal.log":
			renamed = true
		case op == opSyncDir && renamed && !held:
			held = true
			mu.Unlock()
			close(paused)
			<-resume
			return nil
		}
		mu.Unlock()
		return nil
	}
}

// TestSyncDurableRightAfterCompactionSwap writes and syncs a NoSync store in
// the window after a compaction has renamed its new log into place and
// before the compaction has synced the directory. Sync returning nil must
// mean the write survives a power loss: here, a crash that keeps only
// synced file contents and directory entries as of the last SyncDir.
func TestSyncDurableRightAfterCompactionSwap(t *testing.T) {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	db, err := kv.Open(memDir, memOptions(ffs, true))
	if err != nil {
		t.Fatal(err)
	}
	want := state{}
	for i := range 50 {
		o := op{kind: 'P', key: fmt.Sprintf("k%02d", i%20), value: fmt.Sprintf("v%d", i)}
		if err := o.run(db); err != nil {
			t.Fatal(err)
		}
		want = want.apply(o)
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	paused, resume := make(chan struct{}), make(chan struct{})
	ffs.SetInject(pauseAfterRename(paused, resume))
	compacted := make(chan error, 1)
	go func() { compacted <- db.Compact() }()
	<-paused

	late := op{kind: 'P', key: "late", value: "synced after the swap"}
	if err := late.run(db); err != nil {
		t.Fatal(err)
	}
	want = want.apply(late)
	if err := db.Sync(); err != nil {
		t.Fatalf("Sync after the swap: %v", err)
	}
	crashed := mem.Crash(keepNone, nil)
	close(resume)
	if err := <-compacted; err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	got := reopenState(t, crashed, 0)
	if d := diffState(got, want); d != "" {
		t.Errorf("after a power loss that followed a successful Sync:\n%s", d)
	}
}

// TestCloseReportsFailedDirSyncAfterSwap fails the directory sync that
// follows a NoSync compaction's rename. Nothing then makes the writes the
// store acknowledged without a sync durable: a power loss may bring back
// the old log as it was last synced. Close must say so rather than return
// nil.
func TestCloseReportsFailedDirSyncAfterSwap(t *testing.T) {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	db, err := kv.Open(memDir, memOptions(ffs, true))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := db.Put([]byte(fmt.Sprintf("k%02d", i%20)), []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// The first directory sync of a compaction follows the removal of the
	// old hint, the second the rename.
	ffs.SetInject(failNthOp(opSyncDir, "", 2, syscall.EIO))
	if err := db.Compact(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Compact: %v, want EIO", err)
	}
	ffs.SetInject(nil)
	if err := db.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Close after the failed directory sync: %v, want an error wrapping EIO", err)
	}
}
