package kv_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestOpenSyncsWhatTheLastProcessLeftUnsynced is a synced store whose
// process was killed during a group commit: its last records, less than
// walfmt.SyncWindow bytes of them, are in the page cache and not on disk.
// The next process opens the store, reads them, and writes one record; the
// power fails before that write's sync completes. The format's promise
// (walfmt "Sync window") counts from a durable point, and readers must not
// see what a crash can take back: Open makes what it inherited durable
// before it serves or appends anything, so the records it served survive.
func TestOpenSyncsWhatTheLastProcessLeftUnsynced(t *testing.T) {
	mem := newMemFS()
	db, err := kv.Open(memDir, memOptions(mem, false))
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "a", "1")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := mem.Remove(memDir + "/wal.hint"); err != nil {
		t.Fatal(err)
	}

	// The dead process's batch: appended, never synced.
	f, err := mem.OpenFile(memLogPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	batchAt := fi.Size()
	var batch []byte
	for _, k := range []string{"b1", "b2", "b3"} {
		batch = walfmt.AppendPut(batch, []byte(k), bytes.Repeat([]byte{'b'}, 300<<10))
	}
	if len(batch) > walfmt.SyncWindow {
		t.Fatalf("batch of %d bytes exceeds the window", len(batch))
	}
	if _, err := f.WriteAt(batch, batchAt); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// The next process: one synced write, and the power fails at its sync.
	db, err = kv.Open(memDir, memOptions(mem, false))
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "b3", string(bytes.Repeat([]byte{'b'}, 300<<10)))
	mem.CrashAfter(1, keepNone, rand.New(rand.NewPCG(1, 2)))
	if err := db.Put([]byte("c"), bytes.Repeat([]byte{'c'}, 300<<10)); err == nil {
		t.Fatal("the write was acknowledged although its sync crashed")
	}
	db.Close()
	img := mem.CrashImage()
	if img == nil {
		t.Fatal("no crash")
	}
	// Only what was synced survives. The records the new process read
	// and served must be among it.
	got, _, err := openState(t, memDir, memOptions(img, false))
	if err != nil {
		t.Fatalf("Open after the power loss: %v", err)
	}
	want := state{"a": "1"}
	for _, k := range []string{"b1", "b2", "b3"} {
		want[k] = string(bytes.Repeat([]byte{'b'}, 300<<10))
	}
	if d := diffState(got, want); d != "" {
		t.Errorf("content:\n%s", d)
	}
}
