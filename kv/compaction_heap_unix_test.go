//go:build unix

package kv

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/crabkv/crabkv/compact"
)

// compactionHeap returns the bytes a compaction of a store of n keys, each
// written twice and never scanned, allocates on the Go heap.
func compactionHeap(t *testing.T, n int) uint64 {
	t.Helper()
	db, err := Open(t.TempDir(), &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 20)
	for range 2 {
		for i := range n {
			if err := db.Put(fmt.Appendf(nil, "%016x", i), val); err != nil {
				t.Fatal(err)
			}
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if st := db.Stats(); st.Keys != n || st.StaleBytes != 0 {
		t.Fatalf("after the compaction: %d keys, %d stale bytes; want %d and 0", st.Keys, st.StaleBytes, n)
	}
	return after.TotalAlloc - before.TotalAlloc
}

// TestCompactionOffHeap bounds what a compaction allocates on the Go heap
// per key, beyond its buffers of fixed size: its lists of the records it
// copies, written whole and read once by the new index's build, are held
// outside the heap (scratchArray). A heap slice's pages were faulted in one
// at a time as the copy reached them, and left as garbage.
func TestCompactionOffHeap(t *testing.T) {
	const small, large = 100_000, 300_000
	a, b := compactionHeap(t, small), compactionHeap(t, large)
	perKey := (float64(b) - float64(a)) / (large - small)
	if perKey > 4 {
		t.Errorf("a compaction allocated %d bytes on the heap for %d keys and %d for %d: %.1f a key, want at most 4",
			a, small, b, large, perKey)
	}
}
