package kv

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crabkv/crabkv/walfmt"
)

// writeRecords writes a log of records built by add to dir and returns its
// bytes and the offset of each record.
func writeRecords(tb testing.TB, dir string, add func(b []byte, i int) []byte, n int) ([]byte, []int64) {
	tb.Helper()
	b := walfmt.AppendHeader(nil)
	var offs []int64
	for i := range n {
		offs = append(offs, int64(len(b)))
		b = add(b, i)
	}
	if err := os.WriteFile(filepath.Join(dir, logName), b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return b, offs
}

func putAt(b []byte, i int) []byte {
	key := []byte{'k', byte('a' + i%5)}
	if i%4 == 3 {
		return walfmt.AppendDelete(b, key)
	}
	return walfmt.AppendPut(b, key, bytes.Repeat([]byte{byte('0' + i%10)}, i))
}

func TestVerifyCountsMatchStats(t *testing.T) {
	dir := t.TempDir()
	writeRecords(t, dir, putAt, 20)
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := db.Stats()
	if !rep.Clean() || rep.Records != 20 || rep.Puts != 15 || rep.Deletes != 5 ||
		rep.Keys != st.Keys || rep.LiveBytes != st.LiveBytes || rep.StaleBytes != st.StaleBytes || rep.LogBytes != st.LogBytes {
		t.Errorf("Verify = %+v; Stats = %+v", rep, st)
	}
}

func TestRepairLeavesCleanLogAlone(t *testing.T) {
	dir := t.TempDir()
	data, _ := writeRecords(t, dir, putAt, 10)
	rep, err := Repair(dir)
	if err != nil || rep.Repaired() || rep.Salvaged != 10 || len(rep.Lost) != 0 {
		t.Fatalf("Repair of a clean log = %+v, %v", rep, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, logName)); !bytes.Equal(b, data) {
		t.Error("Repair changed a clean log")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("Repair of a clean log left %d files, want wal.log and LOCK", len(ents))
	}
}

// TestRepairSpans damages two records in the middle and the tail, and
// checks each span, the backup name, and a leftover temporary file.
//
// The record before the last is larger than walfmt.SyncWindow, so that the
// damage before it is corruption and not what a crash can leave.
func TestRepairSpans(t *testing.T) {
	dir := t.TempDir()
	data, offs := writeRecords(t, dir, func(b []byte, i int) []byte {
		if i == 10 {
			return walfmt.AppendPut(b, []byte("big"), make([]byte, walfmt.SyncWindow))
		}
		return putAt(b, i)
	}, 12)
	data[offs[2]+4] = 9       // unknown kind
	data[offs[7]] ^= 1        // checksum
	data = data[:len(data)-3] // torn tail in the last record
	path := filepath.Join(dir, logName)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The damaged log's index hint goes; a leftover from an earlier,
	// interrupted repair is replaced.
	if err := os.WriteFile(filepath.Join(dir, hintName), []byte("stale hint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, repairName), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	taken := filepath.Join(dir, "wal.log.broken-20250304T050607Z")
	if err := os.WriteFile(taken, []byte("an earlier backup"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := repairAt(DefaultFS(), dir, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []Span{
		{Offset: offs[2], Length: offs[3] - offs[2], Reason: "unknown record kind"},
		{Offset: offs[7], Length: offs[8] - offs[7], Reason: "checksum mismatch"},
		{Offset: offs[11], Length: int64(len(data)) - offs[11], Reason: "incomplete record header", Torn: true},
	}
	if len(rep.Lost) != len(want) {
		t.Fatalf("lost %+v, want %+v", rep.Lost, want)
	}
	for i := range want {
		if rep.Lost[i] != want[i] {
			t.Errorf("span %d = %+v, want %+v", i, rep.Lost[i], want[i])
		}
	}
	if rep.Salvaged != 9 || rep.Backup != taken+"-1" || rep.OldBytes != int64(len(data)) {
		t.Errorf("Repair = %+v", rep)
	}
	if b, _ := os.ReadFile(taken + "-1"); !bytes.Equal(b, data) {
		t.Error("the backup does not hold the damaged log")
	}
	if b, _ := os.ReadFile(taken); string(b) != "an earlier backup" {
		t.Error("an earlier backup was overwritten")
	}
	for _, name := range []string{repairName, hintName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there: %v", name, err)
		}
	}
	after, err := Verify(dir)
	if err != nil || !after.Clean() || after.Records != 9 || after.LogBytes != rep.NewBytes || after.Keys != rep.Keys {
		t.Errorf("Verify after Repair = %+v, %v; Repair said %+v", after, err, rep)
	}
}

func TestRepairMissingLog(t *testing.T) {
	if _, err := Repair(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Repair of a directory without a log: %v, want not-exist", err)
	}
}

// Verify reads no clock, and says how many of its keys carry an expiry,
// so that crabkv verify can say why its count differs from stats'.
func TestVerifyCountsExpiring(t *testing.T) {
	dir := t.TempDir()
	past := time.Now().Add(-time.Hour).UnixNano()
	writeRecords(t, dir, func(b []byte, i int) []byte {
		key := []byte{'k', byte('a' + i)}
		if i == 0 {
			return walfmt.AppendPut(b, key, []byte("stays"))
		}
		return walfmt.AppendPutExpiring(b, key, []byte("x"), past)
	}, 4)
	rep, err := Verify(dir)
	if err != nil || rep.Keys != 4 || rep.Expiring != 3 {
		t.Fatalf("Verify: %d keys, %d expiring, %v; want 4 and 3", rep.Keys, rep.Expiring, err)
	}
}
