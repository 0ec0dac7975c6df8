package kv_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

func asyncPut(t *testing.T, db *kv.DB, key, value string) kv.Commit {
	t.Helper()
	b := db.NewBatch()
	b.Put([]byte(key), []byte(value))
	c, err := db.WriteAsync(b)
	if err != nil {
		t.Fatalf("WriteAsync %q: %v", key, err)
	}
	return c
}

// TestWriteAsync checks WriteAsync's contract on a synced store: a write
// is invisible until its Commit is waited for; one Wait syncs every write
// appended before it, once; and Close makes a write never waited for
// durable.
func TestWriteAsync(t *testing.T) {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	var syncs atomic.Int64
	ffs.SetInject(func(o fsOp, name string, _ int) error {
		if o == opSync && strings.HasSuffix(name, "wal.log") {
			syncs.Add(1)
		}
		return nil
	})
	db, err := kv.Open(memDir, memOptions(ffs, false))
	if err != nil {
		t.Fatal(err)
	}
	var zero kv.Commit
	if err := zero.Wait(); err != nil {
		t.Fatalf("zero Commit: %v", err)
	}

	c1 := asyncPut(t, db, "a", "1")
	c2 := asyncPut(t, db, "b", "2")
	wantMissing(t, db, "a")
	wantMissing(t, db, "b")
	before := syncs.Load()
	if err := c2.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load() - before; n != 1 {
		t.Fatalf("waiting for two writes synced %d times, want 1", n)
	}
	wantValue(t, db, "a", "1")
	wantValue(t, db, "b", "2")
	if err := c1.Wait(); err != nil || syncs.Load()-before != 1 {
		t.Fatalf("waiting for a write already synced: %v, %d syncs", err, syncs.Load()-before)
	}

	asyncPut(t, db, "c", "3") // never waited for
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A power loss right after Close keeps it.
	db = openDB(t, memDir, memOptions(mem.Crash(keepNone, rand.New(rand.NewPCG(1, 2))), false))
	wantValue(t, db, "c", "3")
	wantValue(t, db, "a", "1")
}

// A write appended by WriteAsync and then lost to a failed sync is
// reported by Wait, and never becomes visible.
func TestWriteAsyncFailedSync(t *testing.T) {
	ffs := newFaultFS(newMemFS())
	db, err := kv.Open(memDir, memOptions(ffs, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	errDisk := errors.New("disk failed")
	ffs.SetInject(func(o fsOp, name string, _ int) error {
		if o == opSync && strings.HasSuffix(name, "wal.log") {
			return errDisk
		}
		return nil
	})
	c := asyncPut(t, db, "a", "1")
	if err := c.Wait(); !errors.Is(err, errDisk) {
		t.Fatalf("Wait after a failed sync = %v, want %v", err, errDisk)
	}
	wantMissing(t, db, "a")
}

// With NoSync, WriteAsync applies the batch at once.
func TestWriteAsyncNoSync(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{NoSync: true})
	c := asyncPut(t, db, "a", "1")
	wantValue(t, db, "a", "1")
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
}
