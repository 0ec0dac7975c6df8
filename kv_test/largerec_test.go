package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// A store writes records below 32 KiB through its map of the log and
// larger ones with pwrite, and reads them back the same two ways. These tests mix
// both sizes, and sizes on either side of the boundary, and check every
// way of reading a value against a model: Get, View, ReadValueAt, Entry
// and Scan, after writes, a compaction, a reopen and on a follower.

// largeModel is what the store should hold: each key's value.
type largeModel map[string][]byte

// largeValueSize draws a value size: small, 4 KiB, near 32 KiB (the
// record size from which the store keeps records out of its map), 64 KiB
// and now and then one larger than the buffers readers keep for reuse.
func largeValueSize(rng *rand.Rand) int {
	switch r := rng.IntN(20); {
	case r < 6:
		return rng.IntN(200)
	case r < 9:
		return 4 << 10
	case r < 14:
		return 32<<10 - 300 + rng.IntN(600)
	case r < 19:
		return 64<<10 + rng.IntN(100)
	default:
		return 1<<20 + rng.IntN(4096)
	}
}

// largeValue returns n bytes that differ from those of any other (i, n).
func largeValue(i, n int) []byte {
	b := make([]byte, n)
	x := uint64(i)*0x9e3779b97f4a7c15 + uint64(n) + 1
	for j := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[j] = byte(x)
	}
	return b
}

// largeKey returns key number i: a fifth of the keys are hundreds of
// bytes long, more than the store reads of a large record to find its key
// at first.
func largeKey(i int) string {
	k := fmt.Sprintf("key-%02d", i)
	if i%5 == 0 {
		k += strings.Repeat("k", 200+i*40)
	}
	return k
}

// writeLarge applies n random operations, puts of every size, deletes and
// batches, to db and to m.
func writeLarge(t *testing.T, db *kv.DB, m largeModel, rng *rand.Rand, n int) {
	t.Helper()
	for i := range n {
		k := largeKey(rng.IntN(30))
		switch rng.IntN(10) {
		case 0:
			if err := db.Delete([]byte(k)); err != nil && !errors.Is(err, kv.ErrNotFound) {
				t.Fatal(err)
			}
			delete(m, k)
		case 1:
			b := db.NewBatch()
			for j := range 3 {
				bk := largeKey(rng.IntN(30))
				v := largeValue(i*10+j, largeValueSize(rng))
				b.Put([]byte(bk), v)
				m[bk] = v
			}
			if err := db.Write(b); err != nil {
				t.Fatal(err)
			}
		default:
			v := largeValue(i, largeValueSize(rng))
			if err := db.Put([]byte(k), v); err != nil {
				t.Fatal(err)
			}
			m[k] = v
		}
	}
}

// checkLarge reads every key of m, and every key of db, every way there is.
func checkLarge(t *testing.T, db *kv.DB, m largeModel, rng *rand.Rand) {
	t.Helper()
	for k, want := range m {
		got, err := db.Get([]byte(k))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get(%s): %d bytes, %v; want %d bytes", k, len(got), err, len(want))
		}
		err = db.View([]byte(k), func(v []byte) error {
			if !bytes.Equal(v, want) {
				return fmt.Errorf("View(%s): %d bytes, want %d", k, len(v), len(want))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 1+rng.IntN(70<<10))
		off := int64(rng.IntN(len(want) + 1))
		n, size, err := db.ReadValueAt([]byte(k), p, off)
		wantN := min(len(p), len(want)-int(off))
		if size != len(want) || n != wantN || !bytes.Equal(p[:n], want[off:off+int64(n)]) ||
			(err != nil && (err != io.EOF || n == len(p))) {
			t.Fatalf("ReadValueAt(%s, %d bytes at %d): %d bytes of %d, %v; want %d of %d", k, len(p), off, n, size, err, wantN, len(want))
		}
		e, err := db.Entry([]byte(k))
		if err != nil || e.ValueSize != len(want) {
			t.Fatalf("Entry(%s): %+v, %v; want a value of %d bytes", k, e, err, len(want))
		}
	}
	var keys []string
	err := db.Scan(nil, nil, func(k, v []byte) bool {
		keys = append(keys, string(k))
		if want, ok := m[string(k)]; !ok || !bytes.Equal(v, want) {
			t.Errorf("Scan: %s has %d bytes, want %d (present %v)", k, len(v), len(want), ok)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(m) {
		t.Fatalf("Scan: %d keys, want %d", len(keys), len(m))
	}
	for k := range m {
		if !slices.Contains(keys, k) {
			t.Fatalf("Scan left out %s", k)
		}
	}
}

// TestLargeAndSmallRecordsReadBack writes records of every size, synced
// and not, and reads them back after the writes, after a compaction, on a
// follower, and after a reopen.
func TestLargeAndSmallRecordsReadBack(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(baseSeed(t), 17))
			dir := t.TempDir()
			opts := &kv.Options{NoSync: noSync, Compaction: compact.Policy{Disabled: true}}
			db := openDB(t, dir, opts)
			m := largeModel{}
			writeLarge(t, db, m, rng, 120)
			checkLarge(t, db, m, rng)

			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			checkLarge(t, db, m, rng)
			writeLarge(t, db, m, rng, 60) // into the compacted log
			checkLarge(t, db, m, rng)

			f := openDB(t, dir, &kv.Options{ReadOnly: true})
			checkLarge(t, f, m, rng)
			writeLarge(t, db, m, rng, 60)
			if err := db.Sync(); err != nil {
				t.Fatal(err)
			}
			f.Refresh()
			checkLarge(t, f, m, rng)

			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir, opts) // from the hint the Close wrote
			checkLarge(t, db, m, rng)
		})
	}
}

// TestLargeRecordDamage flips a byte of a large value on disk: every read
// of it reports corruption at the record's offset, and the other values
// read back.
func TestLargeRecordDamage(t *testing.T) {
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db := openDB(t, dir, opts)
	for i := range 4 {
		if err := db.Put([]byte(key(i)), largeValue(i, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := db.Entry([]byte(key(2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	damageLog(t, dir, func(log []byte) { log[e.Offset+int64(e.RecordSize)/2] ^= 1 })
	db = openDB(t, dir, opts)
	k := []byte(key(2))
	wantCorrupt := func(what string, err error) {
		t.Helper()
		var ce *walfmt.CorruptionError
		if !errors.As(err, &ce) || ce.Offset != e.Offset || !errors.Is(err, walfmt.ErrCorrupt) {
			t.Fatalf("%s of a damaged large record: %v, want corruption at offset %d", what, err, e.Offset)
		}
	}
	_, err = db.Get(k)
	wantCorrupt("Get", err)
	wantCorrupt("View", db.View(k, func([]byte) error { return nil }))
	_, _, err = db.ReadValueAt(k, make([]byte, 10), 0)
	wantCorrupt("ReadValueAt", err)
	for _, i := range []int{0, 1, 3} {
		got, err := db.Get([]byte(key(i)))
		if err != nil || !bytes.Equal(got, largeValue(i, 64<<10)) {
			t.Fatalf("Get(%s) beside a damaged record: %v", key(i), err)
		}
	}
}
