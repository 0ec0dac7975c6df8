package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// historyOpts is a store whose log only changes when the test says so.
func historyOpts() *kv.Options {
	return &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
}

// versions returns key's history, failing the test on an error.
func versions(tb testing.TB, db *kv.DB, key string) []kv.Version {
	tb.Helper()
	var vs []kv.Version
	if err := db.History([]byte(key), func(v kv.Version) bool {
		vs = append(vs, v)
		return true
	}); err != nil {
		tb.Fatalf("history of %q: %v", key, err)
	}
	return vs
}

// describe renders a history as "value", "-" for a delete, with "*" after
// the current version and "b" after an operation of a batch, reading each
// value back.
func describe(tb testing.TB, db *kv.DB, vs []kv.Version) string {
	tb.Helper()
	var parts []string
	for _, v := range vs {
		s := "-"
		if !v.Tombstone {
			val, err := db.VersionValue(v)
			if err != nil {
				tb.Fatalf("value of version at %d: %v", v.Offset, err)
			}
			if len(val) != v.ValueSize {
				tb.Fatalf("version at %d: ValueSize %d, value has %d bytes", v.Offset, v.ValueSize, len(val))
			}
			s = string(val)
		}
		if v.Batch {
			s += "b"
		}
		if v.Current {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestHistoryVersionsInOrder(t *testing.T) {
	db := openDB(t, t.TempDir(), historyOpts())
	mustPut(t, db, "k", "v1")
	mustPut(t, db, "other", "x")
	mustPut(t, db, "k", "v2")
	if err := db.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	b.Put([]byte("other"), []byte("y"))
	b.Put([]byte("k"), []byte("v3"))
	b.Put([]byte("k"), []byte("v4"))
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "kk", "not k")
	mustPut(t, db, "k", "v5")

	vs := versions(t, db, "k")
	if got, want := describe(t, db, vs), "v1 v2 - v3b v4b v5*"; got != want {
		t.Fatalf("history = %q, want %q", got, want)
	}
	for i := 1; i < len(vs); i++ {
		if vs[i].Offset <= vs[i-1].Offset {
			t.Fatalf("offsets not increasing: %d then %d", vs[i-1].Offset, vs[i].Offset)
		}
	}
	e, err := db.Entry([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	last := vs[len(vs)-1]
	if last.Offset != e.Offset || last.RecordSize != e.RecordSize {
		t.Fatalf("current version at %d (%d bytes), Entry says %d (%d bytes)", last.Offset, last.RecordSize, e.Offset, e.RecordSize)
	}
	if vs[2].RecordSize != walfmt.RecordSize(1, 0) || vs[0].RecordSize != walfmt.RecordSize(1, 2) {
		t.Fatalf("record sizes %d, %d", vs[0].RecordSize, vs[2].RecordSize)
	}
	if got := versions(t, db, "missing"); len(got) != 0 {
		t.Fatalf("history of a key never written: %d versions", len(got))
	}
}

func TestHistoryStopsWhenAsked(t *testing.T) {
	db := openDB(t, t.TempDir(), historyOpts())
	for i := range 5 {
		mustPut(t, db, "k", fmt.Sprint(i))
	}
	n := 0
	if err := db.History([]byte("k"), func(kv.Version) bool { n++; return n < 2 }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("fn called %d times after returning false at 2", n)
	}
	if err := db.History(nil, func(kv.Version) bool { return true }); !errors.Is(err, kv.ErrEmptyKey) {
		t.Fatalf("history of an empty key: %v", err)
	}
}

func TestHistoryDeletedKeyHasNoCurrent(t *testing.T) {
	db := openDB(t, t.TempDir(), historyOpts())
	mustPut(t, db, "k", "old")
	if err := db.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	vs := versions(t, db, "k")
	if got := describe(t, db, vs); got != "old -" {
		t.Fatalf("history = %q", got)
	}
	if _, err := db.VersionValue(vs[1]); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("value of a delete: %v", err)
	}
}

func TestHistoryExpiriesAndCodecs(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{NoSync: true, Codec: kv.S2, Compaction: compact.Policy{Disabled: true}})
	big := bytes.Repeat([]byte("compressible "), 200)
	if err := db.PutTTL([]byte("k"), big, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "short")
	b := db.NewBatch()
	b.PutTTL([]byte("k"), []byte("batched"), time.Minute)
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	vs := versions(t, db, "k")
	if len(vs) != 3 {
		t.Fatalf("%d versions, want 3", len(vs))
	}
	now := time.Now()
	if exp := vs[0].Expires; exp.Before(now.Add(59*time.Minute)) || exp.After(now.Add(61*time.Minute)) {
		t.Fatalf("first version expires at %v, want about an hour from now", exp)
	}
	if !vs[1].Expires.IsZero() || vs[2].Expires.IsZero() || !vs[2].Batch || !vs[2].Current {
		t.Fatalf("versions: %+v", vs)
	}
	if vs[0].Codec != "s2" || vs[0].StoredValueSize >= vs[0].ValueSize || vs[0].ValueSize != len(big) {
		t.Fatalf("encoded version: codec %q, stored %d, logical %d", vs[0].Codec, vs[0].StoredValueSize, vs[0].ValueSize)
	}
	got, err := db.VersionValue(vs[0])
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("old encoded value: %d bytes, %v", len(got), err)
	}
	if vs[0].Expired(now) || !vs[0].Expired(now.Add(2*time.Hour)) {
		t.Fatal("Expired does not follow Expires")
	}
}

func TestHistoryAfterCompaction(t *testing.T) {
	db := openDB(t, t.TempDir(), historyOpts())
	for i := range 4 {
		mustPut(t, db, "k", fmt.Sprint("v", i))
		mustPut(t, db, fmt.Sprint("filler", i), "x")
	}
	old := versions(t, db, "k")
	if len(old) != 4 {
		t.Fatalf("%d versions before compaction", len(old))
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if got := describe(t, db, versions(t, db, "k")); got != "v3*" {
		t.Fatalf("history after compaction = %q, want only the live version", got)
	}
	if _, err := db.VersionValue(old[0]); !errors.Is(err, kv.ErrLogReplaced) {
		t.Fatalf("value of a version the compaction dropped: %v, want ErrLogReplaced", err)
	}
}

// TestHistoryCompactionDuringWalk compacts the store while a History walk
// is between two versions: the walk must stop with ErrLogReplaced rather
// than read the new log at the old log's offsets.
func TestHistoryCompactionDuringWalk(t *testing.T) {
	db := openDB(t, t.TempDir(), historyOpts())
	mustPut(t, db, "k", "first")
	// Enough other records that the rest of the walk needs more reads.
	filler := bytes.Repeat([]byte("f"), 1000)
	for i := range 300 {
		if err := db.Put([]byte(fmt.Sprint("filler", i%10)), filler); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, db, "k", "second")
	var seen []kv.Version
	err := db.History([]byte("k"), func(v kv.Version) bool {
		seen = append(seen, v)
		if len(seen) == 1 {
			if err := db.Compact(); err != nil {
				t.Errorf("compact: %v", err)
			}
		}
		return true
	})
	if !errors.Is(err, kv.ErrLogReplaced) {
		t.Fatalf("history across a compaction: %v (saw %d versions), want ErrLogReplaced", err, len(seen))
	}
	if len(seen) != 1 {
		t.Fatalf("saw %d versions", len(seen))
	}
	if got := describe(t, db, versions(t, db, "k")); got != "second*" {
		t.Fatalf("history after the compaction = %q", got)
	}
}

// TestHistoryCorruptRecord damages an old record in the part of the log the
// hint file covers, where Open does not read: History meets it and names it.
func TestHistoryCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, historyOpts())
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "a", "1")
	mustPut(t, db, "k", "old value")
	// More than the sync window and the hint's tie after the damage, so
	// that it is corruption in the middle, inside what the hint covers.
	filler := bytes.Repeat([]byte("f"), 1<<10)
	for range 1200 {
		if err := db.Put([]byte("filler"), filler); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, db, "k", "new value")
	vs := versions(t, db, "k")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wal.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := vs[0].Offset
	data[bad+int64(vs[0].RecordSize)-1] ^= 0xFF // the last byte of its value
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, historyOpts())
	wantValue(t, db, "k", "new value")
	err = db.History([]byte("k"), func(kv.Version) bool { return true })
	var ce *walfmt.CorruptionError
	if !errors.Is(err, walfmt.ErrCorrupt) || !errors.As(err, &ce) || ce.Offset != bad || ce.File != path {
		t.Fatalf("history over a damaged record: %v; want corruption at offset %d of %s", err, bad, path)
	}
}
