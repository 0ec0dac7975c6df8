package kv

import (
	"fmt"
	"testing"
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
				k := fmt.Sprintf("%016x", i)
				if err := db.Delete([]byte(k)); err != nil {
					return err
				}
				delete(model, k)
			}
			return nil
		}},
		{"many added", func(db *DB, model map[string]string) error {
			for i := n; i < 3*n; i++ {
				k, v := fmt.Sprintf("%016x", i), fmt.Sprintf("added-%d", i)
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
					k, v := fmt.Sprintf("%016x", i), fmt.Sprintf("v%d-%d", round, i)
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
				if st := db.Stats(); st.Keys != len(model) {
					t.Fatalf("%s: %d keys, want %d", where, st.Keys, len(model))
				}
				for i := range 3 * n {
					k := fmt.Sprintf("%016x", i)
					got, err := db.Get([]byte(k))
					want, ok := model[k]
					switch {
					case ok && (err != nil || string(got) != want):
						t.Fatalf("%s: get %s = %q, %v; want %q", where, k, got, err, want)
					case !ok && err == nil:
						t.Fatalf("%s: get %s = %q, want absent", where, k, got)
					}
				}
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
