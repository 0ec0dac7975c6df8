package kv_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestCompactionLeavesOutWhatDiesDuringIt holds a compaction after it has
// taken its snapshot of the live records, before it reads the log, and
// overwrites half of the keys and deletes a tenth meanwhile. The new log
// must not carry the records that died after the snapshot: their newer
// records are copied from the tail, so the compacted store has no stale
// bytes but the tombstones', and every key reads its latest value.
func TestCompactionLeavesOutWhatDiesDuringIt(t *testing.T) {
	dir := t.TempDir()
	hold := &readHoldFS{FS: kv.DefaultFS(), held: make(chan struct{}), release: make(chan struct{})}
	db := openDB(t, dir, &kv.Options{NoSync: true, FS: hold, Compaction: compact.Policy{Disabled: true}})
	const n = 4000
	want := fillLog(t, db, n, 100)
	hold.armed.Store(true)
	compacted := make(chan error, 1)
	go func() { compacted <- db.Compact() }()
	select {
	case <-hold.held:
	case <-time.After(time.Minute):
		t.Fatal("the compaction never read the log")
	}
	for i := range n / 2 {
		mustPut(t, db, key(i), "new")
		want[key(i)] = "new"
	}
	var tombstones int64
	for i := n / 2; i < n/2+n/10; i++ {
		if err := db.Delete([]byte(key(i))); err != nil {
			t.Fatal(err)
		}
		delete(want, key(i))
		tombstones += int64(walfmt.RecordSize(len(key(i)), 0))
	}
	close(hold.release)
	if err := <-compacted; err != nil {
		t.Fatalf("Compact: %v", err)
	}
	st := db.Stats()
	if st.StaleBytes != tombstones {
		t.Errorf("stale bytes after the compaction: %d, want the tombstones' %d", st.StaleBytes, tombstones)
	}
	wantContents(t, db, want)
	if got := checkAccounting(t, db); got.LogBytes != walfmt.HeaderSize+got.LiveBytes+got.StaleBytes {
		t.Errorf("accounting: %+v", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "wal.log"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < st.LogBytes {
		t.Errorf("log file %d bytes, stats say %d", fi.Size(), st.LogBytes)
	}
}

// readHoldFS holds the first read of wal.log once armed until release is
// closed, and closes held when it does.
type readHoldFS struct {
	kv.FS
	armed   atomic.Bool
	fired   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *readHoldFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	f, err := h.FS.OpenFile(name, flag, perm)
	if err != nil || filepath.Base(name) != "wal.log" {
		return f, err
	}
	return readHoldFile{File: f, h: h}, nil
}

type readHoldFile struct {
	kv.File
	h *readHoldFS
}

func (f readHoldFile) ReadAt(p []byte, off int64) (int, error) {
	if f.h.armed.Load() && f.h.fired.CompareAndSwap(false, true) {
		close(f.h.held)
		<-f.h.release
	}
	return f.File.ReadAt(p, off)
}
