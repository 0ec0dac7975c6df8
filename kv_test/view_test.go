package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestViewMatchesGet checks View against Get for values from empty to
// 64 KiB, a missing key, fn's error, and a value kept only as a copy
// across a compaction that moves every record.
func TestViewMatchesGet(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, hintOpts)
	sizes := []int{0, 1, 100, 4096, 64 << 10}
	for i, n := range sizes {
		mustPut(t, db, key(i), string(bytes.Repeat([]byte{byte('a' + i)}, n)))
		mustPut(t, db, key(100+i), "stale")
		mustPut(t, db, key(100+i), "stale again")
	}
	check := func(when string) {
		for i := range sizes {
			want, err := db.Get([]byte(key(i)))
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			err = db.View([]byte(key(i)), func(v []byte) error {
				got = append([]byte(nil), v...)
				return nil
			})
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: View %s = %d bytes, %v; Get has %d", when, key(i), len(got), err, len(want))
			}
		}
	}
	check("before compaction")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
	if err := db.View([]byte("missing"), func([]byte) error { return nil }); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("View of a missing key: %v", err)
	}
	mine := errors.New("mine")
	if err := db.View([]byte(key(2)), func([]byte) error { return mine }); !errors.Is(err, mine) {
		t.Fatalf("View returned %v, want fn's error", err)
	}
	if err := db.View(nil, func([]byte) error { return nil }); !errors.Is(err, kv.ErrEmptyKey) {
		t.Fatalf("View of an empty key: %v", err)
	}
}

// TestViewDuringCompactionAndWrites runs Views beside writers and
// compactions that remap and swap the log: every value fn sees must be
// whole and the key's own, for the whole of fn.
func TestViewDuringCompactionAndWrites(t *testing.T) {
	db := openDB(t, t.TempDir(), hintOpts)
	val := func(k string, gen int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("%s/%d|", k, gen)), 200) }
	for i := range 50 {
		if err := db.Put([]byte(key(i)), val(key(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		for gen := 1; gen <= 40; gen++ {
			for i := range 50 {
				if err := db.Put([]byte(key(i)), val(key(i), gen)); err != nil {
					done <- err
					return
				}
			}
			if err := db.Compact(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for n := 0; ; n++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return
		default:
		}
		k := key(n % 50)
		err := db.View([]byte(k), func(v []byte) error {
			unit := v[:bytes.IndexByte(v, '|')+1]
			if !bytes.HasPrefix(unit, []byte(k+"/")) || !bytes.Equal(v, bytes.Repeat(unit, 200)) {
				return fmt.Errorf("View %s saw %.40q...", k, v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestViewOfDamagedRecord flips a byte of a value in the part of the log a
// hint covers, far from its end, where Open reads no checksum: View
// reports the damage and never calls fn.
func TestViewOfDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, &kv.Options{NoSync: true})
	mustPut(t, db, "k", "a value long enough to find")
	for i := range 200 {
		mustPut(t, db, key(i), value(i))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	damageLog(t, dir, func(log []byte) { log[bytes.Index(log, []byte("long"))] ^= 1 })
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err == nil {
		defer db.Close()
		err = db.View([]byte("k"), func([]byte) error {
			t.Fatal("fn called with a damaged value")
			return nil
		})
	}
	if !errors.Is(err, walfmt.ErrCorrupt) {
		t.Fatalf("got %v, want corruption", err)
	}
}
