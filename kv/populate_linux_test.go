package kv

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"testing"
	"unsafe"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// TestNoSyncWriterPopulatesAhead fills a NoSync store and finds the pages
// of the reserved space just past the log's tail already in memory: the
// writer faulted them in ahead of its copies, so that its Puts do not.
// Every value still reads back, from the store and after a reopen.
func TestNoSyncWriterPopulatesAhead(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40_000 // about 5 MiB of records
	val := make([]byte, 100)
	for i := range n {
		if err := db.Put(fmt.Appendf(nil, "key%06d", i), fmt.Appendf(val[:0], "value %d %090d", i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	db.wmu.Lock()
	m, tail, alloc := db.mu.view.m, db.tail, db.alloc
	db.wmu.Unlock()
	if m == nil || !m.writable {
		t.Skip("the log is not mapped for writing here")
	}
	m.bg.Wait()
	pg := int64(os.Getpagesize())
	from := (tail + pg - 1) &^ (pg - 1)
	to := min(from+populateWindow/4, alloc&^(pg-1))
	if to-from < 16*pg {
		t.Fatalf("only %d bytes reserved past the tail at %d", alloc-tail, tail)
	}
	missing := unmappedPages(t, m.data[from:to])
	if missing > 0 {
		t.Fatalf("%d of the %d pages past the tail (%d–%d) are not mapped in", missing, (to-from)/pg, from, to)
	}
	check := func(db *DB) {
		t.Helper()
		for i := range n {
			v, err := db.Get(fmt.Appendf(nil, "key%06d", i))
			if err != nil || string(v) != string(fmt.Appendf(nil, "value %d %090d", i, 0)) {
				t.Fatalf("key%06d = %.20q, %v", i, v, err)
			}
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir + "/wal.log"); err != nil || fi.Size() != tail {
		t.Fatalf("closed log: %v, %v; want %d bytes, its records", fi.Size(), err, tail)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db)
}

// TestReserveStaysAheadOfTheTail fills a NoSync store past several
// reservations of the log file and finds, after every Put, at least half a
// reservation step of reserved space past the tail: the space that
// populateAhead, which stops at the reserved end, faults in ahead of the
// writer. Were the file extended only once an append crossed its end, the
// writer would copy its next records into pages nothing faulted in.
func TestReserveStaysAheadOfTheTail(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.wmu.Lock()
	m := db.mu.view.m
	db.wmu.Unlock()
	if m == nil || !m.writable {
		t.Skip("the log is not mapped for writing here")
	}
	f, err := os.CreateTemp(t.TempDir(), "prealloc")
	if err != nil {
		t.Fatal(err)
	}
	ok := preallocate(osFile{f}, 0, 1<<20)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("the file system reserves no space here")
	}
	val := make([]byte, 1000)
	reservations, last := 0, int64(0)
	for i := 0; reservations < 8; i++ {
		if err := db.Put(fmt.Appendf(nil, "key%07d", i), val); err != nil {
			t.Fatal(err)
		}
		db.wmu.Lock()
		tail, alloc, step := db.tail, db.alloc, db.reserveStep()
		db.wmu.Unlock()
		if alloc-tail < step/2 {
			t.Fatalf("after %d Puts, %d bytes reserved past the tail at %d, want half a step (%d) at least", i+1, alloc-tail, tail, step/2)
		}
		if alloc != last {
			reservations, last = reservations+1, alloc
		}
	}
}

// TestGrowthPopulatesTheNewTable grows an index whose new table is large
// enough to be faulted in ahead of use, and finds every page of it mapped
// in once that is done, though only a step of the migration has run.
func TestGrowthPopulatesTheNewTable(t *testing.T) {
	x := newIndex(0, walfmt.NewFileHeader())
	defer x.close()
	grown := func() bool {
		cur, _ := x.mapped()
		return x.old != nil && len(cur) >= populateTableMin
	}
	for i := 0; !grown(); i++ {
		x.insertNew(uint32(i)*2654435761, int64(64+i), 1)
	}
	cur, _ := x.mapped()
	<-x.mem.curPop.done
	if missing := unmappedPages(t, cur); missing > 0 {
		t.Fatalf("%d of the %d pages of the new table are not mapped in", missing, len(cur)/os.Getpagesize())
	}
}

// TestPopulateOrderFollowsTheMigration checks the order in which a new
// table's pages are faulted in: both halves from their starts, a step of
// each in turn, as the migration writes them (a key of the old table's
// slot i goes near i or near i plus the old size), every byte once.
func TestPopulateOrderFollowsTheMigration(t *testing.T) {
	for _, n := range []int{4 * populateStep, 3*populateStep + 4096, populateStep, 2*populateStep + 2} {
		var got [][2]int
		for lo, hi := range populateOrder(n) {
			got = append(got, [2]int{lo, hi})
		}
		half := n / 2
		for i := 0; i+1 < len(got); i += 2 {
			k := i / 2 * populateStep
			if got[i][0] != k || got[i+1][0] != half+k {
				t.Fatalf("n=%d: pieces %d and %d start at %d and %d, want %d and %d: %v", n, i, i+1, got[i][0], got[i+1][0], k, half+k, got)
			}
		}
		sorted := slices.Clone(got)
		slices.SortFunc(sorted, func(a, b [2]int) int { return a[0] - b[0] })
		at := 0
		for _, r := range sorted {
			if r[0] != at || r[1] <= r[0] {
				t.Fatalf("n=%d: pieces do not cover [0, %d) once each: %v", n, n, got)
			}
			at = r[1]
		}
		if at != n {
			t.Fatalf("n=%d: pieces end at %d: %v", n, at, got)
		}
	}
}

// unmappedPages returns how many pages of b are not mapped into the
// process: /proc/self/pagemap has a word a page of the address space, and
// its bit 63 says whether the page is present.
func unmappedPages(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no page map: %v", err)
	}
	defer f.Close()
	pg := os.Getpagesize()
	vec := make([]byte, 8*(len(b)/pg))
	if _, err := f.ReadAt(vec, int64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))/uintptr(pg)*8)); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for i := 0; i < len(vec); i += 8 {
		if binary.LittleEndian.Uint64(vec[i:])>>63 == 0 {
			missing++
		}
	}
	return missing
}
