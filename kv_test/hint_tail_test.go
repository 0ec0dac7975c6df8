package kv_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// appendRecords appends records to the log in dir without the engine, as a
// process that wrote them and died before it could Close would leave them.
func appendRecords(t *testing.T, dir string, recs []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "wal.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSoundHintSurvivesReplayedTail opens a store whose log continues past
// the sound hint Close left: a process appended a record and died. Open
// replays that record into the table it loaded from the hint; the check of
// the hint's slots must not then take the table, changed by the replay, for
// a damaged hint: the hint stays, and no rebuild from the log replaces the
// index.
func TestSoundHintSurvivesReplayedTail(t *testing.T) {
	dir := t.TempDir()
	want := hintedStore(t, dir, 200, value)
	appendRecords(t, dir, walfmt.AppendPut(nil, []byte("tail"), []byte("after the hint")))
	want["tail"] = "after the hint"

	db := openDB(t, dir, hintOpts)
	wantValue(t, db, "tail", "after the hint")
	if _, err := os.Stat(filepath.Join(dir, "wal.hint")); err != nil {
		t.Errorf("a sound hint was thrown away by Open: %v", err)
	}
	wantContents(t, db, want)
}

// TestHintedDamageStaysLocalWithTail damages one record at rest in the part
// of the log a hint covers, and leaves a record after the hint, as a process
// that died after a write would. Damage there is found "by the first read
// of the damaged record" (see Open): reads of the damaged key report it,
// every other key still reads, and writes are taken. The store must not be
// failed as a whole because the replay of the tail changed the hint's table.
func TestHintedDamageStaysLocalWithTail(t *testing.T) {
	dir := t.TempDir()
	want := hintedStore(t, dir, 200, value)
	logPath := filepath.Join(dir, "wal.log")
	log, off, k := firstHintedRecord(t, dir)
	log[off+walfmt.RecordHeaderSize+int64(len(k))] ^= 0x01 // first byte of the value
	if err := os.WriteFile(logPath, log, 0o644); err != nil {
		t.Fatal(err)
	}
	appendRecords(t, dir, walfmt.AppendPut(nil, []byte("tail"), []byte("after the hint")))
	delete(want, k)
	want["tail"] = "after the hint"

	db := openDB(t, dir, hintOpts)
	if _, err := db.Get([]byte(k)); !errors.Is(err, walfmt.ErrCorrupt) {
		t.Fatalf("Get of the damaged key: %v, want corruption", err)
	}
	for kk, v := range want {
		got, err := db.Get([]byte(kk))
		if err != nil || string(got) != v {
			t.Fatalf("Get(%q) = %q, %v; want %q: damage in one record failed the whole store", kk, got, err, v)
		}
	}
	if err := db.Put([]byte("new"), []byte("1")); err != nil {
		t.Fatalf("Put after damage in one hinted record: %v", err)
	}
}
