package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// logKeys returns the keys of the records of the log in dir, in log
// order, the operations of batches included.
func logKeys(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "wal.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	r := walfmt.NewReader(f, fi.Size(), "")
	for {
		rec, err := r.Next()
		if err != nil {
			return keys
		}
		if rec.Kind == walfmt.KindBatch {
			_ = walfmt.ForEachOp(rec, func(op walfmt.Record) error { keys = append(keys, string(op.Key)); return nil })
			continue
		}
		if rec.Kind != walfmt.KindDelete {
			keys = append(keys, string(rec.Key))
		}
	}
}

// TestCompactionInKeyOrder checks that a store that has been scanned is
// compacted into a log sorted by key — puts, batches, expiring records,
// values of every size, and writes after the scan among them — without a
// sort of the new log, that it holds what the store held, and that a store
// never scanned keeps its log order.
func TestCompactionInKeyOrder(t *testing.T) {
	for _, scanned := range []bool{true, false} {
		t.Run(fmt.Sprintf("scanned=%v", scanned), func(t *testing.T) {
			dir := t.TempDir()
			clock := time.Unix(1e9, 0)
			db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}, Clock: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			model := map[string][]byte{}
			write := func(n int) {
				for range n {
					k := fmt.Sprintf("k%05d", rng.IntN(4000))
					v := bytes.Repeat([]byte{byte(rng.IntN(256))}, rng.IntN(300))
					if rng.IntN(50) == 0 {
						v = bytes.Repeat([]byte("x"), 200<<10) // a large record
					}
					var err error
					switch rng.IntN(20) {
					case 0:
						err = db.Delete([]byte(k))
						delete(model, k)
					case 1:
						b := db.NewBatch()
						k2 := fmt.Sprintf("k%05d", rng.IntN(4000))
						b.Put([]byte(k), v)
						b.Delete([]byte(k2))
						delete(model, k2)
						model[k] = v
						err = db.Write(b)
					case 2:
						err = db.PutTTL([]byte(k), v, time.Hour)
						model[k] = v
					case 3:
						err = db.PutTTL([]byte(k), v, time.Second) // expires before the compaction
						delete(model, k)
					default:
						err = db.Put([]byte(k), v)
						model[k] = v
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			write(8000)
			if scanned {
				scanKeys(t, db) // gives the store its key order
			}
			write(3000) // after the scan: in its overlay, or past its end
			clock = clock.Add(time.Minute)
			sorts := db.ord.sorts.Load()
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			keys := logKeys(t, dir)
			if len(keys) != len(model) {
				t.Fatalf("the new log holds %d records, the store %d keys", len(keys), len(model))
			}
			if sorted := slices.IsSorted(keys); sorted != scanned {
				t.Fatalf("new log sorted by key: %v, want %v", sorted, scanned)
			}
			if got := db.ord.sorts.Load(); got != sorts {
				t.Fatalf("the compaction sorted its new log (%d sorts, %d before)", got, sorts)
			}
			check := func(db *DB) {
				t.Helper()
				for k, v := range model {
					got, err := db.Get([]byte(k))
					if err != nil || !bytes.Equal(got, v) {
						t.Fatalf("%s: %d bytes, %v; want %d bytes", k, len(got), err, len(v))
					}
				}
				var scannedKeys []string
				if err := db.Scan(nil, nil, func(k, v []byte) bool {
					if !bytes.Equal(v, model[string(k)]) {
						t.Fatalf("scan: %s has %d bytes, want %d", k, len(v), len(model[string(k)]))
					}
					scannedKeys = append(scannedKeys, string(k))
					return true
				}); err != nil {
					t.Fatal(err)
				}
				if len(scannedKeys) != len(model) || !slices.IsSorted(scannedKeys) {
					t.Fatalf("scan read %d keys (sorted: %v), want %d", len(scannedKeys), slices.IsSorted(scannedKeys), len(model))
				}
			}
			check(db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(dir, &Options{ReadOnly: true, Clock: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			check(db)
		})
	}
}

// TestCompactionOrderChecked checks that a key order that leaves out a
// live record is not trusted by a compaction: it copies in log order, and
// loses nothing.
func TestCompactionOrderChecked(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 3000 {
		if err := db.Put(fmt.Appendf(nil, "k%05d", (i*7919)%3000), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	scanKeys(t, db) // gives the store its key order
	// Damage the order: drop one record from its run.
	s := *db.ord.cur.Load()
	s.run = append(slices.Clone(s.run[:100]), s.run[101:]...)
	db.ord.cur.Store(&s)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	keys := logKeys(t, dir)
	if len(keys) != 3000 || slices.IsSorted(keys) {
		t.Fatalf("new log: %d records, sorted %v; want 3000 in log order", len(keys), slices.IsSorted(keys))
	}
	for i := range 3000 {
		if _, err := db.Get(fmt.Appendf(nil, "k%05d", i)); err != nil {
			t.Fatalf("k%05d: %v", i, err)
		}
	}
}

// TestCompactionInKeyOrderOfEmptyStore compacts scanned stores that hold
// no key, and one key, in key order.
func TestCompactionInKeyOrderOfEmptyStore(t *testing.T) {
	for _, keys := range []int{0, 1} {
		dir := t.TempDir()
		db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put([]byte("gone"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := db.Delete([]byte("gone")); err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if err := db.Put(fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
		scanKeys(t, db) // gives the store its key order
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		if got := logKeys(t, dir); len(got) != keys {
			t.Fatalf("%d keys: the new log holds %d records", keys, len(got))
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactionOrderNewerThanItsEnd checks that a compaction whose end is
// passed by a write, and by a scan that extends the store's order past
// it, before it reads that order, still copies in key order — up to the
// order's end — and keeps the order, so that no scan sorts again.
func TestCompactionOrderNewerThanItsEnd(t *testing.T) {
	dir := t.TempDir()
	fs := newPauseFS()
	db, err := Open(dir, &Options{NoSync: true, FS: fs, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 1000 {
		if err := db.Put(fmt.Appendf(nil, "k%04d", (i*7)%1000), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	scanKeys(t, db) // gives the store its key order
	sorts := db.ord.sorts.Load()
	fs.atOpen.Store(true)
	done := make(chan error)
	go func() { done <- db.Compact() }()
	<-fs.paused // the compaction's end is fixed
	if err := db.Put([]byte("k0500"), []byte("w")); err != nil {
		t.Fatal(err)
	}
	scanKeys(t, db) // takes the order past the compaction's end
	close(fs.resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	keys := logKeys(t, dir)
	if len(keys) != 1000 || !slices.IsSorted(keys) {
		t.Fatalf("new log: %d records, sorted %v; want 1000 in key order", len(keys), slices.IsSorted(keys))
	}
	if v, err := db.Get([]byte("k0500")); err != nil || string(v) != "w" {
		t.Fatalf("k0500 = %q, %v; want w", v, err)
	}
	scanKeys(t, db) // would sort again if the order was dropped
	if got := db.ord.sorts.Load(); got != sorts {
		t.Fatalf("%d sorts after the compaction, %d before: its order was dropped", got, sorts)
	}
}

// TestCompactionInKeyOrderLeavesOutWhatDiedBeforeItsSnapshot checks that
// a record that dies after a compaction's end, before it takes its
// snapshot of the live records (and before it watches deaths), is not
// copied beside its successor.
func TestCompactionInKeyOrderLeavesOutWhatDiedBeforeItsSnapshot(t *testing.T) {
	dir := t.TempDir()
	fs := newPauseFS()
	db, err := Open(dir, &Options{NoSync: true, FS: fs, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"a", "b", "c", "a", "a"} {
		if err := db.Put([]byte(k), bytes.Repeat([]byte("v"), 20)); err != nil {
			t.Fatal(err)
		}
	}
	scanKeys(t, db) // gives the store its key order
	fs.atOpen.Store(true)
	done := make(chan error)
	go func() { done <- db.Compact() }()
	<-fs.paused
	if err := db.Put([]byte("b"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	close(fs.resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if keys, stale := logKeys(t, dir), db.Stats().StaleBytes; len(keys) != 3 || stale != 0 {
		t.Fatalf("new log: records %q, %d stale bytes; want a, c and the new b, none stale", keys, stale)
	}
}

// TestCompactionOrderFaults checks what a compaction does with a key order
// that is wrong (put in place by hand): one that holds a dead record of a
// live key beside its live one is copied without it; one out of order in
// a place is copied as it is, found unsorted, and sorted for the new log,
// so that scans come out right.
func TestCompactionOrderFaults(t *testing.T) {
	setup := func(t *testing.T) (*DB, string) {
		dir := t.TempDir()
		db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		for i := range 300 {
			if err := db.Put(fmt.Appendf(nil, "k%04d", (i*7)%300), []byte("v1")); err != nil {
				t.Fatal(err)
			}
		}
		return db, dir
	}
	check := func(t *testing.T, db *DB, dir string) {
		t.Helper()
		if keys := logKeys(t, dir); len(keys) != 300 {
			t.Fatalf("new log: %d records, want 300", len(keys))
		}
		var keys []string
		if err := db.Scan(nil, nil, func(k, v []byte) bool {
			want := "v1"
			if string(k) == "k0100" {
				want = "v2"
			}
			if string(v) != want {
				t.Fatalf("%s = %q, want %q", k, v, want)
			}
			keys = append(keys, string(k))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 300 || !slices.IsSorted(keys) {
			t.Fatalf("scan: %d keys, sorted %v", len(keys), slices.IsSorted(keys))
		}
	}
	t.Run("a dead twin", func(t *testing.T) {
		db, dir := setup(t)
		db.mu.RLock()
		sl, _, err := db.lookupMuLocked([]byte("k0100"))
		db.mu.RUnlock()
		if err != nil {
			t.Fatal(err)
		}
		old := sl.off
		if err := db.Put([]byte("k0100"), []byte("v2")); err != nil {
			t.Fatal(err)
		}
		scanKeys(t, db) // gives the store its key order
		s := *db.ord.cur.Load()
		s.run = slices.Insert(slices.Clone(s.run), 101, old)
		db.ord.cur.Store(&s)
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		check(t, db, dir)
	})
	t.Run("out of order", func(t *testing.T) {
		db, dir := setup(t)
		if err := db.Put([]byte("k0100"), []byte("v2")); err != nil {
			t.Fatal(err)
		}
		scanKeys(t, db) // gives the store its key order
		s := *db.ord.cur.Load()
		s.run = slices.Clone(s.run)
		s.run[10], s.run[200] = s.run[200], s.run[10]
		db.ord.cur.Store(&s)
		for range 3 {
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			check(t, db, dir)
		}
		if keys := logKeys(t, dir); !slices.IsSorted(keys) {
			t.Fatal("the last compaction did not write its log in key order")
		}
	})
}

// TestCompactionBuildsOrderAskedForDuringIt: a store's first scan, made
// while a compaction copies, gives the store a key order; the compaction
// then builds the new log's, so that the next scan does not sort.
func TestCompactionBuildsOrderAskedForDuringIt(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for round := range 2 {
		for i := range 2000 {
			if err := db.Put(fmt.Appendf(nil, "k%05d", (i*7)%2000), fmt.Appendf(nil, "v%d", round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.testHookCopied = func() { scanKeys(t, db) }
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.testHookCopied = nil
	cur := db.ord.cur.Load()
	db.mu.RLock()
	ours := cur != nil && cur.idx == db.mu.index
	db.mu.RUnlock()
	if !ours {
		t.Fatal("after the compaction the store's key order is not the new log's")
	}
	sorts := db.ord.sorts.Load()
	if keys := scanKeys(t, db); len(keys) != 2000 || !slices.IsSorted(keys) {
		t.Fatalf("scan: %d keys, sorted %v; want 2000 in order", len(keys), slices.IsSorted(keys))
	}
	if got := db.ord.sorts.Load(); got != sorts {
		t.Fatalf("the scan after the compaction sorted (%d sorts, %d before)", got, sorts)
	}
}
