package kv_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestEntryOfDamagedHintedRecord damages the value length of a record in
// the part of the log a hint covers, where no checksum has been read. Entry
// must not answer from the damaged header: it reports the damage, or at
// least a value size that agrees with the record's size, as Get would.
func TestEntryOfDamagedHintedRecord(t *testing.T) {
	dir := t.TempDir()
	hintedStore(t, dir, 200, value)
	logPath := filepath.Join(dir, "wal.log")
	log, _ := os.ReadFile(logPath)
	hint, _ := os.ReadFile(filepath.Join(dir, "wal.hint"))
	_, offs := hintSlots(t, hint)
	off := slices.Min(offs)
	k := keyAt(log, off)
	vl := binary.LittleEndian.Uint32(log[off+12:])
	binary.LittleEndian.PutUint32(log[off+12:], vl+1000)
	if err := os.WriteFile(logPath, log, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir, hintOpts)
	if _, err := db.Get([]byte(k)); !errors.Is(err, walfmt.ErrCorrupt) {
		t.Fatalf("Get: %v, want corruption", err)
	}
	e, err := db.Entry([]byte(k))
	if err == nil && e.RecordSize != walfmt.RecordSize(len(k), e.ValueSize) {
		t.Fatalf("Entry = %+v from a damaged record: value size %d does not fit record size %d", e, e.ValueSize, e.RecordSize)
	}
}
