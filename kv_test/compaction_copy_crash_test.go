package kv_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestCrashInsideCompactionCopy crashes a compaction between the large
// writes in which it copies a log of several mebibytes — after the first,
// the second, ... — with none, all or some of the unsynced bytes kept, and
// checks that the store opens with every acknowledged write. The log mixes
// plain puts with the puts and deletes of batches, so that the copy meets
// each kind of record among the ones it steps over and the ones it copies.
func TestCrashInsideCompactionCopy(t *testing.T) {
	seed := baseSeed(t)
	for n := 1; ; n++ {
		finished := true
		for _, keep := range []crashKeep{keepNone, keepAll, keepPrefix, keepSubset} {
			rng := rand.New(rand.NewPCG(seed, uint64(n)))
			if crashCopyAt(t, n, keep, rng) {
				finished = false
			}
		}
		if finished || t.Failed() {
			if n < 3 {
				t.Fatalf("the copy took %d writes; want several, to crash between them", n-1)
			}
			t.Logf("crashed the copy after each of its %d writes", n-1)
			return
		}
		if n > 50 {
			t.Fatal("compaction never finished")
		}
	}
}

// crashCopyAt fills a store, compacts it, crashing at the n-th write to
// the new log, and checks the reboot. It returns false when the
// compaction finished with fewer writes.
func crashCopyAt(t *testing.T, n int, keep crashKeep, rng *rand.Rand) bool {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	db, err := kv.Open(memDir, memOptions(ffs, false))
	if err != nil {
		t.Fatal(err)
	}
	want := fillForCopy(t, db, rng)
	var crashed *memFS
	writes := 0
	ffs.SetInject(func(o fsOp, name string, flag int) error {
		if crashed != nil {
			return errCrashed
		}
		if o == opWrite && strings.HasSuffix(name, ".compact") {
			if writes++; writes == n {
				crashed = mem.Crash(keep, rng)
				return errCrashed
			}
		}
		return nil
	})
	cerr := db.Compact()
	db.Close()
	if crashed == nil {
		if cerr != nil {
			t.Fatalf("compaction without a crash: %v", cerr)
		}
		return false
	}
	if cerr == nil {
		t.Fatalf("crash at write %d: the compaction reported success", n)
	}
	got := reopenState(t, crashed, uint64(n))
	if got != nil {
		if d := diffState(got, want); d != "" {
			t.Errorf("crash at write %d of the copy (keep %d):\n%s", n, keep, d)
		}
	}
	return true
}

// fillForCopy writes about 3 MiB of live records and as much stale, with
// sync on, and returns what the store holds.
func fillForCopy(t *testing.T, db *kv.DB, rng *rand.Rand) state {
	t.Helper()
	const keys = 3000
	want := state{}
	value := func(i, round int) string {
		return fmt.Sprintf("v%d-%d-%s", i, round, strings.Repeat("x", 900+rng.IntN(200)))
	}
	for round := range 2 {
		b := db.NewBatch()
		for i := range keys {
			k, v := fmt.Sprintf("k%05d", i), value(i, round)
			switch {
			case i%10 == 3: // a batch's put
				b.Put([]byte(k), []byte(v))
			case i%50 == 7 && round == 1: // a batch's delete
				b.Delete([]byte(k))
				delete(want, k)
				continue
			default:
				if err := db.Put([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			want[k] = v
			if b.Len() == 20 {
				if err := db.Write(b); err != nil {
					t.Fatal(err)
				}
				b = db.NewBatch()
			}
		}
		if b.Len() > 0 {
			if err := db.Write(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	return want
}
