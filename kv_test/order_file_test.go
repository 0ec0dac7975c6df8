package kv_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// orderedStore fills dir with n keys, scans once so that the store keeps a
// key order, overwrites and deletes some, and closes it, leaving wal.order.
func orderedStore(t *testing.T, dir string, n int) map[string]string {
	t.Helper()
	db := openDB(t, dir, scanOpts["nosync"])
	ref := map[string]string{}
	for i := range n {
		mustPut(t, db, key(i), value(i))
		ref[key(i)] = value(i)
	}
	scanAll(t, db, nil, nil)
	for i := 0; i < n; i += 7 {
		if err := db.Delete([]byte(key(i))); err != nil {
			t.Fatal(err)
		}
		delete(ref, key(i))
		mustPut(t, db, key(i+1), "again")
		ref[key(i+1)] = "again"
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wal.order")); err != nil {
		t.Fatalf("no order file after Close: %v", err)
	}
	return ref
}

// wantScan checks a full scan and two ranges of db against ref.
func wantScan(t *testing.T, db *kv.DB, ref map[string]string, what string) {
	t.Helper()
	for _, r := range [][2][]byte{{nil, nil}, {[]byte(key(100)), []byte(key(200))}, {[]byte(key(990)), nil}} {
		if got, want := scanAll(t, db, r[0], r[1]), refRange(ref, r[0], r[1]); !slices.Equal(got, want) {
			t.Fatalf("%s: scan [%q, %q): %d keys, want %d", what, r[0], r[1], len(got), len(want))
		}
	}
}

// TestOrderFileDamage damages wal.order every way a disk or another store
// could — a flipped byte anywhere, a cut anywhere, another store's file, an
// older file of the same log, a log cut below what it covers — and checks
// that scans stay exact: a file that does not match is never trusted.
func TestOrderFileDamage(t *testing.T) {
	dir := t.TempDir()
	ref := orderedStore(t, dir, 1000)
	orderPath := filepath.Join(dir, "wal.order")
	good, err := os.ReadFile(orderPath)
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	orderedStore(t, other, 1000)
	foreign, err := os.ReadFile(filepath.Join(other, "wal.order"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, order []byte) {
		t.Helper()
		if err := os.WriteFile(orderPath, order, 0o644); err != nil {
			t.Fatal(err)
		}
		db := openDB(t, dir, &kv.Options{ReadOnly: true}) // writes nothing back
		wantScan(t, db, ref, what)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	check("intact", good)
	check("another store's", foreign)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, at := range append([]int{0, 8, 16, 24, 32, 36, 40, 56, 64, len(good) - 1}, rng.IntN(len(good)), rng.IntN(len(good))) {
		b := slices.Clone(good)
		b[at] ^= 0x10
		check(fmt.Sprintf("byte %d flipped", at), b)
	}
	for _, n := range []int{0, 10, 63, 64, 72, len(good) / 2, len(good) - 8, len(good) - 1} {
		check(fmt.Sprintf("cut to %d bytes", n), good[:n])
	}
	check("longer", append(slices.Clone(good), make([]byte, 8)...))
}

// TestOrderFileOlderThanLog reopens a store whose order file covers only
// the first part of the log: written at one Close, then the store was
// written to and crashed (the file was not rewritten). The run orders the
// prefix it covers; the rest must come from the log.
func TestOrderFileOlderThanLog(t *testing.T) {
	dir := t.TempDir()
	ref := orderedStore(t, dir, 1000)
	old, err := os.ReadFile(filepath.Join(dir, "wal.order"))
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir, scanOpts["nosync"])
	for i := 500; i < 1500; i++ {
		if i%3 == 0 {
			if err := db.Delete([]byte(key(i))); err != nil {
				t.Fatal(err)
			}
			delete(ref, key(i))
			continue
		}
		mustPut(t, db, key(i), "later")
		ref[key(i)] = "later"
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wal.order"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, scanOpts["nosync"])
	wantScan(t, db, ref, "older order file")
}

// TestCrashWhileWritingOrderFile crashes Close at each of its file-system
// operations — the hint's and the order file's — keeping none, all or
// some of the unsynced writes, and checks that the store reopens with its
// data and scans it exactly.
func TestCrashWhileWritingOrderFile(t *testing.T) {
	for k := 0; ; k++ {
		crashed := false
		for _, keep := range []crashKeep{keepNone, keepAll, keepPrefix, keepSubset} {
			crashed = crashCloseAt(t, k, keep, rand.New(rand.NewPCG(uint64(k), uint64(keep)))) || crashed
		}
		if !crashed {
			if k < 4 {
				t.Fatalf("Close has only %d file-system operations: the order file was not written", k)
			}
			return
		}
	}
}

// crashCloseAt crashes the k-th mutating operation of Close, and reports
// whether there was one.
func crashCloseAt(t *testing.T, k int, keep crashKeep, rng *rand.Rand) bool {
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
	scanAll(t, db, nil, nil) // the store keeps an order from now on
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
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
	_ = db.Close() // fails at the crash; what it leaves is checked below
	if crashed == nil {
		return false
	}
	db, err = kv.Open(memDir, memOptions(crashed, false))
	if err != nil {
		t.Fatalf("crash at operation %d of Close (keep %d): Open: %v", k, keep, err)
	}
	defer db.Close()
	if left := leftovers(crashed.Names(memDir)); len(left) > 0 {
		t.Fatalf("Open left temporary files: %v", left)
	}
	if got, want := scanAll(t, db, nil, nil), refRange(ref, nil, nil); !slices.Equal(got, want) {
		t.Fatalf("crash at operation %d of Close (keep %d): scanned %d keys, want %d", k, keep, len(got), len(want))
	}
	return true
}

// TestOrderFileKeptWhenUnchanged closes a store whose key order was
// loaded from wal.order and that nothing was written to since: Close
// leaves the file as it is (at ten million keys it is 80 MB) rather than
// writing the same run again. After one more write it writes a new one,
// which the next Open's scan reads in order.
func TestOrderFileKeptWhenUnchanged(t *testing.T) {
	dir := t.TempDir()
	ref := orderedStore(t, dir, 500)
	path := filepath.Join(dir, "wal.order")
	stat := func() os.FileInfo {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	reopen := func(write bool) {
		t.Helper()
		db, err := kv.Open(dir, scanOpts["nosync"])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := scanAll(t, db, nil, nil), refRange(ref, nil, nil); !slices.Equal(got, want) {
			t.Fatalf("scan after reopen: %d pairs, want %d", len(got), len(want))
		}
		if write {
			mustPut(t, db, "zz-new", "v")
			ref["zz-new"] = "v"
			scanAll(t, db, nil, nil)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	before := stat()
	reopen(false)
	if after := stat(); !os.SameFile(before, after) {
		t.Fatalf("Close of an unchanged store wrote wal.order again")
	}
	reopen(true)
	if after := stat(); os.SameFile(before, after) {
		t.Fatalf("Close after a write left the old wal.order")
	}
	reopen(false)
}
