package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// testArena returns an arena for keys records, whatever their number
// (newCompactArena leaves few to the heap), or skips where there are no
// anonymous maps.
func testArena(t *testing.T, keys int) *compactArena {
	t.Helper()
	slots := tableFor(keys)
	m := mapBytes(slots * int(unsafe.Sizeof(slot{})))
	if m == nil {
		t.Skip("no anonymous maps here")
	}
	a := &compactArena{mem: m, slots: slots, keys: keys}
	t.Cleanup(a.free)
	return a
}

// TestCompactArenaRegions checks the arena's arrays lie where its turns
// need them: the snapshot's offsets beside their sort's scratch, the new
// offsets beside the offsets, the sort by home slot over both, the table
// over the whole, cleared, and handed over once.
func TestCompactArenaRegions(t *testing.T) {
	const keys = 1000
	a := testArena(t, keys)
	span := func(p unsafe.Pointer, n int) [2]uintptr { return [2]uintptr{uintptr(p), uintptr(p) + uintptr(n)} }
	overlap := func(x, y [2]uintptr) bool { return x[0] < y[1] && y[0] < x[1] }
	offs, scratch, next := a.offsets(), a.sortScratch(), a.newOffsets()
	if cap(offs) != keys || len(scratch) != keys || cap(next) != keys {
		t.Fatalf("room: offsets %d, scratch %d, new offsets %d; want %d each", cap(offs), len(scratch), cap(next), keys)
	}
	o := span(unsafe.Pointer(unsafe.SliceData(offs)), 8*keys)
	s := span(unsafe.Pointer(unsafe.SliceData(scratch)), 8*keys)
	n := span(unsafe.Pointer(unsafe.SliceData(next)), 8*keys)
	if overlap(o, s) || overlap(o, n) {
		t.Fatal("the offsets share memory with their sort's scratch or the new offsets")
	}
	if a.homeScratch(keys+1) != nil {
		t.Fatal("a sort of more entries than the arena has room for got its scratch")
	}
	h := a.homeScratch(keys)
	if !a.holds(h) || !a.holds(h[keys-1:]) {
		t.Fatal("the sort's scratch is not in the arena")
	}
	for i := range scratch {
		scratch[i] = -1
	}
	if slots, m := a.table(a.slots / 2); slots != nil || m != nil || a.mem == nil {
		t.Fatal("a table of another size was handed over")
	}
	slots, m := a.table(a.slots)
	if len(slots) != a.slots || m == nil || a.mem != nil {
		t.Fatalf("the table: %d slots, map %v, arena kept %v", len(slots), m != nil, a.mem != nil)
	}
	for i, sl := range slots {
		if sl != (slot{}) {
			t.Fatalf("slot %d of the handed table is %+v, not empty", i, sl)
		}
	}
	if a.offsets() != nil || a.homeScratch(1) != nil || a.holds(slots) {
		t.Fatal("the arena still hands out arrays after its table was handed over")
	}
	a.free() // nothing to free: the table is the caller's
	if err := unmapSlots(m); err != nil {
		t.Fatal(err)
	}
}

// TestSortedTableInArena builds indexes with sortedTable from an arena, in
// a table of its size and of another; with one pass of the sort by home
// slot (a small table), whose result lands in the arena and must be moved
// out of it before it becomes the table, and with two. Every key must be
// found, and the table must be the arena's where it has the size.
func TestSortedTableInArena(t *testing.T) {
	for _, tc := range []struct {
		name        string
		keys, arena int
	}{
		{"one pass, the arena's size", 700, 700},
		{"two passes, the arena's size", 70_000, 70_000},
		{"two passes, a smaller table", 20_000, 70_000},
		{"more keys than the arena has room for", 90_000, 70_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testArena(t, tc.arena)
			arenaMem := unsafe.SliceData(a.mem)
			var src memKeys
			hdr := walfmt.NewFileHeader()
			h := newIndex(0, hdr)
			es := make([]slot, 0, tc.keys)
			model := map[string]int64{}
			for i := range tc.keys {
				k := fmt.Sprintf("arena-%d", i)
				off := src.add(k)
				es = append(es, slot{off: uint64(off), hash: h.hash([]byte(k)), size: 1})
				model[k] = off
			}
			x := newIndexOf(es, hdr, a)
			defer func() { _ = x.close() }()
			checkIndex(t, x, &src, model, tc.name)
			inArena := unsafe.Pointer(unsafe.SliceData(x.slots)) == unsafe.Pointer(arenaMem)
			if want := tableFor(tc.keys) == a.slots || a.mem == nil; inArena != want {
				t.Fatalf("the table is the arena: %v, want %v", inArena, want)
			}
		})
	}
}

// TestCompactionArenaTableSizes compacts a store large enough for the
// arena while, between the copy and the index build, writers delete most
// keys (the new table is then smaller than the arena's), add many (larger),
// or nothing (the arena is the table). Every key must read back as the
// model has it, after the compaction and after a reopen.
func TestCompactionArenaTableSizes(t *testing.T) {
	const n = 70_000
	for _, tc := range []struct {
		name string
		mid  func(db *DB, model map[string]string) error
	}{
		{"quiet", func(*DB, map[string]string) error { return nil }},
		{"most deleted", func(db *DB, model map[string]string) error {
			for i := range n - n/8 {
				k := arenaKey(i)
				if err := db.Delete([]byte(k)); err != nil {
					return err
				}
				delete(model, k)
			}
			return nil
		}},
		{"many added", func(db *DB, model map[string]string) error {
			for i := n; i < 3*n; i++ {
				k, v := arenaKey(i), fmt.Sprintf("added-%d", i)
				if err := db.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
				model[k] = v
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			model := map[string]string{}
			for round := range 2 {
				for i := range n {
					k, v := arenaKey(i), fmt.Sprintf("v%d-%d", round, i)
					if err := db.Put([]byte(k), []byte(v)); err != nil {
						t.Fatal(err)
					}
					model[k] = v
				}
			}
			var midErr error
			db.testHookCopied = func() { midErr = tc.mid(db, model) }
			if err := db.Compact(); err != nil || midErr != nil {
				t.Fatal(err, midErr)
			}
			check := func(db *DB, where string) {
				t.Helper()
				checkDB(t, db, model, where)
				checkGone(t, db, model, 3*n, where)
			}
			check(db, "after the compaction")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			check(db, "after a reopen")
		})
	}
}

// arenaKey is the i-th key of the arena tests' stores.
func arenaKey(i int) string { return fmt.Sprintf("%016x", i) }

// arenaFill writes n keys twice (half the log stale).
func arenaFill(t *testing.T, db *DB, n int, ttlEvery int) map[string]string {
	t.Helper()
	model := map[string]string{}
	for round := range 2 {
		for i := range n {
			k, v := arenaKey(i), fmt.Sprintf("v%d-%d", round, i)
			var err error
			if ttlEvery > 0 && i%ttlEvery == 0 {
				err = db.PutTTL([]byte(k), []byte(v), time.Hour)
			} else {
				err = db.Put([]byte(k), []byte(v))
			}
			if err != nil {
				t.Fatal(err)
			}
			model[k] = v
		}
	}
	return model
}

// arenaWriter writes at random until stop is closed: new keys, overwrites,
// deletes, and (if ttl) expiring puts. It owns model until it returns.
func arenaWriter(db *DB, model map[string]string, n int, ttl bool, seed uint64, stop <-chan struct{}, done chan<- error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	next := 10 * n
	for i := 0; ; i++ {
		select {
		case <-stop:
			done <- nil
			return
		default:
		}
		var err error
		switch r := rng.IntN(10); {
		case r < 4:
			k, v := arenaKey(next), fmt.Sprintf("new-%d", next)
			next++
			err = db.Put([]byte(k), []byte(v))
			model[k] = v
		case r < 7:
			k, v := arenaKey(rng.IntN(n)), fmt.Sprintf("over-%d", i)
			if ttl && rng.IntN(3) == 0 {
				err = db.PutTTL([]byte(k), []byte(v), time.Hour)
			} else {
				err = db.Put([]byte(k), []byte(v))
			}
			model[k] = v
		default:
			k := arenaKey(rng.IntN(n))
			err = db.Delete([]byte(k))
			delete(model, k)
		}
		if err != nil {
			if errors.Is(err, ErrClosed) {
				done <- nil
				return
			}
			done <- err
			return
		}
	}
}

// checkGone checks that each of the first n keys arenaKey names that
// model lacks reads as absent.
func checkGone(t *testing.T, db *DB, model map[string]string, n int, where string) {
	t.Helper()
	for i := range n {
		k := arenaKey(i)
		if _, ok := model[k]; ok {
			continue
		}
		if got, err := db.Get([]byte(k)); err == nil {
			t.Fatalf("%s: get %s = %q, want absent", where, k, got)
		}
	}
}

// arenaCheck is checkDB and checkGone.
func arenaCheck(t *testing.T, db *DB, model map[string]string, n int, where string) {
	t.Helper()
	checkDB(t, db, model, where)
	checkGone(t, db, model, n, where)
}

func arenaReopen(t *testing.T, dir string, opts *Options, model map[string]string, n int) {
	t.Helper()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	arenaCheck(t, db, model, n, "after a reopen")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, hintName)); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	arenaCheck(t, db, model, n, "after a replay")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCompactionBesideWriterAtArenaSize compacts stores large enough for
// the arena, twice, with a writer of new keys, overwrites, deletes and
// expiring puts running through both, on each of the compaction's paths:
// the collecting catch-up, records with expiries (newIndexOf), the key
// order of a scanned store, expiring puts in the tail, an index in the
// middle of a growth at the start (an incomplete snapshot); and with the
// writer's records piling up for 50 ms between the copy and the index
// build. The store must read as the model after each, after a reopen from
// the hint and after a replay.
func TestCompactionBesideWriterAtArenaSize(t *testing.T) {
	const n = 70_000
	for _, tc := range []struct {
		name      string
		ttlEvery  int
		writerTTL bool
		scan      bool
		grow      bool
		burst     bool // writes in testHookCopied too
	}{
		{name: "collect"},
		{name: "collect-burst", burst: true},
		{name: "meta", ttlEvery: 1000},
		{name: "meta-burst", ttlEvery: 1000, burst: true},
		{name: "ttl-in-tail", writerTTL: true},
		{name: "ttl-in-tail-burst", writerTTL: true, burst: true},
		{name: "scanned", scan: true},
		{name: "scanned-burst", scan: true, burst: true},
		{name: "growing", grow: true},
		{name: "growing-burst", grow: true, burst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if raceEnabled && tc.burst {
				t.Skip("the race detector's pace: the cases without the pause only")
			}
			dir := t.TempDir()
			opts := &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			model := arenaFill(t, db, n, tc.ttlEvery)
			if tc.grow {
				// Add keys until the index is growing.
				for i := n; ; i++ {
					db.mu.RLock()
					growing := db.mu.index.old != nil
					db.mu.RUnlock()
					if growing {
						break
					}
					k := arenaKey(5*n + i)
					if err := db.Put([]byte(k), []byte("g")); err != nil {
						t.Fatal(err)
					}
					model[k] = "g"
				}
			}
			if tc.scan {
				if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
					t.Fatal(err)
				}
			}
			stop, done := make(chan struct{}), make(chan error, 1)
			go arenaWriter(db, model, n, tc.writerTTL, uint64(len(tc.name)), stop, done)
			if tc.burst {
				db.testHookCopied = func() { time.Sleep(50 * time.Millisecond) }
			}
			for range 2 {
				if err := db.Compact(); err != nil {
					t.Fatal(err)
				}
			}
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			arenaCheck(t, db, model, n, "after the compactions")
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			arenaCheck(t, db, model, n, "after a quiet compaction")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			arenaReopen(t, dir, opts, model, n)
		})
	}
}
