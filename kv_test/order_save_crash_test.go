package kv_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// TestCrashWhileSavingLiveOrder crashes the file system at each mutating
// operation from a compaction on — the compaction's, the wal.order it has
// written in the background for its new log, and Close's — keeping none,
// all or some of the unsynced writes, and checks that the store reopens
// with its data, scans it exactly, and that a reader opened beside the
// reopened writer scans it exactly too.
func TestCrashWhileSavingLiveOrder(t *testing.T) {
	for k := 0; ; k++ {
		crashed := false
		for _, keep := range []crashKeep{keepNone, keepAll, keepPrefix, keepSubset} {
			crashed = crashLiveSaveAt(t, k, keep, rand.New(rand.NewPCG(uint64(k), uint64(keep)))) || crashed
		}
		if !crashed {
			if k < 4 {
				t.Fatalf("only %d file-system operations from the compaction on", k)
			}
			return
		}
	}
}

// crashLiveSaveAt crashes the k-th mutating operation from a compaction
// on, and reports whether there was one.
func crashLiveSaveAt(t *testing.T, k int, keep crashKeep, rng *rand.Rand) bool {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	db, err := kv.Open(memDir, memOptions(ffs, false))
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]string{}
	for i := range 300 {
		mustPut(t, db, key(i%200), value(i))
		ref[key(i%200)] = value(i)
	}
	scanAll(t, db, nil, nil) // sorts the keys, and saves their order
	for i := range 50 {
		if err := db.Delete([]byte(key(i * 3))); err != nil {
			t.Fatal(err)
		}
		delete(ref, key(i*3))
		mustPut(t, db, fmt.Sprint("new", i), "n")
		ref[fmt.Sprint("new", i)] = "n"
	}
	var crashed *memFS
	ffs.SetInject(crashAfter(k, func() { crashed = mem.CrashHalt(keep, rng) }))
	_ = db.Compact() // may fail at the crash
	_ = db.Close()   // waits for the background save
	if crashed == nil {
		return false
	}
	db, err = kv.Open(memDir, memOptions(crashed, false))
	if err != nil {
		t.Fatalf("crash at operation %d (keep %d): Open: %v", k, keep, err)
	}
	defer db.Close()
	want := refRange(ref, nil, nil)
	if got := scanAll(t, db, nil, nil); !slices.Equal(got, want) {
		t.Fatalf("crash at operation %d (keep %d): scanned %d keys, want %d", k, keep, len(got), len(want))
	}
	ro := memOptions(crashed, false)
	ro.ReadOnly = true
	r, err := kv.Open(memDir, ro)
	if err != nil {
		t.Fatalf("crash at operation %d (keep %d): reader's Open: %v", k, keep, err)
	}
	defer r.Close()
	if got := scanAll(t, r, nil, nil); !slices.Equal(got, want) {
		t.Fatalf("crash at operation %d (keep %d): reader scanned %d keys, want %d", k, keep, len(got), len(want))
	}
	return true
}

// renameDurableFS is a memFS whose renames are durable at once, as on a
// journaling file system whose periodic commit has run since the rename
// (ext4 commits its metadata every few seconds, while a NoSync log's dirty
// pages may wait half a minute). File data still needs a sync to survive
// a crash.
type renameDurableFS struct{ *memFS }

func (m renameDurableFS) Rename(oldpath, newpath string) error {
	if err := m.memFS.Rename(oldpath, newpath); err != nil {
		return err
	}
	return m.SyncDir(filepath.Dir(newpath))
}

// waitOrderFile waits until the background writer has put wal.order in
// place in mem.
func waitOrderFile(t *testing.T, mem *memFS) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		names := mem.Names(memDir)
		if slices.ContainsFunc(names, func(n string) bool { return filepath.Base(n) == "wal.order" }) &&
			!slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, ".tmp") }) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no wal.order written in the background; files %v", mem.Names(memDir))
}

// TestNoSyncOrderSaveAfterPowerLoss checks that the wal.order a NoSync
// store saves in the background describes only records the disk has. A
// scan saves the order of records not yet synced; a power loss drops them
// and keeps the order file (its rename made durable by the file system's
// own commit). After the reboot the application writes other records of
// the same sizes where the lost ones were, ending with the same 4 KiB, so
// that nothing but the records themselves tells the log from the one the
// file was written for: scans must find exactly the keys Get finds, then
// and after a clean Close and Open.
func TestNoSyncOrderSaveAfterPowerLoss(t *testing.T) {
	mem := newMemFS()
	db, err := kv.Open(memDir, memOptions(renameDurableFS{mem}, true))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 5000)
	// Not synced: a delete of 20 bytes and a large put.
	if err := db.Delete([]byte("k050")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "big", big)
	scanAll(t, db, nil, nil) // sorts the keys, and saves their order
	waitOrderFile(t, mem)
	crashed := mem.Crash(keepNone, nil)
	_ = db.Close()

	db, err = kv.Open(memDir, memOptions(renameDurableFS{crashed}, true))
	if err != nil {
		t.Fatal(err)
	}
	// The delete of k050 survives if the save synced the log, and is lost
	// if nothing did (as NoSync allows). Then a put of 20 bytes, and the
	// large value again.
	_, err = db.Get([]byte("k050"))
	deleted := errors.Is(err, kv.ErrNotFound)
	if err != nil && !deleted {
		t.Fatal(err)
	}
	mustPut(t, db, "q1", "xy")
	mustPut(t, db, "big", big)
	want := []pair{{"big", big}}
	for i := range 100 {
		if k := fmt.Sprintf("k%03d", i); k != "k050" || !deleted {
			want = append(want, pair{k, "v"})
		}
	}
	want = append(want, pair{"q1", "xy"})
	for _, p := range want {
		wantValue(t, db, p.k, p.v)
	}
	if got := scanAll(t, db, nil, nil); !slices.Equal(got, want) {
		t.Errorf("scan after the power loss: %d keys, want %d", len(got), len(want))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, memDir, memOptions(renameDurableFS{crashed}, true))
	if got := scanAll(t, db, nil, nil); !slices.Equal(got, want) {
		t.Errorf("scan after a clean Close and Open: %d keys, want %d", len(got), len(want))
	}
}

// TestNoSyncOrderSaveSyncFails fails the sync of a NoSync log that the
// background writer of wal.order makes before saving a run. The kernel
// may have dropped the pages it could not write, and reports that once: the
// store must fail as if its own Sync had failed — no more writes, and Sync
// and Close say so — and write no order file for those records.
func TestNoSyncOrderSaveSyncFails(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS(kv.DefaultFS())
	db, err := kv.Open(dir, &kv.Options{FS: ffs, NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		mustPut(t, db, key(i), value(i))
	}
	fired := make(chan struct{})
	var once sync.Once
	ffs.SetInject(func(o fsOp, name string, _ int) error {
		if o == opSync && filepath.Base(name) == "wal.log" {
			failed := false
			once.Do(func() { failed = true; close(fired) })
			if failed {
				return syscall.EIO
			}
		}
		return nil
	})
	scanAll(t, db, nil, nil) // sorts the keys: the background writer saves them
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("the background writer did not sync the log")
	}
	deadline := time.Now().Add(5 * time.Second)
	for db.Put([]byte("after"), []byte("x")) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the store still takes writes after a sync of its log failed")
		}
		time.Sleep(time.Millisecond)
	}
	if err := db.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Sync after the failed sync: %v, want EIO", err)
	}
	if err := db.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Close after the failed sync: %v, want EIO", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wal.order")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wal.order after the failed sync: %v, want none", err)
	}
}

// TestNoSyncSyncBesideFailedSync runs a Sync while the background writer's
// sync of the log is failing. The kernel reports a failed write-out once:
// here the failing sync returns EIO and every later one succeeds. A Sync
// that ran beside the failing one and succeeded would tell the caller that
// writes the kernel dropped are durable: it must wait for it, and fail.
func TestNoSyncSyncBesideFailedSync(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS(kv.DefaultFS())
	db, err := kv.Open(dir, &kv.Options{FS: ffs, NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 100 {
		mustPut(t, db, key(i), value(i))
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var released sync.Once
	// The writer's sync is let go before Close waits for it, however the
	// test ends.
	defer released.Do(func() { close(release) })
	var first atomic.Bool
	ffs.SetInject(func(o fsOp, name string, _ int) error {
		if o == opSync && filepath.Base(name) == "wal.log" && first.CompareAndSwap(false, true) {
			close(entered)
			<-release
			return syscall.EIO
		}
		return nil
	})
	scanAll(t, db, nil, nil) // the background writer syncs the log to save the order
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the background writer did not sync the log")
	}
	synced := make(chan error, 1)
	go func() { synced <- db.Sync() }()
	select {
	case err := <-synced:
		t.Fatalf("Sync returned %v while a sync of the log was failing", err)
	case <-time.After(50 * time.Millisecond):
	}
	released.Do(func() { close(release) })
	if err := <-synced; !errors.Is(err, syscall.EIO) {
		t.Errorf("Sync beside a failed sync: %v, want EIO", err)
	}
}
