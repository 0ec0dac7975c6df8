//go:build unix

package kv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/crabkv/crabkv/compact"
)

// cutStore opens a store in dir with compaction on demand only, cutting a
// replaced log 64 KiB at a time, and fills it with about 2 MiB of records,
// half of them stale. cuts collects the sizes the old log is cut to.
func cutStore(t *testing.T, dir string, opts *Options) (db *DB, cuts func() []int64) {
	t.Helper()
	o := Options{Compaction: compact.Policy{Disabled: true}}
	if opts != nil {
		o = *opts
		o.Compaction.Disabled = true
	}
	db, err := Open(dir, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var mu sync.Mutex
	var sizes []int64
	db.freeStep = 64 << 10
	db.testHookCut = func(size int64) {
		mu.Lock()
		sizes = append(sizes, size)
		mu.Unlock()
	}
	b := db.NewBatch()
	for round := range 2 {
		for i := range 8000 {
			b.Put(fmt.Appendf(nil, "key%05d", i), bytes.Repeat([]byte{byte(round), byte(i)}, 60))
			if b.Len() == 500 {
				if err := db.Write(b); err != nil {
					t.Fatal(err)
				}
				b.Reset()
			}
		}
	}
	return db, func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int64(nil), sizes...)
	}
}

// TestCompactionCutsTheOldLogInSteps: a log nothing else reads is freed a
// step at a time after the compaction that replaced it, down to nothing,
// so that no journal commit frees it all at once.
func TestCompactionCutsTheOldLogInSteps(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("nosync=%v", noSync), func(t *testing.T) {
			db, cuts := cutStore(t, t.TempDir(), &Options{NoSync: noSync})
			old := db.Stats().LogBytes
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			got := cuts()
			if want := int(old / (64 << 10)); len(got) < want {
				t.Fatalf("the old log of %d bytes was cut %d times (%v), want %d or more", old, len(got), got, want)
			}
			for i, size := range got {
				if i > 0 && size >= got[i-1] {
					t.Fatalf("cuts %v do not shrink the log", got)
				}
			}
			if last := got[len(got)-1]; last != 0 {
				t.Fatalf("the last cut left %d bytes", last)
			}
			wantValues(t, db, 1)
		})
	}
}

// TestCompactionLeavesASharedOldLogWhole: a reader in another open file (a
// follower or Verify in another process) holds a shared flock on the log
// it reads, and does not move to the new log: the compaction closes the
// old log whole, and every byte of it stays readable through the reader's
// own map.
func TestCompactionLeavesASharedOldLogWhole(t *testing.T) {
	dir := t.TempDir()
	db, cuts := cutStore(t, dir, nil)
	f, err := reopenShared(DefaultFS(), filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.(osFile).Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	want := bytes.Clone(m)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if got := cuts(); len(got) != 0 {
		t.Fatalf("the old log was cut to %v under a reader's shared lock", got)
	}
	if err := equalGuarded(m, want); err != nil {
		t.Fatalf("the old log changed under its reader: %v", err)
	}
	wantValues(t, db, 1)
}

// equalGuarded compares a map with want, turning the fault of a read past
// the end of the mapped file into an error instead of a crash.
func equalGuarded(m, want []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault: %v", r)
		}
	}()
	if !bytes.Equal(m, want) {
		return errors.New("other bytes")
	}
	return nil
}

// TestCompactionWaitsForAFollowerToMove: a follower in this process holds
// the old log until its next step moves it to the new one; the compaction
// waits for that, then cuts, and the follower reads the compacted store.
func TestCompactionWaitsForAFollowerToMove(t *testing.T) {
	dir := t.TempDir()
	db, cuts := cutStore(t, dir, nil)
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantValues(t, f, 1)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if got := cuts(); len(got) == 0 || got[len(got)-1] != 0 {
		t.Fatalf("the old log was cut to %v after its follower moved on, want down to 0", got)
	}
	wantValues(t, f, 1)
}

// wantValues checks that every key of cutStore's fill holds its value of
// round round.
func wantValues(t *testing.T, db *DB, round int) {
	t.Helper()
	for i := range 8000 {
		v, err := db.Get(fmt.Appendf(nil, "key%05d", i))
		if err != nil {
			t.Fatalf("key%05d: %v", i, err)
		}
		if want := bytes.Repeat([]byte{byte(round), byte(i)}, 60); !bytes.Equal(v, want) {
			t.Fatalf("key%05d holds %x", i, v[:4])
		}
	}
}

// TestShareLogRefusesAReplacedLog: a reader that opened the log just as a
// compaction replaced it finds it locked by the compaction, or unlinked,
// and is told to open wal.log again; reopenShared then gets the new log.
func TestShareLogRefusesAReplacedLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, logName)
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	claimed, err := DefaultFS().OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := claimLog(claimed); !got || !ok {
		t.Fatalf("claimLog = %v, %v on a log no one shares", got, ok)
	}
	reader, err := DefaultFS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := shareLog(reader); !errors.Is(err, errLogGone) {
		t.Fatalf("shareLog on a claimed log: %v, want errLogGone", err)
	}

	unlinked, err := DefaultFS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlinked.Close()
	if err := os.WriteFile(path+".new", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if err := claimed.Close(); err != nil { // the claim goes with it
		t.Fatal(err)
	}
	if err := shareLog(unlinked); !errors.Is(err, errLogGone) {
		t.Fatalf("shareLog on a renamed-over log: %v, want errLogGone", err)
	}
	f, err := reopenShared(DefaultFS(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 3)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "new" {
		t.Fatalf("reopenShared read %q, %v; want the new log", b, err)
	}
}
