package kv

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
)

// pauseFS is the OS file system with two places a compaction can be held
// at, each once armed: the creation of its new log (after it has fixed its
// end, before it takes its snapshot of the live records) and the directory
// sync of its swap (after the rewrite and a first catch-up, before the
// last tail copy).
type pauseFS struct {
	osFS
	atOpen, atSyncDir atomic.Bool
	paused, resume    chan struct{}
}

func newPauseFS() *pauseFS {
	return &pauseFS{paused: make(chan struct{}), resume: make(chan struct{})}
}

func (p *pauseFS) hold() {
	close(p.paused)
	<-p.resume
}

func (p *pauseFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if filepath.Base(name) == tempName && p.atOpen.CompareAndSwap(true, false) {
		p.hold()
	}
	return p.osFS.OpenFile(name, flag, perm)
}

func (p *pauseFS) SyncDir(dir string) error {
	if p.atSyncDir.CompareAndSwap(true, false) {
		p.hold()
	}
	return p.osFS.SyncDir(dir)
}

// TestExpiredPutDuringCompaction checks that a put with an expiry, written
// while a compaction runs and expired by the time the compaction's tail
// copy reaches it, still hides the key's older value, which the rewrite
// had copied: the key stays absent after the swap and after a reopen. The
// put expires before it is written (PutExpiresAt in the past), or after
// (PutTTL, then the clock moves); the compaction is held before its
// snapshot or before its last tail copy; in a store scanned (whose
// compaction copies in key order) or not.
func TestExpiredPutDuringCompaction(t *testing.T) {
	for _, tc := range []struct {
		name         string
		atOpen, past bool
		scanned      bool
	}{
		{"past expiry, held at the swap", false, true, false},
		{"ttl, held at the swap", false, false, false},
		{"past expiry, held before the snapshot", true, true, false},
		{"ttl, held before the snapshot, scanned", true, false, true},
		{"past expiry, held at the swap, scanned", false, true, true},
		{"past expiry, held before the snapshot, scanned", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var now atomic.Int64
			now.Store(time.Unix(1e9, 0).UnixNano())
			clock := func() time.Time { return time.Unix(0, now.Load()) }
			fs := newPauseFS()
			opts := &Options{NoSync: true, FS: fs, Clock: clock, Compaction: compact.Policy{Disabled: true}}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			for _, k := range []string{"a", "b", "c", "b"} {
				if err := db.Put([]byte(k), []byte("old")); err != nil {
					t.Fatal(err)
				}
			}
			if tc.scanned {
				scanKeys(t, db) // gives the store its key order
			}
			if tc.atOpen {
				fs.atOpen.Store(true)
			} else {
				fs.atSyncDir.Store(true)
			}
			done := make(chan error)
			go func() { done <- db.Compact() }()
			<-fs.paused
			if tc.past {
				b := db.NewBatch()
				b.PutExpiresAt([]byte("b"), []byte("new"), clock().Add(-time.Hour))
				err = db.Write(b)
			} else {
				err = db.PutTTL([]byte("b"), []byte("new"), time.Second)
				now.Add(int64(2 * time.Second))
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Get([]byte("b")); err != ErrNotFound {
				t.Fatalf("before the swap: Get(b): %v, want ErrNotFound", err)
			}
			close(fs.resume)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if v, err := db.Get([]byte("b")); err != ErrNotFound {
				t.Fatalf("after the compaction: Get(b) = %q, %v; want ErrNotFound", v, err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			opts.FS = nil
			if db, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
			if v, err := db.Get([]byte("b")); err != ErrNotFound {
				t.Fatalf("after a reopen: Get(b) = %q, %v; want ErrNotFound", v, err)
			}
		})
	}
}
