package kv_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// openDB opens a store in dir and closes it at the end of the test.
func openDB(tb testing.TB, dir string, opts *kv.Options) *kv.DB {
	tb.Helper()
	db, err := kv.Open(dir, opts)
	if err != nil {
		tb.Fatalf("open %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return db
}

func mustPut(tb testing.TB, db *kv.DB, key, value string) {
	tb.Helper()
	if err := db.Put([]byte(key), []byte(value)); err != nil {
		tb.Fatalf("put %q: %v", key, err)
	}
}

// wantValue checks that key reads value.
func wantValue(tb testing.TB, db *kv.DB, key, value string) {
	tb.Helper()
	got, err := db.Get([]byte(key))
	if err != nil {
		tb.Fatalf("get %q: %v", key, err)
	}
	if string(got) != value {
		tb.Fatalf("get %q = %q, want %q", key, got, value)
	}
}

func wantMissing(tb testing.TB, db *kv.DB, key string) {
	tb.Helper()
	if v, err := db.Get([]byte(key)); !errors.Is(err, kv.ErrNotFound) {
		tb.Fatalf("get %q = %q, %v; want ErrNotFound", key, v, err)
	}
}

// wantContents checks that db holds exactly the keys and values of want.
func wantContents(tb testing.TB, db *kv.DB, want map[string]string) {
	tb.Helper()
	keys := db.Keys(nil)
	if len(keys) != len(want) {
		tb.Fatalf("store has %d keys, want %d", len(keys), len(want))
	}
	for k, v := range want {
		wantValue(tb, db, k, v)
	}
	if st := db.Stats(); st.Keys != len(want) {
		tb.Fatalf("Stats.Keys = %d, want %d", st.Keys, len(want))
	}
}

// checkAccounting checks the invariant LiveBytes + StaleBytes + header ==
// LogBytes, and that LogBytes is the size of the file.
func checkAccounting(tb testing.TB, db *kv.DB) kv.Stats {
	tb.Helper()
	st := db.Stats()
	if st.HeaderBytes != walfmt.HeaderSize && st.HeaderBytes != walfmt.HeaderSizeV1 {
		tb.Fatalf("header of %d bytes", st.HeaderBytes)
	}
	if st.LiveBytes+st.StaleBytes+st.HeaderBytes != st.LogBytes {
		tb.Fatalf("live %d + stale %d + header %d != log %d", st.LiveBytes, st.StaleBytes, st.HeaderBytes, st.LogBytes)
	}
	fi, err := os.Stat(filepath.Join(db.Dir(), "wal.log"))
	if err != nil {
		tb.Fatal(err)
	}
	// The file may hold zeros reserved past the log, until Close trims them.
	if fi.Size() < st.LogBytes {
		tb.Fatalf("wal.log is %d bytes, Stats.LogBytes %d", fi.Size(), st.LogBytes)
	}
	return st
}

func key(i int) string   { return fmt.Sprintf("key-%06d", i) }
func value(i int) string { return fmt.Sprintf("value-%d-%0*d", i, i%50, 0) }

// damageLog lets damage change bytes of the log of the closed store in
// dir, in place, as a fault of the disk would, and writes the log back.
func damageLog(tb testing.TB, dir string, damage func(log []byte)) {
	tb.Helper()
	path := filepath.Join(dir, "wal.log")
	log, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	damage(log)
	if err := os.WriteFile(path, log, 0o644); err != nil {
		tb.Fatal(err)
	}
}
