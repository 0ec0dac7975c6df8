package kv_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// Tests of a hostile environment: a read-only or full disk, a temporary
// file that cannot be created, failing syncs and renames, a second process,
// a data directory that is a file. Faults come from faultFS over the real
// file system, so they work as root too (root ignores permissions). In each
// case the error must be clear, the store must stay readable, and nothing
// acknowledged may be lost.

// faultStore opens a store in a fresh directory through a faultFS over the
// OS file system, with a few keys written, automatic compaction off.
func faultStore(t *testing.T) (*kv.DB, *faultFS, string, state) {
	t.Helper()
	dir := t.TempDir()
	ffs := newFaultFS(kv.DefaultFS())
	db, err := kv.Open(dir, &kv.Options{FS: ffs, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	want := state{}
	for i := range 20 {
		k, v := fmt.Sprintf("key-%02d", i%8), fmt.Sprintf("value-%02d", i)
		if err := db.Put([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	return db, ffs, dir, want
}

// checkReads checks that db still serves want.
func checkReads(t *testing.T, db *kv.DB, want state, what string) {
	t.Helper()
	if d := diffState(readState(t, db), want); d != "" {
		t.Errorf("%s: reads differ:\n%s", what, d)
	}
}

// checkReopen closes db, reopens dir on the OS file system, and checks
// that it holds want, that no torn tail was left, and that no temporary
// file remains.
func checkReopen(t *testing.T, db *kv.DB, dir string, want state, what string) {
	t.Helper()
	db.Close()
	got, st, err := openState(t, dir, nil)
	if err != nil {
		t.Fatalf("%s: reopen: %v", what, err)
	}
	if d := diffState(got, want); d != "" {
		t.Errorf("%s: after reopen:\n%s", what, d)
	}
	if st.TruncatedBytes != 0 {
		t.Errorf("%s: reopen cut %d torn bytes: a failed write left a partial record", what, st.TruncatedBytes)
	}
	if left := leftovers(dirNames(t, dir)); len(left) > 0 {
		t.Errorf("%s: temporary files left: %v", what, left)
	}
}

// checkErr checks that err wraps errno and names the file.
func checkErr(t *testing.T, err error, errno syscall.Errno, file, what string) {
	t.Helper()
	if !errors.Is(err, errno) || !strings.Contains(err.Error(), file) {
		t.Errorf("%s: error %v, want %v naming %s", what, err, errno, file)
	}
}

// readOnlyFS makes every change fail with EROFS, as a file system
// remounted read-only does, while reads still work.
func readOnlyFS(op fsOp, name string, flag int) error {
	switch op {
	case opOpen:
		if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) != 0 {
			return syscall.EROFS
		}
	case opRemove:
		if _, err := os.Stat(name); err != nil {
			return nil // the real call reports ENOENT first
		}
		return syscall.EROFS
	case opWrite, opTruncate, opRename, opMkdir:
		return syscall.EROFS
	}
	return nil
}

func TestReadOnlyFileSystem(t *testing.T) {
	db, ffs, dir, want := faultStore(t)
	ffs.SetInject(readOnlyFS)

	err := db.Compact()
	checkErr(t, err, syscall.EROFS, "wal.log.compact", "Compact")
	err = db.Put([]byte("new"), []byte("value"))
	checkErr(t, err, syscall.EROFS, "wal.log", "Put")
	checkReads(t, db, want, "read-only file system")

	db.Close()
	_, err = kv.Open(dir, &kv.Options{FS: ffs})
	checkErr(t, err, syscall.EROFS, "wal.log", "Open for writing")
	ro, err := kv.Open(dir, &kv.Options{FS: ffs, ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only on a read-only file system: %v", err)
	}
	checkReads(t, ro, want, "read-only open")
	if rep, err := kv.VerifyFS(ffs, dir); err != nil || !rep.Clean() || rep.Keys != len(want) {
		t.Errorf("Verify on a read-only file system: %+v, %v", rep, err)
	}
	ffs.SetInject(nil)
	checkReopen(t, ro, dir, want, "read-only file system")
}

// TestReadOnlyDirectory uses real permissions, which only bind a user
// other than root.
func TestReadOnlyDirectory(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs Unix permissions and a user other than root; TestReadOnlyFileSystem covers root")
	}
	dir := t.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	err = db.Compact()
	checkErr(t, err, syscall.EACCES, "wal.log.compact", "Compact in a read-only directory")
	if err := db.Put([]byte("k2"), []byte("v2")); err != nil {
		t.Errorf("Put into an existing log of a read-only directory: %v", err)
	}
	db.Close()
	sub := filepath.Join(dir, "sub")
	_, err = kv.Open(sub, nil)
	checkErr(t, err, syscall.EACCES, "sub", "Open creating a directory inside a read-only one")
	ro, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open: %v", err)
	}
	checkReads(t, ro, state{"k": "v", "k2": "v2"}, "read-only directory")
	ro.Close()
}

// diskFull returns an inject function that lets budget bytes' worth of
// writes to files ending in suffix through and fails the rest with
// ENOSPC, writing half of the failing write first, as a full disk does.
func diskFull(suffix string, budget int) func(fsOp, string, int) error {
	var left atomic.Int64
	left.Store(int64(budget))
	return func(op fsOp, name string, flag int) error {
		if op == opWrite && strings.HasSuffix(name, suffix) && left.Add(-1) < 0 {
			return shortWrite{syscall.ENOSPC}
		}
		return nil
	}
}

func TestDiskFull(t *testing.T) {
	db, ffs, dir, want := faultStore(t)
	ffs.SetInject(diskFull("wal.log", 0))
	err := db.Put([]byte("key-00"), []byte("lost"))
	checkErr(t, err, syscall.ENOSPC, "wal.log", "Put on a full disk")
	checkReads(t, db, want, "full disk")

	// Space comes back: the failed write left no partial record behind.
	ffs.SetInject(nil)
	if err := db.Put([]byte("after"), []byte("space freed")); err != nil {
		t.Fatalf("Put after space is freed: %v", err)
	}
	want["after"] = "space freed"
	checkReads(t, db, want, "space freed")
	checkReopen(t, db, dir, want, "full disk")
}

func TestDiskFullDuringCompaction(t *testing.T) {
	db, ffs, dir, want := faultStore(t)
	ffs.SetInject(diskFull(".compact", 0))
	err := db.Compact()
	checkErr(t, err, syscall.ENOSPC, "wal.log.compact", "Compact on a full disk")
	checkReads(t, db, want, "after the failed compaction")
	if err := db.Put([]byte("more"), []byte("data")); err != nil {
		t.Fatalf("Put after a failed compaction: %v", err)
	}
	want["more"] = "data"
	ffs.SetInject(nil)
	if err := db.Compact(); err != nil {
		t.Fatalf("Compact once there is space: %v", err)
	}
	checkReopen(t, db, dir, want, "full disk during compaction")
}

// failOp returns an inject function that fails every op on files ending in
// suffix with err.
func failOp(op fsOp, suffix string, err error) func(fsOp, string, int) error {
	return func(o fsOp, name string, flag int) error {
		if o == op && strings.HasSuffix(name, suffix) && (o != opOpen || flag&os.O_CREATE != 0) {
			return err
		}
		return nil
	}
}

// failNthOp fails the n-th operation op on a file whose name ends in
// suffix.
func failNthOp(op fsOp, suffix string, n int, err error) func(fsOp, string, int) error {
	var seen atomic.Int64
	match := failOp(op, suffix, err)
	return func(o fsOp, name string, flag int) error {
		if match(o, name, flag) != nil && int(seen.Add(1)) == n {
			return err
		}
		return nil
	}
}

// TestCompactionDirSyncBeforeSwap fails the directory sync that makes the
// old hint's removal durable: the compaction stops before the rename, and
// the old log stays in use.
func TestCompactionDirSyncBeforeSwap(t *testing.T) {
	db, ffs, dir, want := faultStore(t)
	ffs.SetInject(failNthOp(opSyncDir, "", 1, syscall.EIO))
	if err := db.Compact(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Compact: %v, want EIO", err)
	}
	ffs.SetInject(nil)
	checkReads(t, db, want, "after the failed compaction")
	if err := db.Put([]byte("more"), []byte("data")); err != nil {
		t.Fatalf("Put after a failed compaction: %v", err)
	}
	want["more"] = "data"
	checkReopen(t, db, dir, want, "after the failed compaction")
}

// TestCompactionFaults fails each step of a compaction in turn. The old log
// stays in place and in use, with everything in it.
func TestCompactionFaults(t *testing.T) {
	tests := []struct {
		name   string
		op     fsOp
		suffix string
		err    syscall.Errno
	}{
		{"temporary file cannot be created", opOpen, "wal.log.compact", syscall.EACCES},
		{"sync of the temporary file fails", opSync, "wal.log.compact", syscall.EIO},
		{"rename fails", opRename, "wal.log", syscall.EXDEV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, ffs, dir, want := faultStore(t)
			ffs.SetInject(failOp(tt.op, tt.suffix, tt.err))
			err := db.Compact()
			checkErr(t, err, tt.err, "wal.log", "Compact")
			checkReads(t, db, want, tt.name)
			if err := db.Put([]byte("more"), []byte("data")); err != nil {
				t.Fatalf("Put after a failed compaction: %v", err)
			}
			want["more"] = "data"
			ffs.SetInject(nil)
			checkReopen(t, db, dir, want, tt.name)
		})
	}
}

// TestSyncFailures fails an fsync. After a failed sync of the log the
// kernel may have dropped the data, so the store must refuse further writes
// (and say why) while still serving reads; after a failed directory sync
// the new log's name may not be durable, so the same holds.
func TestSyncFailures(t *testing.T) {
	tests := []struct {
		name   string
		op     fsOp
		suffix string
		write  func(*kv.DB) error
		nth    int
	}{
		{"log sync", opSync, "wal.log", func(db *kv.DB) error { return db.Put([]byte("x"), []byte("y")) }, 1},
		// A compaction syncs the directory twice: once after removing the
		// old hint (a failure there leaves the old log in use, see
		// TestCompactionDirSyncBeforeSwap), then after the rename.
		{"directory sync after compaction", opSyncDir, "", func(db *kv.DB) error { return db.Compact() }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, ffs, dir, want := faultStore(t)
			ffs.SetInject(failNthOp(tt.op, tt.suffix, tt.nth, syscall.EIO))
			err := tt.write(db)
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("error %v, want EIO", err)
			}
			ffs.SetInject(nil)
			err = db.Put([]byte("later"), []byte("write"))
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "reopen") {
				t.Errorf("Put after a failed sync: %v; want a refusal that wraps EIO and says to reopen", err)
			}
			checkReads(t, db, want, tt.name)
			db.Close()
			got, _, err := openState(t, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The write whose sync failed may or may not be there.
			delete(got, "x")
			if d := diffState(got, want); d != "" {
				t.Errorf("after reopen:\n%s", d)
			}
		})
	}
}

func TestDataDirIsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, []byte("a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		_, err := kv.Open(path, &kv.Options{ReadOnly: ro})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("Open(ReadOnly %v) of a file: %v; want an error naming it and saying it is not a directory", ro, err)
		}
	}
	if _, err := kv.Verify(path); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Verify of a file: %v", err)
	}
	if _, err := kv.Repair(path); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Repair of a file: %v", err)
	}
	if _, err := kv.Verify(filepath.Join(path + "-missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Verify of a missing directory: %v, want ErrNotExist", err)
	}
}

// lockChildEnv makes TestLockChild try to open the directory it names.
const lockChildEnv = "CRABKV_LOCK_CHILD"

// TestLockChild is the second process of TestSecondProcess: it tries every
// way of opening the directory and prints what happened to each.
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestSecondProcess")
	}
	report := func(what string, err error, took time.Duration) {
		res := "ok"
		switch {
		case errors.Is(err, kv.ErrLocked):
			res = "locked"
		case err != nil:
			res = "error: " + err.Error()
		}
		fmt.Printf("%s: %s in %s\n", what, res, took.Round(time.Millisecond))
	}
	for _, ro := range []bool{false, true} {
		start := time.Now()
		db, err := kv.Open(dir, &kv.Options{ReadOnly: ro})
		report(fmt.Sprintf("open ReadOnly=%v", ro), err, time.Since(start))
		if err == nil {
			db.Close()
		}
	}
	start := time.Now()
	_, err := kv.Verify(dir)
	report("verify", err, time.Since(start))
	start = time.Now()
	_, err = kv.Repair(dir)
	report("repair", err, time.Since(start))
}

// TestSecondProcess holds a store open and has a second process try to
// open it: against a writer, a second writer and Repair fail at once with
// ErrLocked while readers and Verify share it; a reader takes no lock,
// so everything may open beside it.
func TestSecondProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("re-executes the test binary with Unix conventions")
	}
	tests := []struct {
		holder kv.Options
		want   []string
	}{
		{kv.Options{}, []string{"open ReadOnly=false: locked", "open ReadOnly=true: ok", "verify: ok", "repair: locked"}},
		{kv.Options{ReadOnly: true}, []string{"open ReadOnly=false: ok", "open ReadOnly=true: ok", "verify: ok", "repair: ok"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("holder ReadOnly=%v", tt.holder.ReadOnly), func(t *testing.T) {
			dir := t.TempDir()
			db, err := kv.Open(dir, nil)
			if err == nil {
				err = db.Put([]byte("k"), []byte("v"))
			}
			if err == nil {
				err = db.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			holder, err := kv.Open(dir, &tt.holder)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$")
			cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			for _, w := range tt.want {
				i := strings.Index(string(out), w+" in ")
				if i < 0 {
					t.Errorf("child output lacks %q:\n%s", w, out)
					continue
				}
				var took time.Duration
				line := strings.SplitN(string(out[i+len(w)+4:]), "\n", 2)[0]
				if took, err = time.ParseDuration(line); err != nil || took > time.Second {
					t.Errorf("%s took %s (%v): a lock must fail at once, not wait", w, line, err)
				}
			}
		})
	}
}
