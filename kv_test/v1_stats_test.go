package kv_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestStatsAccountingOfVersion1Log opens a version 1 log read only, where
// no compaction rewrites it. Stats documents LiveBytes + StaleBytes +
// walfmt.HeaderSize == LogBytes, and a caller has no way to learn that the
// log's header is another size (nor, writable, when the compaction Open
// starts has changed it).
func TestStatsAccountingOfVersion1Log(t *testing.T) {
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
	db := openDB(t, dir, &kv.Options{ReadOnly: true})
	wantValue(t, db, "b", "2")
	checkAccounting(t, db)
}
