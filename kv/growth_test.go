package kv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crabkv/crabkv/walfmt"
)

// TestIndexGrowthAgainstMap runs puts and removes against a Go map and,
// whenever the index is in the middle of a growth, checks every key of the
// model and an absent one: lookups must find each key in whichever table
// holds it, and removes and overwrites of keys still in the old table must
// not resurrect or duplicate them.
func TestIndexGrowthAgainstMap(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 7))
	var src memKeys
	x := newIndex(0, walfmt.NewFileHeader())
	model := map[string]int64{}
	checks := 0
	for i := range 120_000 {
		k := fmt.Sprintf("k%d", rng.IntN(40_000))
		if rng.IntN(4) == 0 {
			_, had, _ := x.remove([]byte(k), &src)
			if _, want := model[k]; had != want {
				t.Fatalf("seed %d op %d: remove %s reported %v, model %v", seed, i, k, had, want)
			}
			delete(model, k)
		} else {
			off := src.add(k)
			old, had, _ := x.put([]byte(k), off, 1, &src)
			if prev, ok := model[k]; ok != had || (had && int64(old.off) != prev) {
				t.Fatalf("seed %d op %d: put %s replaced %+v/%v, model %d/%v", seed, i, k, old, had, prev, ok)
			}
			model[k] = off
		}
		if x.old != nil && i%97 == 0 {
			checks++
			checkIndex(t, x, &src, model, fmt.Sprintf("seed %d op %d (migrated %d of %d)", seed, i, x.next, len(x.old)))
		}
	}
	if checks < 5 {
		t.Fatalf("only %d checks fell inside a growth", checks)
	}
	x.finishGrowth()
	checkIndex(t, x, &src, model, fmt.Sprintf("seed %d at the end", seed))
	if err := x.close(); err != nil {
		t.Fatal(err)
	}
}

// checkIndex checks that x holds exactly model.
func checkIndex(t *testing.T, x *index, src keySource, model map[string]int64, where string) {
	t.Helper()
	if x.count != len(model) {
		t.Fatalf("%s: count %d, model %d", where, x.count, len(model))
	}
	for k, off := range model {
		s, ok, _ := x.get([]byte(k), src)
		if !ok || int64(s.off) != off {
			t.Fatalf("%s: get %s = %+v %v, want %d", where, k, s, ok, off)
		}
	}
	n := 0
	x.each(func(slot) bool { n++; return true })
	if n != len(model) {
		t.Fatalf("%s: each saw %d slots, want %d", where, n, len(model))
	}
	if _, ok, _ := x.get([]byte("absent"), src); ok {
		t.Fatalf("%s: found an absent key", where)
	}
}

// TestGrowthConcurrentReaders fills a store through many growths of its
// index with puts, deletes and batches while readers look keys up: keys
// written before the readers start must always be found with their value,
// and any value a reader finds must be one written for that key. At the
// end the store must hold exactly the model, and again after a reopen from
// the hint written at Close. Run with -race, it also checks that growth
// touches the index only under the lock.
func TestGrowthConcurrentReaders(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	model := map[string]string{}
	stable := 3000
	for i := range stable {
		k, v := fmt.Sprintf("stable-%d", i), fmt.Sprintf("stable-%d=v", i)
		if err := db.Put([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		model[k] = v
	}
	stop := make(chan struct{})
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- readWhileGrowing(db, stop, stable, r)
		}()
	}
	writeWhileGrowing(t, db, model)
	close(stop)
	wg.Wait()
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	checkDB(t, db, model, "after the writes")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.hintCovered == 0 {
		t.Fatal("the hint written from a grown index was not used")
	}
	checkDB(t, db, model, "after a reopen")
}

// writeWhileGrowing writes 60,000 operations to db and model.
func writeWhileGrowing(t *testing.T, db *DB, model map[string]string) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 60_000 {
		k := fmt.Sprintf("k%d", rng.IntN(50_000))
		switch rng.IntN(8) {
		case 0:
			if err := db.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
		case 1:
			b := db.NewBatch()
			for j := range 5 {
				bk := fmt.Sprintf("b%d-%d", rng.IntN(10_000), j)
				bv := fmt.Sprintf("%s=%d", bk, i)
				b.Put([]byte(bk), []byte(bv))
				model[bk] = bv
			}
			b.Delete([]byte(k))
			delete(model, k)
			if err := db.Write(b); err != nil {
				t.Fatal(err)
			}
		default:
			v := fmt.Sprintf("%s=%d", k, i)
			if err := db.Put([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			model[k] = v
		}
	}
}

// readWhileGrowing looks keys up until stop is closed.
func readWhileGrowing(db *DB, stop chan struct{}, stable, seed int) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 9))
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		k := fmt.Sprintf("stable-%d", rng.IntN(stable))
		v, err := db.Get([]byte(k))
		if err != nil || string(v) != k+"=v" {
			return fmt.Errorf("get %s = %q, %v during growth", k, v, err)
		}
		k = fmt.Sprintf("k%d", rng.IntN(50_000))
		v, err = db.Get([]byte(k))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil || !bytes.HasPrefix(v, []byte(k+"=")) {
			return fmt.Errorf("get %s = %q, %v during growth", k, v, err)
		}
	}
}

// checkDB checks that db holds exactly model; where says when, in a
// failure's message.
func checkDB(t *testing.T, db *DB, model map[string]string, where string) {
	t.Helper()
	if n := db.Stats().Keys; n != len(model) {
		t.Fatalf("%s: %d keys, model has %d", where, n, len(model))
	}
	for k, v := range model {
		got, err := db.Get([]byte(k))
		if err != nil || string(got) != v {
			t.Fatalf("%s: get %s = %q, %v; want %q", where, k, got, err, v)
		}
	}
	if keys := db.Keys(nil); len(keys) != len(model) {
		t.Fatalf("%s: Keys returned %d, model has %d", where, len(keys), len(model))
	}
}

// TestNewIndexOfFindsEveryKey builds an index from slots in bulk, as a
// compaction does, and checks every key is found and an absent one is not.
func TestNewIndexOfFindsEveryKey(t *testing.T) {
	var src memKeys
	hdr := walfmt.NewFileHeader()
	h := newIndex(0, hdr)
	var es []slot
	model := map[string]int64{}
	for i := range 100_000 {
		k := fmt.Sprintf("bulk-%d", i)
		off := src.add(k)
		es = append(es, slot{off: uint64(off), hash: h.hash([]byte(k)), size: 1})
		model[k] = off
	}
	x := newIndexOf(es, hdr, nil)
	checkIndex(t, x, &src, model, "bulk")
}

// TestCollectInPieces reads an index's offsets in pieces, in the middle
// of a growth, and checks it sees each key once, those below end only;
// and that moves counts the growth's steps.
func TestCollectInPieces(t *testing.T) {
	var src memKeys
	x := newIndex(0, walfmt.NewFileHeader())
	for i := 0; x.old == nil || x.next == 0; i++ {
		k := fmt.Sprintf("c%d", i)
		if _, _, err := x.put([]byte(k), src.add(k), 1, &src); err != nil {
			t.Fatal(err)
		}
	}
	end := int64(len(src) / 2)
	var want []int64
	x.each(func(s slot) bool {
		if int64(s.off) < end {
			want = append(want, int64(s.off))
		}
		return true
	})
	var got []int64
	var err error
	for pos := 0; pos >= 0; {
		if got, pos, err = x.collect(got, pos, 100, end); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("collect saw %d offsets, each %d", len(got), len(want))
	}
	before := x.moves
	x.migrate()
	if x.moves == before {
		t.Fatal("a migration step moved keys without counting")
	}
}

// TestGrowthEndsOnceWritesStop stops writing in the middle of a growth of
// the index, in the writer and in a read-only store that follows it. The
// migration moves slots with each write; without writes the old table
// would stay for good, its memory held and every lookup that misses
// probing both tables. The growth must end with no further write, every
// key still found.
func TestGrowthEndsOnceWritesStop(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The follower applies the writes as they come, its index growing
	// as the writer's does.
	ro, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	// Write until a growth of an old table of 64Ki slots has begun, and
	// a hundred writes more: a tenth of the migration done.
	n, more := 0, -1
	for ; more != 0; n++ {
		if err := db.Put(fmt.Appendf(nil, "g%d", n), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if more > 0 {
			more--
		} else if g, _, old := growthOf(db); g && old >= 1<<16 {
			more = 100
		}
	}
	// (On a slow machine, as under the race detector, a pause of 2 ms
	// between two of those writes lets the helper finish the growth
	// already: what follows still holds.)
	waitGrowthEnds(t, "writer", db, n, n)
	waitGrowthEnds(t, "follower", ro, n, n)
}

// TestGrowthLeftByOpenEnds opens a store whose replay leaves its index in
// the middle of a growth (a hint, then a tail applied record by record, as
// it is while the expiry table is not empty), a writer and a read-only one:
// with no write to come, the growth must still end.
func TestGrowthLeftByOpenEnds(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	const hinted = 49152 - 51 // 65,536 slots, just under three quarters full
	for i := range hinted {
		if err := db.Put(fmt.Appendf(nil, "g%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutTTL([]byte("g-ttl"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // a hint of 65,536 slots
		t.Fatal(err)
	}
	db, err = Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	const n = hinted + 150 // a tail past the hint that grows the table
	for i := hinted; i < n; i++ {
		if err := db.Put(fmt.Appendf(nil, "g%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{true, false} {
		// The writer's Close would write a hint: a copy of its files
		// stands for a writer that died.
		cp := crashCopy(t, dir)
		s, err := Open(cp, &Options{ReadOnly: ro, NoSync: true, Compaction: manualPolicy.Compaction})
		if err != nil {
			t.Fatal(err)
		}
		waitGrowthEnds(t, fmt.Sprintf("read-only %v", ro), s, n+1, n) // and g-ttl
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// growthOf says whether db's index is growing, how many slots of the old
// table have been migrated, and how many it has.
func growthOf(db *DB) (bool, int, int) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	x := db.mu.index
	return x.old != nil, x.next, len(x.old)
}

// waitGrowthEnds waits up to 20 s for db to hold n keys and its index to
// be growing no more, then checks that the keys g0 to g(named-1) are
// found, and an absent one is not.
func waitGrowthEnds(t *testing.T, name string, db *DB, n, named int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if g, _, _ := growthOf(db); !g && db.Stats().Keys == n {
			break
		}
		if time.Now().After(deadline) {
			g, next, old := growthOf(db)
			t.Fatalf("%s: growing %v (%d of %d slots moved), %d keys of %d, 20 s after the last write",
				name, g, next, old, db.Stats().Keys, n)
		}
		time.Sleep(time.Millisecond)
	}
	for i := range named {
		if v, err := db.Get(fmt.Appendf(nil, "g%d", i)); err != nil || string(v) != "v" {
			t.Fatalf("%s: get g%d = %q, %v", name, i, v, err)
		}
	}
	if _, err := db.Get([]byte("absent")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("%s: get of an absent key: %v", name, err)
	}
}
