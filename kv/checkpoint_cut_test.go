package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"testing"

	"github.com/crabkv/crabkv/compact"
)

// TestCheckpointCutsOnlyAnUnmappedHint checks that a checkpoint cuts the
// hint it replaces a step at a time only when nothing maps it: not the
// hint the writer's own index was loaded from, nor one a read-only store
// of the same directory maps. Every key must read back from both stores
// with no fault in their maps, and a hint nothing maps must be cut to
// nothing.
func TestCheckpointCutsOnlyAnUnmappedHint(t *testing.T) {
	dir := t.TempDir()
	opts := func(ro bool) *Options {
		return &Options{NoSync: true, ReadOnly: ro, Compaction: compact.Policy{Disabled: true}, CheckpointBytes: -1}
	}
	want := map[string]string{}
	first, err := Open(dir, opts(false))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		ckptPut(t, first, want, fmt.Sprintf("key-%05d", i), fmt.Sprint("value-", i), false)
	}
	if err := first.Close(); err != nil { // writes the hint the next Open maps
		t.Fatal(err)
	}
	db, err := Open(dir, opts(false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if cur, _ := db.mu.index.mapped(); cur == nil {
		t.Fatal("the store's index is not mapped from its hint")
	}
	var mu sync.Mutex
	var cuts []int64 // guarded by mu
	db.freeStep = 4 << 10
	db.testHookCut = func(size int64) {
		mu.Lock()
		cuts = append(cuts, size)
		mu.Unlock()
	}
	cutSince := func(n int) []int64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int64(nil), cuts[n:]...)
	}
	checkpoint := func(key string) {
		t.Helper()
		ckptPut(t, db, want, key, "starts a checkpoint", false)
		before := db.Stats().Checkpoints
		runCheckpoint(t, db, key+"'", func(int) {})
		want[key+"'"] = "starts a checkpoint"
		if st := db.Stats(); st.Checkpoints != before+1 {
			t.Fatalf("%s: no checkpoint landed: %d before, %+v", key, before, st)
		}
	}

	// The hint the writer's index maps.
	checkpoint("c1")
	if c := cutSince(0); len(c) != 0 {
		t.Fatalf("the hint the writer's index maps was cut: %v", c)
	}
	readAllNoFault(t, db, want, "writer, after its own hint was replaced")

	// A hint a read-only store maps.
	ro, err := Open(dir, opts(true))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if cur, _ := ro.mu.index.mapped(); cur == nil {
		t.Fatal("the read-only store's index is not mapped from the hint")
	}
	roWant := map[string]string{}
	for k, v := range want {
		roWant[k] = v
	}
	checkpoint("c2")
	if c := cutSince(0); len(c) != 0 {
		t.Fatalf("the hint a read-only store maps was cut: %v", c)
	}
	readAllNoFault(t, ro, roWant, "read-only store, after its hint was replaced")

	// A hint nothing maps: the last checkpoint's.
	checkpoint("c3")
	c := cutSince(0)
	if len(c) < 2 || c[len(c)-1] != 0 {
		t.Fatalf("the hint nothing maps was not cut a step at a time to nothing: cuts %v", c)
	}
	readAllNoFault(t, db, want, "writer, after a cut")
	readAllNoFault(t, ro, roWant, "read-only store, after a cut")

	// A compaction removes the hint: kept while mapped, cut when not.
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err = Open(dir, opts(true)) // maps the hint of c3
	if err != nil {
		t.Fatal(err)
	}
	// Each hint's own file, opened without a lock, tells whether it was
	// cut: its size. (The hint the writer's index was loaded from is cut
	// too once the compaction's swap lets go of that index: see
	// TestRetiredHintIsCut.)
	openHint := func() (*os.File, int64) {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, hintName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return f, fi.Size()
	}
	sizeOf := func(f *os.File) int64 {
		t.Helper()
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	mapped, size := openHint()
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.oldLogs.Wait()
	if got := sizeOf(mapped); got != size {
		t.Fatalf("the compaction cut the hint a read-only store maps: %d bytes of %d left", got, size)
	}
	if _, err := os.Stat(filepath.Join(dir, hintName)); err == nil {
		t.Fatal("the compaction left a hint: the test expects none for so small a log")
	}
	readAllNoFault(t, ro, roWant, "read-only store, after a compaction removed its hint")
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	checkpoint("c4")
	unmapped, _ := openHint()
	n := len(cutSince(0))
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.oldLogs.Wait()
	if got := sizeOf(unmapped); got != 0 {
		t.Fatalf("the compaction did not cut the hint nothing mapped: %d bytes left; cuts %v", got, cutSince(n))
	}
	readAllNoFault(t, db, want, "writer, after the compactions")
}

// readAllNoFault reads every key of want from db, turning a fault in a
// mapped table (a file cut under its map) into a test failure.
func readAllNoFault(t *testing.T, db *DB, want map[string]string, what string) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: reading the keys faulted: %v", what, r)
		}
	}()
	for k, v := range want {
		got, err := db.Get([]byte(k))
		if err != nil || string(got) != v {
			t.Fatalf("%s: Get(%s) = %q, %v; want %q", what, k, got, err, v)
		}
	}
}

// TestRetiredHintIsCut checks that the hint a writer's index was loaded
// from, once a checkpoint has replaced it, is cut a step at a time when
// the index lets go of its map (here at the end of a growth), not freed
// whole; and that every key still reads back.
func TestRetiredHintIsCut(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}, CheckpointBytes: -1}
	want := map[string]string{}
	first, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		ckptPut(t, first, want, fmt.Sprintf("key-%05d", i), fmt.Sprint("value-", i), false)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, hintName))
	if err != nil {
		t.Fatal(err)
	}
	loaded := fi.Size()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	var cuts []int64 // guarded by mu
	db.freeStep = 4 << 10
	db.testHookCut = func(size int64) {
		mu.Lock()
		cuts = append(cuts, size)
		mu.Unlock()
	}
	want["c1"] = "starts a checkpoint"
	runCheckpoint(t, db, "c1", func(int) {}) // replaces the hint the index maps
	slots := len(db.mu.index.slots)
	for i := 0; ; i++ {
		ckptPut(t, db, want, fmt.Sprintf("more-%05d", i), "v", false)
		db.mu.RLock()
		grown := len(db.mu.index.slots) > slots && db.mu.index.old == nil
		db.mu.RUnlock()
		if grown {
			break
		}
		if i > 100_000 {
			t.Fatal("the index did not grow")
		}
	}
	db.mu.index.releases.Wait()
	db.oldLogs.Wait()
	mu.Lock()
	got := append([]int64(nil), cuts...)
	mu.Unlock()
	if !slices.Contains(got, loaded-db.freeStep) || got[len(got)-1] != 0 {
		t.Fatalf("the %d-byte hint the index let go of was not cut a step at a time: cuts %v", loaded, got)
	}
	readAllNoFault(t, db, want, "writer, after its hint was cut")
}
