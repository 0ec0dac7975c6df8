package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// scanKeys returns every key of db, in the order a scan gives them.
func scanKeys(t *testing.T, db *DB) []string {
	t.Helper()
	var keys []string
	if err := db.Scan(nil, nil, func(k, v []byte) bool {
		keys = append(keys, string(k))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// sortedKeys returns the keys of the model, sorted.
func sortedKeys(model map[string]bool) []string {
	keys := make([]string, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestLiveOrderSavedForFollower checks that a writer saves wal.order while
// it runs — after the scan that sorted its keys, and after a compaction,
// which wrote its new log in key order — so that a follower opened on the live
// store takes its key order from the file and sorts none of its keys,
// reading the records written since from the log's tail.
func TestLiveOrderSavedForFollower(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	model := map[string]bool{}
	put := func(i int) {
		k := fmt.Sprintf("user:%08d", i)
		if err := db.Put([]byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
		model[k] = true
	}
	const n = 20000
	for i := range n {
		put(i * 7919 % n)
	}
	if got := scanKeys(t, db); !slices.Equal(got, sortedKeys(model)) {
		t.Fatalf("writer's scan: %d keys, want %d", len(got), len(model))
	}
	if saved := db.waitOrderSaves(); saved != 1 {
		t.Fatalf("the sorted run was saved %d times, want once", saved)
	}
	for i := 0; i < n; i += 3 { // stale records for the compaction
		k := fmt.Sprintf("user:%08d", i)
		if err := db.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
		delete(model, k)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if saved := db.waitOrderSaves(); saved != 2 {
		t.Fatalf("%d runs saved after the compaction, want 2", saved)
	}
	for i := n; i < n+500; i++ { // the tail the follower reads itself
		put(i)
	}
	if err := db.Delete([]byte("user:00000001")); err != nil {
		t.Fatal(err)
	}
	delete(model, "user:00000001")

	f, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := scanKeys(t, f); !slices.Equal(got, sortedKeys(model)) {
		t.Fatalf("follower's scan: %d keys, want %d", len(got), len(model))
	}
	if sorts := f.Stats().KeySorts; sorts != 0 {
		t.Fatalf("the follower sorted its keys %d times; want the writer's saved order loaded", sorts)
	}
	if sorts := db.Stats().KeySorts; sorts != 1 {
		t.Fatalf("the writer sorted its keys %d times, want once (its first scan: the compaction copied in key order)", sorts)
	}
}

// TestOrderModelUnderWrites checks scans against a model of the store
// while writes, deletes and compactions run, with the key order kept,
// extended, merged and saved in the background: a scan of the writer
// running beside the writes returns keys in strictly ascending order, and
// between rounds the writer's scan, and a follower's opened then, match
// the model exactly.
func TestOrderModelUnderWrites(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	model := map[string]bool{}
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	for round := range rounds {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var scanErr error
		wg.Go(func() {
			for scans := 0; scans < 1000; scans++ {
				select {
				case <-stop:
					return
				default:
				}
				var last []byte
				err := db.Scan(nil, nil, func(k, v []byte) bool {
					if last != nil && bytes.Compare(last, k) >= 0 {
						scanErr = fmt.Errorf("scan gave %q after %q", k, last)
						return false
					}
					last = append(last[:0], k...)
					return true
				})
				if err != nil && scanErr == nil {
					scanErr = err
				}
				if scanErr != nil {
					return
				}
			}
		})
		for op := range 6000 {
			k := fmt.Sprintf("%s:%06d", []string{"a", "user", "user:x"}[rng.IntN(3)], rng.IntN(8000))
			if rng.IntN(4) == 0 {
				if err := db.Delete([]byte(k)); err != nil {
					t.Fatal(err)
				}
				delete(model, k)
			} else {
				if err := db.Put([]byte(k), []byte("v")); err != nil {
					t.Fatal(err)
				}
				model[k] = true
			}
			if op%2500 == 2499 {
				if err := db.Compact(); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(stop)
		wg.Wait()
		if scanErr != nil {
			t.Fatalf("round %d: %v", round, scanErr)
		}
		want := sortedKeys(model)
		if got := scanKeys(t, db); !slices.Equal(got, want) {
			t.Fatalf("round %d: writer's scan has %d keys, want %d", round, len(got), len(want))
		}
		db.waitOrderSaves()
		f, err := Open(dir, &Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		got := scanKeys(t, f)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: follower's scan has %d keys, want %d", round, len(got), len(want))
		}
	}
}
