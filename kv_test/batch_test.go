package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// genBatchOps is genOps with most steps batches of up to 20 puts and
// deletes over the same few keys, some of them larger than a sector, so
// that a crash can keep some of a batch's bytes and lose others.
func genBatchOps(rng *rand.Rand, n int) []op {
	ops := genOps(rng, n)
	for i := range ops {
		if ops[i].kind == 'C' || rng.IntN(3) == 0 {
			continue
		}
		b := op{kind: 'B'}
		for j := range 1 + rng.IntN(20) {
			x := genOps(rng, 1)[0]
			if x.kind == 'C' {
				continue
			}
			if x.kind == 'P' {
				x.value = fmt.Sprintf("b%d.%d-%s", i, j, strings.Repeat("y", rng.IntN(1500)))
			}
			b.batch = append(b.batch, x)
		}
		ops[i] = b
	}
	return ops
}

// TestCrashKeepsBatchesWhole crashes random workloads of batches at a
// random file-system operation: after the reboot, the store holds the
// state after some prefix of the workload's steps, so every batch is there
// whole or not at all.
func TestCrashKeepsBatchesWhole(t *testing.T) {
	seed := baseSeed(t)
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			for round := range rounds(50, 300) {
				s := seed + uint64(round)
				crashWorkloadOf(t, s, noSync, genBatchOps)
				if t.Failed() {
					t.Fatalf("failed with seed %d (rerun with -crash.seed=%d -crash.rounds=1)", s, s)
				}
			}
		})
	}
}

func TestBatchWrite(t *testing.T) {
	db := openDB(t, t.TempDir(), nil)
	mustPut(t, db, "gone", "x")
	mustPut(t, db, "kept", "old")
	b := db.NewBatch()
	b.Put([]byte("a"), []byte("1"))
	b.Put([]byte("b"), []byte("2"))
	b.Delete([]byte("gone"))
	b.Put([]byte("a"), []byte("3")) // the later operation wins
	b.Put([]byte("empty"), nil)
	if b.Len() != 5 {
		t.Fatalf("Len = %d, want 5", b.Len())
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	wantContents(t, db, map[string]string{"a": "3", "b": "2", "kept": "old", "empty": ""})
	checkAccounting(t, db)

	// Reused after a Reset.
	b.Reset()
	b.Delete([]byte("b"))
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, db, "b")

	// Update writes what fn adds, or nothing when fn fails.
	if err := db.Update(func(b *kv.Batch) error {
		b.Put([]byte("u"), []byte("1"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "u", "1")
	boom := errors.New("boom")
	before := db.Stats().LogBytes
	err := db.Update(func(b *kv.Batch) error {
		b.Put([]byte("never"), []byte("1"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	wantMissing(t, db, "never")

	// An empty batch writes nothing.
	if err := db.Write(db.NewBatch()); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(*kv.Batch) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if after := db.Stats().LogBytes; after != before {
		t.Fatalf("LogBytes %d after empty and failed batches, want %d", after, before)
	}
	checkAccounting(t, db)
}

// An invalid operation makes the whole batch fail, with nothing written.
func TestBatchLimits(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{MaxValueSize: 1 << 10})
	tests := []struct {
		name string
		fill func(b *kv.Batch)
		want error
	}{
		{"empty key", func(b *kv.Batch) { b.Put([]byte("ok"), nil); b.Put(nil, []byte("v")) }, kv.ErrEmptyKey},
		{"empty key deleted", func(b *kv.Batch) { b.Delete(nil) }, kv.ErrEmptyKey},
		{"key too large", func(b *kv.Batch) { b.Put(make([]byte, walfmt.MaxKeyLen+1), nil) }, kv.ErrKeyTooLarge},
		{"value too large", func(b *kv.Batch) { b.Put([]byte("ok"), nil); b.Put([]byte("k"), make([]byte, 1<<10+1)) }, kv.ErrValueTooLarge},
		{"too many operations", func(b *kv.Batch) {
			for i := range kv.MaxBatchOps + 1 {
				b.Put([]byte(key(i)), nil)
			}
		}, kv.ErrBatchTooLarge},
		{"too many bytes", func(b *kv.Batch) {
			v := make([]byte, 1<<10)
			for i := range kv.MaxBatchBytes/len(v) + 1 {
				b.Put([]byte(key(i)), v)
			}
		}, kv.ErrBatchTooLarge},
	}
	for _, tc := range tests {
		before := db.Stats()
		b := db.NewBatch()
		tc.fill(b)
		err := db.Write(b)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Write = %v, want %v", tc.name, err, tc.want)
		}
		// The message names the package once, as every error of kv does.
		if msg := fmt.Sprint(err); !strings.HasPrefix(msg, "kv: ") || strings.Count(msg, "kv:") != 1 {
			t.Errorf("%s: Write = %q, want one \"kv: \" prefix", tc.name, msg)
		}
		if after := db.Stats(); after.LogBytes != before.LogBytes || after.Keys != before.Keys {
			t.Errorf("%s: the failed batch wrote something: %+v", tc.name, after)
		}
	}
	// A batch at the operation limit is fine.
	b := db.NewBatch()
	for i := range kv.MaxBatchOps {
		b.Put([]byte(key(i)), nil)
	}
	if err := db.Write(b); err != nil {
		t.Fatalf("a batch of MaxBatchOps: %v", err)
	}
	if n := db.Stats().Keys; n != kv.MaxBatchOps {
		t.Fatalf("%d keys, want %d", n, kv.MaxBatchOps)
	}
}

// Readers never see part of a batch: each batch adds batchKeys new keys,
// and every snapshot a reader takes holds a multiple of them. And a key
// that a batch writes after another is never newer than it.
func TestBatchAtomicForReaders(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			db := openDB(t, t.TempDir(), &kv.Options{NoSync: noSync})
			const batchKeys, batches, writers = 10, 200, 2
			var done atomic.Bool
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range batches {
						b := db.NewBatch()
						for j := range batchKeys {
							b.Put(fmt.Appendf(nil, "w%d-%04d-%02d", w, i, j), []byte("v"))
						}
						v := fmt.Appendf(nil, "%06d", i)
						b.Put(fmt.Appendf(nil, "first-%d", w), v)
						b.Put(fmt.Appendf(nil, "second-%d", w), v)
						if err := db.Write(b); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			var readers sync.WaitGroup
			for range 2 {
				readers.Go(func() {
					for !done.Load() {
						keys := db.Keys([]byte("w"))
						if len(keys)%batchKeys != 0 {
							t.Errorf("a reader saw %d keys: part of a batch", len(keys))
							return
						}
						// Besides the batches' own keys: first-w and
						// second-w of each writer that has written.
						if n := db.Stats().Keys % batchKeys; n%2 != 0 || n > 2*writers {
							t.Errorf("Stats.Keys = %d: part of a batch", n)
							return
						}
						for w := range writers {
							first, err1 := db.Get(fmt.Appendf(nil, "first-%d", w))
							second, err2 := db.Get(fmt.Appendf(nil, "second-%d", w))
							if err1 == nil && (err2 != nil || string(second) < string(first)) {
								t.Errorf("read first-%d = %s, then second-%d = %s, %v", w, first, w, second, err2)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			done.Store(true)
			readers.Wait()
			if n := len(db.Keys([]byte("w"))); n != writers*batches*batchKeys {
				t.Fatalf("%d keys, want %d", n, writers*batches*batchKeys)
			}
			checkAccounting(t, db)
		})
	}
}

// randomBatches applies n random batches over a few keys to db and to
// want, checking the accounting after each.
func randomBatches(t *testing.T, db *kv.DB, rng *rand.Rand, n int, want map[string]string) {
	t.Helper()
	for i := range n {
		b := db.NewBatch()
		for j := range 1 + rng.IntN(30) {
			k := fmt.Sprintf("k%03d", rng.IntN(60))
			if rng.IntN(4) == 0 {
				b.Delete([]byte(k))
				delete(want, k)
				continue
			}
			v := fmt.Sprintf("%d.%d-%s", i, j, strings.Repeat("z", rng.IntN(200)))
			b.Put([]byte(k), []byte(v))
			want[k] = v
		}
		if err := db.Write(b); err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, db)
	}
}

// The accounting holds after random batches that overwrite and delete
// each other's keys, across a reopen (with and without the hint file) and
// a compaction, which drops every stale byte of the batches.
func TestBatchAccounting(t *testing.T) {
	rng := rand.New(rand.NewPCG(baseSeed(t), 2))
	dir := t.TempDir()
	opts := &kv.Options{Compaction: compact.Policy{Disabled: true}}
	want := map[string]string{}
	db, err := kv.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	randomBatches(t, db, rng, 200, want)
	wantContents(t, db, want)
	before := checkAccounting(t, db)
	if before.StaleBytes == 0 {
		t.Fatal("no stale bytes after overwriting batches")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, hint := range []bool{true, false} {
		if !hint {
			if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		db, err := kv.Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		wantContents(t, db, want)
		st := checkAccounting(t, db)
		if st.LiveBytes != before.LiveBytes || st.StaleBytes != before.StaleBytes {
			t.Fatalf("hint %v: reopened with live %d stale %d, had %d %d", hint, st.LiveBytes, st.StaleBytes, before.LiveBytes, before.StaleBytes)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db = openDB(t, dir, opts)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	wantContents(t, db, want)
	if st := checkAccounting(t, db); st.StaleBytes != 0 || st.LiveBytes >= before.LiveBytes+before.StaleBytes {
		t.Fatalf("after compaction: %+v", st)
	}
	randomBatches(t, db, rng, 50, want)
	wantContents(t, db, want)
}

// A hint file's slots point into batches: after a reopen from it, Get,
// Entry and Keys find the keys a batch wrote, and overwriting one of them
// keeps the accounting.
func TestBatchHintReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	b := db.NewBatch()
	for i := range 500 {
		b.Put([]byte(key(i)), []byte(value(i)))
		want[key(i)] = value(i)
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wal.hint")); err != nil {
		t.Skipf("no hint file on this system: %v", err)
	}
	db = openDB(t, dir, nil)
	wantContents(t, db, want)
	e, err := db.Entry([]byte(key(7)))
	if err != nil || e.ValueSize != len(value(7)) {
		t.Fatalf("Entry = %+v, %v", e, err)
	}
	mustPut(t, db, key(7), "new")
	want[key(7)] = "new"
	wantContents(t, db, want)
	checkAccounting(t, db)
}

// Compaction copies the live operations of batches, written before it and
// while it runs; a batch written during it is whole in the new log.
func TestBatchCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := &kv.Options{Compaction: compact.Policy{Disabled: true}}
	db := openDB(t, dir, opts)
	rng := rand.New(rand.NewPCG(baseSeed(t), 3))
	want := map[string]string{}
	randomBatches(t, db, rng, 100, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	wantContents(t, db, want)
	checkAccounting(t, db)

	// Batches during compactions: the tail copy carries them over.
	var wg sync.WaitGroup
	var stop atomic.Bool
	wg.Go(func() {
		for !stop.Load() {
			if err := db.Compact(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var mu sync.Mutex // guards want against the final read
	for i := range 300 {
		b := db.NewBatch()
		mu.Lock()
		for j := range 8 {
			k := fmt.Sprintf("during-%02d", (i+j)%40)
			v := fmt.Sprintf("%d.%d", i, j)
			b.Put([]byte(k), []byte(v))
			want[k] = v
		}
		mu.Unlock()
		if err := db.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	wantContents(t, db, want)
	checkAccounting(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := openDB(t, dir, opts)
	wantContents(t, db2, want)
	checkAccounting(t, db2)
}

// A follower applies batches whole, as the writer publishes them.
func TestBatchFollower(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, nil)
	mustPut(t, db, "before", "1")
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	b := db.NewBatch()
	want := map[string]string{"before": "1"}
	for i := range 100 {
		b.Put([]byte(key(i)), []byte(value(i)))
		want[key(i)] = value(i)
	}
	b.Delete([]byte("before"))
	delete(want, "before")
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Refresh()
	wantContents(t, f, want)
	st := f.Stats()
	if st.LiveBytes+st.StaleBytes+st.HeaderBytes != st.LogBytes {
		t.Fatalf("follower's accounting: %+v", st)
	}
}

// batchLog writes a store whose log holds a batch between plain records,
// followed by more than walfmt.SyncWindow bytes of valid data, and returns
// its directory and the offset of the batch.
func batchLog(t *testing.T) (string, int64) {
	dir := t.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "a", "1")
	off := db.Stats().LogBytes
	b := db.NewBatch()
	b.Put([]byte("b1"), []byte("x"))
	b.Put([]byte("b2"), []byte("y"))
	b.Delete([]byte("a"))
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "pad", strings.Repeat("p", walfmt.SyncWindow+1))
	mustPut(t, db, "z", "2")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return dir, off
}

// Verify counts a batch's operations, and reports a damaged batch as
// damage; Repair drops the damaged batch whole and keeps the rest.
func TestBatchVerifyRepair(t *testing.T) {
	dir, off := batchLog(t)
	rep, err := kv.Verify(dir)
	if err != nil || !rep.Clean() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if rep.Records != 4 || rep.Batches != 1 || rep.Puts != 5 || rep.Deletes != 1 || rep.Keys != 4 {
		t.Fatalf("Verify counted %+v; want 4 records, 1 batch, 5 puts, 1 delete, 4 keys", rep)
	}
	// Damage the value of the batch's second operation: its own checksum
	// and the batch's both fail.
	path := filepath.Join(dir, "wal.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data[off:], []byte("b2y"))
	if i < 0 {
		t.Fatal("no second operation in the log")
	}
	data[off+int64(i)+2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Open(dir, nil); !errors.Is(err, walfmt.ErrCorrupt) {
		t.Fatalf("Open of a log with a damaged batch = %v, want ErrCorrupt", err)
	}
	rep, err = kv.Verify(dir)
	if err != nil || !rep.Corrupt() || rep.FirstBad != off || rep.Batches != 0 {
		t.Fatalf("Verify = %+v, %v; want corruption at %d, the batch's offset", rep, err, off)
	}
	rr, err := kv.Repair(dir)
	if err != nil || rr.Salvaged != 3 {
		t.Fatalf("Repair = %+v, %v; want 3 records salvaged", rr, err)
	}
	db := openDB(t, dir, nil)
	// None of the batch: "a" is not deleted, "b1" and "b2" are missing.
	wantValue(t, db, "a", "1")
	wantMissing(t, db, "b1")
	wantMissing(t, db, "b2")
	wantValue(t, db, "z", "2")
	checkAccounting(t, db)
}

// A batch cut short at the end of the log is a torn tail: Open cuts it
// whole, however many of its operations were complete.
func TestBatchTornTail(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "a", "1")
	off := db.Stats().LogBytes
	b := db.NewBatch()
	for i := range 20 {
		b.Put([]byte(key(i)), []byte(value(i)))
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	end := db.Stats().LogBytes
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wal.log")
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) != end {
		t.Fatalf("read log: %d bytes, %v", len(data), err)
	}
	for cut := end - 1; cut > off; cut -= 37 {
		if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		db := openDB(t, dir, nil)
		wantContents(t, db, map[string]string{"a": "1"})
		if st := db.Stats(); st.TruncatedBytes != cut-off {
			t.Fatalf("cut at %d: TruncatedBytes %d, want %d", cut, st.TruncatedBytes, cut-off)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A batch is one append and one sync, however many operations it holds.
func TestBatchIsOneSync(t *testing.T) {
	ffs := newFaultFS(newMemFS())
	db := openDB(t, memDir, memOptions(ffs, false))
	before := len(ffs.Ops())
	b := db.NewBatch()
	for i := range 200 {
		b.Put([]byte(key(i)), []byte(value(i)))
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	writes, syncs := 0, 0
	for _, o := range ffs.Ops()[before:] {
		switch o {
		case "write wal.log":
			writes++
		case "sync wal.log":
			syncs++
		}
	}
	if writes != 1 || syncs != 1 {
		t.Fatalf("a batch of 200 took %d writes and %d syncs, want 1 and 1: %q", writes, syncs, ffs.Ops()[before:])
	}
}

// A batch whose append fails is not applied at all, and the store takes
// the next one.
func TestBatchFailedAppend(t *testing.T) {
	ffs := newFaultFS(newMemFS())
	db := openDB(t, memDir, memOptions(ffs, false))
	mustPut(t, db, "a", "1")
	boom := errors.New("disk full")
	ffs.SetInject(func(o fsOp, name string, _ int) error {
		if o == opWrite && strings.HasSuffix(name, "wal.log") {
			return shortWrite{boom}
		}
		return nil
	})
	b := db.NewBatch()
	b.Put([]byte("a"), []byte("2"))
	b.Put([]byte("b"), []byte("2"))
	if err := db.Write(b); !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want the write's error", err)
	}
	ffs.SetInject(nil)
	wantContents(t, db, map[string]string{"a": "1"})
	b.Reset()
	b.Put([]byte("c"), []byte("3"))
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	wantContents(t, db, map[string]string{"a": "1", "c": "3"})
	st := db.Stats()
	if st.LiveBytes+st.StaleBytes+st.HeaderBytes != st.LogBytes {
		t.Fatalf("accounting: %+v", st)
	}
}
