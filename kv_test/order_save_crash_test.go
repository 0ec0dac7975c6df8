package kv_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

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
	ffs.SetInject(crashAfter(k, func() { crashed = mem.Crash(keep, rng) }))
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
