package kv_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestCrashEveryStepOfCloseMerge crashes the file system at each mutating
// operation of a Close that merges a few writes into a key order loaded
// from wal.order (a merge by search: overwrites, deletes, new keys, and
// keys before the first and after the last, which move the prefix all keys
// share) and writes the hint and wal.order, keeping none, all, a prefix or
// a subset of the unsynced writes, with sync on and off. The store must
// open, and its scan, Keys and Get agree, in order: with sync on, holding
// every write; with NoSync, the writes up to some point. A reader opened
// beside it must scan the same.
func TestCrashEveryStepOfCloseMerge(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		for k := 0; ; k++ {
			crashed := false
			for _, keep := range []crashKeep{keepNone, keepAll, keepPrefix, keepSubset} {
				if crashCloseMergeAt(t, k, keep, noSync, rand.New(rand.NewPCG(uint64(k), uint64(keep)))) {
					crashed = true
				}
				if t.Failed() {
					t.Fatalf("k=%d keep=%d noSync=%v", k, keep, noSync)
				}
			}
			if !crashed {
				t.Logf("noSync=%v: %d operations in Close", noSync, k)
				break
			}
		}
	}
}

// crashCloseMergeAt crashes the k-th mutating operation of the Close, and
// reports whether there was one.
func crashCloseMergeAt(t *testing.T, k int, keep crashKeep, noSync bool, rng *rand.Rand) bool {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	db, err := kv.Open(memDir, memOptions(ffs, noSync))
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]string{}
	b := db.NewBatch()
	for i := range 3000 {
		k := fmt.Sprintf("user:%06d", i*7)
		b.Put([]byte(k), []byte("v0"))
		ref[k] = "v0"
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	scanAll(t, db, nil, nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = kv.Open(memDir, memOptions(ffs, noSync))
	if err != nil {
		t.Fatal(err)
	}
	scanAll(t, db, nil, nil) // loads wal.order
	before := map[string]string{}
	for k, v := range ref {
		before[k] = v
	}
	var prefixes [][]pair
	snap := func() { prefixes = append(prefixes, refRange(ref, nil, nil)) }
	snap()
	for i := range 40 {
		if i > 0 {
			snap()
		}
		switch i % 4 {
		case 0:
			k := fmt.Sprintf("user:%06d", rng.IntN(21000))
			mustPut(t, db, k, fmt.Sprint("n", i))
			ref[k] = fmt.Sprint("n", i)
		case 1:
			k := fmt.Sprintf("user:%06d", rng.IntN(3000)*7)
			if err := db.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(ref, k)
		case 2:
			k := fmt.Sprintf("user:%06d", rng.IntN(3000)*7)
			mustPut(t, db, k, fmt.Sprint("o", i))
			ref[k] = fmt.Sprint("o", i)
		case 3:
			k := []string{"a", "user:", "user:999999x", "zzz", "user:000000"}[rng.IntN(5)]
			mustPut(t, db, k, "e")
			ref[k] = "e"
		}
	}
	snap()
	var crashed *memFS
	ffs.SetInject(crashAfter(k, func() { crashed = mem.CrashHalt(keep, rng) }))
	_ = db.Close()
	if crashed == nil {
		return false
	}
	o := memOptions(crashed, false)
	db, err = kv.Open(memDir, o)
	if err != nil {
		t.Fatalf("k=%d keep=%d noSync=%v: Open: %v (files %v)", k, keep, noSync, err, crashed.Names(memDir))
	}
	defer db.Close()
	got := scanAll(t, db, nil, nil)
	keys := db.Keys(nil)
	if len(keys) != len(got) {
		t.Fatalf("k=%d: Keys %d, scan %d", k, len(keys), len(got))
	}
	for i, p := range got {
		if keys[i] != p.k {
			t.Fatalf("k=%d: Keys[%d]=%q scan %q", k, i, keys[i], p.k)
		}
		v, err := db.Get([]byte(p.k))
		if err != nil || string(v) != p.v {
			t.Fatalf("k=%d: scan %q=%q, Get %q %v", k, p.k, p.v, v, err)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b pair) int {
		if a.k < b.k {
			return -1
		}
		if a.k > b.k {
			return 1
		}
		return 0
	}) {
		t.Fatalf("k=%d: scan out of order", k)
	}
	if !noSync {
		want := refRange(ref, nil, nil)
		if !slices.Equal(got, want) {
			t.Fatalf("k=%d keep=%d: scanned %d keys, want %d", k, keep, len(got), len(want))
		}
	} else if !slices.ContainsFunc(prefixes, func(p []pair) bool { return slices.Equal(p, got) }) {
		t.Fatalf("k=%d keep=%d nosync: %d keys match no prefix of the writes (before %d, after %d)", k, keep, len(got), len(before), len(ref))
	}
	ro := memOptions(crashed, false)
	ro.ReadOnly = true
	r, err := kv.Open(memDir, ro)
	if err != nil {
		t.Fatal(err)
	}
	if g2 := scanAll(t, r, nil, nil); !slices.Equal(g2, got) {
		t.Fatalf("k=%d: reader scanned %d keys, writer %d", k, len(g2), len(got))
	}
	r.Close()
	return true
}
