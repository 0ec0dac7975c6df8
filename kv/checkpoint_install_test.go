package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/compact"
)

// TestCheckpointCutShortBetweenItsRenames crashes a checkpoint after it
// put its sidecar in place and before its hint: the finished hint is still
// under its temporary name, and the hint in place no longer pairs with the
// sidecar. The next writable Open must put the finished hint in place and
// replay only the log after it, not all of it, and hold every key.
func TestCheckpointCutShortBetweenItsRenames(t *testing.T) {
	db, dir, want := ckptStore(t, 20_000)
	want["key-000001"] = "starts a checkpoint"
	runCheckpoint(t, db, "key-000001", func(int) {})
	for i := range 2_000 {
		ckptPut(t, db, want, fmt.Sprintf("after-%05d", i), "v", i%10 == 0)
	}
	var crashed string
	db.testHookInstall = func() { crashed = copyDir(t, dir) }
	want["key-000002"] = "starts a checkpoint"
	runCheckpoint(t, db, "key-000002", func(int) {})
	if crashed == "" {
		t.Fatal("the checkpoint did not reach its install")
	}
	if _, err := os.Stat(filepath.Join(crashed, checkpointTemp)); err != nil {
		t.Fatalf("the crash copy has no finished hint under its temporary name: %v", err)
	}
	logBytes := db.Stats().LogBytes
	c, err := Open(crashed, &Options{Compaction: compact.Policy{Disabled: true}, Clock: ckptClock})
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if st.ReplayedBytes > logBytes/100 {
		t.Errorf("Open replayed %d bytes of a %d-byte log: the finished hint was not used", st.ReplayedBytes, logBytes)
	}
	for _, name := range []string{checkpointTemp, checkpointExpTemp} {
		if _, err := os.Stat(filepath.Join(crashed, name)); !os.IsNotExist(err) {
			t.Errorf("%s left after Open: %v", name, err)
		}
	}
	checkCrashCopy(t, crashed, want, 0)
}

// TestCheckpointCutShortWhileWriting crashes a checkpoint while it writes
// its hint: the previous checkpoint's hint and sidecar are still in place
// and pair, and the next Open must use them (replaying the log after
// them), not the half-written file.
func TestCheckpointCutShortWhileWriting(t *testing.T) {
	db, dir, want := ckptStore(t, 20_000)
	want["key-000001"] = "starts a checkpoint"
	runCheckpoint(t, db, "key-000001", func(int) {})
	h, _ := readHintFile(t, dir)
	for i := range 2_000 {
		ckptPut(t, db, want, fmt.Sprintf("after-%05d", i), "v", i%10 == 0)
	}
	var crashed string
	want["key-000002"] = "starts a checkpoint"
	runCheckpoint(t, db, "key-000002", func(passed int) {
		if passed > 0 && crashed == "" {
			crashed = copyDir(t, dir)
		}
	})
	if crashed == "" {
		t.Fatal("the checkpoint wrote no batch")
	}
	if _, err := os.Stat(filepath.Join(crashed, checkpointTemp)); err != nil {
		t.Fatalf("the crash copy has no hint being written: %v", err)
	}
	c, err := Open(crashed, &Options{Compaction: compact.Policy{Disabled: true}, Clock: ckptClock})
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if want := db.Stats().LogBytes - h.covered; st.ReplayedBytes != want {
		t.Errorf("Open replayed %d bytes, want %d: the log after the hint in place", st.ReplayedBytes, want)
	}
	checkCrashCopy(t, crashed, want, 0)
}

// copyDir copies the files of dir, as the page cache holds them (a killed
// process's), into a new directory, and returns it. The lock file stays.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "LOCK" && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return copyFiles(t, dir, names)
}
