package kv_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// TestFollowerLeftoverCompaction follows a store whose writer died in a
// compaction, leaving its new log, wal.log.compact, behind, and no process
// holding the store: the follower must not report a compaction running,
// which nobody will finish (until the next writer's Open removes the file).
func TestFollowerLeftoverCompaction(t *testing.T) {
	dir := t.TempDir()
	w, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := w.Put([]byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// What a writer killed in the middle of a compaction leaves.
	if err := os.WriteFile(filepath.Join(dir, "wal.log.compact"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := kv.Open(dir, &kv.Options{ReadOnly: true, FollowPoll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Refresh()
	time.Sleep(100 * time.Millisecond)
	if _, writing := f.Writer(); writing {
		t.Fatal("a writer holds the store")
	}
	if s := f.Stats(); s.Compacting {
		t.Error("the follower reports a compaction running, with no writer alive to run it")
	}
	if v, err := f.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Errorf("Get: %q, %v", v, err)
	}
}
