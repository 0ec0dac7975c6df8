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
// The next process opens the store and writes one record; the power fails
// before that write's sync completes. The bytes past the last durable point
// are then the dead process's batch and the new record together, more than
// the window: the format's promise (walfmt "Sync window") holds only if
// Open makes what it inherited durable before it appends. Here a sector of
// the dead process's first record is lost and everything after it is kept,
// which a power loss can do to unsynced data: none of it was acknowledged,
// so Open must cut it as a torn tail, not refuse the store as corrupt.
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
	mem.CrashAfter(1, keepAll, rand.New(rand.NewPCG(1, 2)))
	if err := db.Put([]byte("c"), bytes.Repeat([]byte{'c'}, 300<<10)); err == nil {
		t.Fatal("the write was acknowledged although its sync crashed")
	}
	db.Close()
	img := mem.CrashImage()
	if img == nil {
		t.Fatal("no crash")
	}
	data, _ := img.ReadFile(memLogPath)
	// One sector of the dead process's first record never reached the disk.
	s := (batchAt + 1024) / sectorSize * sectorSize
	copy(data[s:s+sectorSize], make([]byte, sectorSize))
	img.WriteFile(memLogPath, data)

	got, st, err := openState(t, memDir, memOptions(img, false))
	if err != nil {
		t.Fatalf("Open after the power loss: %v", err)
	}
	if d := diffState(got, state{"a": "1"}); d != "" {
		t.Errorf("content:\n%s", d)
	}
	if st.TruncatedBytes != int64(len(data))-batchAt {
		t.Errorf("TruncatedBytes %d, want %d", st.TruncatedBytes, int64(len(data))-batchAt)
	}
}
