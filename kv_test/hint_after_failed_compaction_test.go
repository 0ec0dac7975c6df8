package kv_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestCloseWritesHintAfterCompactionRemovedIt fails a compaction after it
// has removed the hint file (at the directory sync that makes the removal
// durable). The old log stays in use; Close must then write a hint for it
// again, as it does whenever the hint on disk does not cover the log, or
// every later Open replays the whole log.
func TestCloseWritesHintAfterCompactionRemovedIt(t *testing.T) {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	db, err := kv.Open(memDir, memOptions(ffs, false))
	if err != nil {
		t.Fatal(err)
	}
	want := state{}
	for i := range 100 {
		mustPut(t, db, key(i%40), value(i))
		want[key(i%40)] = value(i)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := mem.ReadFile(memDir + "/wal.hint"); !ok {
		t.Fatal("no hint after Close")
	}

	db, err = kv.Open(memDir, memOptions(ffs, false))
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, key(0), want[key(0)])
	ffs.SetInject(failNthOp(opSyncDir, "", 1, syscall.EIO))
	if err := db.Compact(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Compact: %v, want EIO", err)
	}
	ffs.SetInject(nil)
	if _, ok := mem.ReadFile(memDir + "/wal.hint"); ok {
		t.Fatal("the failed compaction did not remove the hint; the test no longer reaches its case")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := mem.ReadFile(memDir + "/wal.hint"); !ok {
		t.Error("Close left the store without a hint file: the next Open replays the whole log")
	}
	got, _, err := openState(t, memDir, memOptions(mem, false))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffState(got, want); d != "" {
		t.Errorf("content:\n%s", d)
	}
}
