package kv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// The hint file's layout, as documented in kv/hint.go: a 4096-byte header
// whose bytes 16..23 hold the number of slots, a table of 8 bytes for each
// 256 slots padded to a multiple of 4096, then the slots, 16 bytes each,
// {offset uint64, hash uint32, size uint32}.
const hintSlot = 16

// hintSlotsAt returns where the slots of hint start.
func hintSlotsAt(hint []byte) int {
	n := int(binary.LittleEndian.Uint64(hint[16:]))
	table := (n + 255) / 256 * 8
	return 4096 + (table+4095)/4096*4096
}

var hintOpts = &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}

// hintedStore writes n keys and closes the store, which leaves a hint.
func hintedStore(t *testing.T, dir string, n int, val func(i int) string) map[string]string {
	t.Helper()
	db, err := kv.Open(dir, hintOpts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range n {
		mustPut(t, db, key(i), val(i))
		want[key(i)] = val(i)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wal.hint")); err != nil {
		t.Fatalf("no hint after Close: %v", err)
	}
	return want
}

// hintSlots returns the positions in the hint file of its occupied slots,
// with the log offsets they hold.
func hintSlots(t *testing.T, hint []byte) (pos []int, offs []int64) {
	t.Helper()
	for p := hintSlotsAt(hint); p+hintSlot <= len(hint); p += hintSlot {
		if off := binary.LittleEndian.Uint64(hint[p:]); off != 0 {
			pos, offs = append(pos, p), append(offs, int64(off))
		}
	}
	if len(pos) == 0 {
		t.Fatal("hint has no occupied slot")
	}
	return pos, offs
}

// firstHintedRecord returns the log of the store in dir, and the offset and
// key of the first record its hint points at: far from the log's end,
// which ties the hint to the log, so damage there leaves the hint in use.
func firstHintedRecord(t *testing.T, dir string) (log []byte, off int64, key string) {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(dir, "wal.log"))
	if err != nil {
		t.Fatal(err)
	}
	hint, err := os.ReadFile(filepath.Join(dir, "wal.hint"))
	if err != nil {
		t.Fatal(err)
	}
	_, offs := hintSlots(t, hint)
	off = slices.Min(offs)
	return log, off, keyAt(log, off)
}

// keyAt returns the key of the log record at off.
func keyAt(log []byte, off int64) string {
	n := binary.LittleEndian.Uint32(log[off+8:])
	return string(log[off+walfmt.RecordHeaderSize : off+walfmt.RecordHeaderSize+int64(n)])
}

// TestDamagedHintNeverAnswers flips one bit of a key's hash in the hint and
// then, right after Open, reads and deletes that key. The answers must be
// the log's: the value is there, and the delete is durable — never "not
// found" from a table that has not been checked, nor a delete that wrote
// nothing and is undone when the check rebuilds the index.
func TestDamagedHintNeverAnswers(t *testing.T) {
	for victim := range 8 {
		dir := t.TempDir()
		want := hintedStore(t, dir, 200, value)
		hintPath := filepath.Join(dir, "wal.hint")
		hint, err := os.ReadFile(hintPath)
		if err != nil {
			t.Fatal(err)
		}
		log, err := os.ReadFile(filepath.Join(dir, "wal.log"))
		if err != nil {
			t.Fatal(err)
		}
		pos, offs := hintSlots(t, hint)
		p := pos[victim*len(pos)/8]
		k := keyAt(log, offs[victim*len(pos)/8])
		hint[p+8] ^= 1 // the slot's hash
		if err := os.WriteFile(hintPath, hint, 0o644); err != nil {
			t.Fatal(err)
		}

		db, err := kv.Open(dir, hintOpts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Get([]byte(k))
		if err != nil || string(got) != want[k] {
			t.Fatalf("victim %d: right after Open, get %s = %q, %v; want %q", victim, k, got, err, want[k])
		}
		if err := db.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
		delete(want, k)
		wantContents(t, db, want)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db = openDB(t, dir, hintOpts)
		wantContents(t, db, want)
	}
}

// TestStaleHintSlotNeverAnswers points a key's slot at an older record of
// the same key (a hint whose checksum is then wrong): Get must return the
// current value, not the superseded one.
func TestStaleHintSlotNeverAnswers(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, hintOpts)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "old")
	for i := range 50 {
		mustPut(t, db, key(i), value(i))
	}
	mustPut(t, db, "k", "new")
	db.Close()
	hintPath := filepath.Join(dir, "wal.hint")
	hint, _ := os.ReadFile(hintPath)
	log, _ := os.ReadFile(filepath.Join(dir, "wal.log"))
	pos, offs := hintSlots(t, hint)
	found := false
	for i, off := range offs {
		if keyAt(log, off) == "k" {
			binary.LittleEndian.PutUint64(hint[pos[i]:], walfmt.HeaderSize) // the first record: k=old
			found = true
		}
	}
	if !found {
		t.Fatal("no slot for k")
	}
	os.WriteFile(hintPath, hint, 0o644)
	db = openDB(t, dir, hintOpts)
	wantValue(t, db, "k", "new")
}

// TestHintFromAnotherLog gives a store the hint of another store whose log
// has the same length and the same last 4 KiB: the hint must be rejected,
// and the store must hold what its own log says, before and after a
// compaction.
func TestHintFromAnotherLog(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	// Same lengths everywhere; the keys of the first half differ.
	fill := func(dir, first string) map[string]string {
		db, err := kv.Open(dir, hintOpts)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for i := range 300 {
			k := key(i)
			if i < 150 {
				k = first + k[3:]
			}
			mustPut(t, db, k, value(i))
			want[k] = value(i)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return want
	}
	fill(a, "aaa")
	want := fill(b, "bbb")
	la, _ := os.ReadFile(filepath.Join(a, "wal.log"))
	lb, _ := os.ReadFile(filepath.Join(b, "wal.log"))
	if len(la) != len(lb) || !bytes.Equal(la[len(la)-4096:], lb[len(lb)-4096:]) {
		t.Fatal("the two logs should share their length and last 4 KiB")
	}
	hint, _ := os.ReadFile(filepath.Join(a, "wal.hint"))
	if err := os.WriteFile(filepath.Join(b, "wal.hint"), hint, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(b, hintOpts)
	if err != nil {
		t.Fatal(err)
	}
	wantContents(t, db, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, b, hintOpts)
	wantContents(t, db, want)
}

// TestDamagedKeyInHintedLog flips a byte inside a stored key in the part
// of the log a hint covers. Reads and writes of that key must report the
// damage, with the file and offset; Keys must not list a key that was never
// written.
func TestDamagedKeyInHintedLog(t *testing.T) {
	dir := t.TempDir()
	want := hintedStore(t, dir, 1000, value)
	logPath := filepath.Join(dir, "wal.log")
	log, off, k := firstHintedRecord(t, dir)
	log[off+walfmt.RecordHeaderSize+int64(len(k))-1] ^= 0x01 // last byte of the key
	bad := keyAt(log, off)
	if err := os.WriteFile(logPath, log, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir, hintOpts)
	checkDamage := func(what string, err error) {
		t.Helper()
		var ce *walfmt.CorruptionError
		if !errors.Is(err, walfmt.ErrCorrupt) || !errors.As(err, &ce) || ce.Offset != off || ce.File != logPath {
			t.Fatalf("%s: got %v, want corruption at %s offset %d", what, err, logPath, off)
		}
	}
	_, err := db.Get([]byte(k))
	checkDamage("get", err)
	checkDamage("delete", db.Delete([]byte(k)))
	checkDamage("put", db.Put([]byte(k), []byte("v")))
	keys, err := db.CheckedKeys(nil)
	checkDamage("keys", err)
	// The damaged key reads as bad, another store key or none: either way
	// the damaged record must not add a key.
	for _, list := range [][]string{keys, db.Keys(nil)} {
		if slices.Contains(list, k) || len(slices.Compact(slices.Clone(list))) != len(list) {
			t.Fatalf("Keys lists the damaged record (as %q)", bad)
		}
	}
	if len(keys) != len(want)-1 {
		t.Fatalf("CheckedKeys returned %d keys, want %d", len(keys), len(want)-1)
	}
	// Every other key still reads.
	delete(want, k)
	for kk, v := range want {
		wantValue(t, db, kk, v)
	}
}

// version1Store writes, in a new directory, a log in format version 1
// (a 16-byte header) that puts a and b and deletes a.
func version1Store(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	v1 := walfmt.AppendHeader(nil)[:walfmt.HeaderSizeV1]
	v1[8] = 1
	binary.LittleEndian.PutUint32(v1[12:], walfmt.Checksum(v1[:12]))
	v1 = walfmt.AppendPut(v1, []byte("a"), []byte("1"))
	v1 = walfmt.AppendPut(v1, []byte("b"), []byte("2"))
	v1 = walfmt.AppendDelete(v1, []byte("a"))
	if err := os.WriteFile(filepath.Join(dir, "wal.log"), v1, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOldFormatLogOpens opens a log written in format version 1, with its
// 16-byte header: it reads, takes writes, and a compaction rewrites it in
// the current format.
func TestOldFormatLogOpens(t *testing.T) {
	dir := version1Store(t)
	db, err := kv.Open(dir, hintOpts)
	if err != nil {
		t.Fatal(err)
	}
	wantMissing(t, db, "a")
	wantValue(t, db, "b", "2")
	mustPut(t, db, "c", "3")
	checkAccounting(t, db) // before or after the compaction Open started
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	log, _ := os.ReadFile(filepath.Join(dir, "wal.log"))
	if h, err := walfmt.ParseHeader(log); err != nil || h.Version != walfmt.Version {
		t.Fatalf("after compaction the header is %+v, %v", h, err)
	}
	db = openDB(t, dir, hintOpts)
	wantContents(t, db, map[string]string{"b": "2", "c": "3"})
	checkAccounting(t, db)
}
