//go:build unix

package kv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
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
			if err := compactAndFree(db); err != nil {
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
	f, err := reopenShared(DefaultFS(), filepath.Join(dir, logName), os.O_RDONLY)
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
	if err := compactAndFree(db); err != nil {
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
	db.claimWait = time.Minute // however slow the machine, the follower moves on
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantValues(t, f, 1)
	if err := compactAndFree(db); err != nil {
		t.Fatal(err)
	}
	if got := cuts(); len(got) == 0 || got[len(got)-1] != 0 {
		t.Fatalf("the old log was cut to %v after its follower moved on, want down to 0", got)
	}
	wantValues(t, f, 1)
}

// compactAndFree compacts db and waits for the old log to be freed, which
// happens beside what follows the compaction (see swap).
func compactAndFree(db *DB) error {
	err := db.Compact()
	db.oldLogs.Wait()
	return err
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
// compaction replaced it finds it claimed by the compaction, or unlinked,
// and is told to open wal.log again; reopenShared then gets the new log. A
// log that still has a name is never claimed.
func TestShareLogRefusesAReplacedLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, logName)
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(flag int) File {
		t.Helper()
		f, err := DefaultFS().OpenFile(path, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	claimed, early, late := open(os.O_RDWR), open(os.O_RDONLY), open(os.O_RDONLY)
	defer early.Close()
	defer late.Close()
	if got, ok := claimLog(claimed); got || ok {
		t.Fatalf("claimLog = %v, %v on a log that still has its name", got, ok)
	}
	if err := os.WriteFile(path+".new", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if got, ok := claimLog(claimed); !got || !ok {
		t.Fatalf("claimLog = %v, %v on a replaced log no one shares", got, ok)
	}
	if err := shareLog(early); !errors.Is(err, errLogGone) {
		t.Fatalf("shareLog on a claimed log: %v, want errLogGone", err)
	}
	if err := claimed.Close(); err != nil { // the claim goes with it
		t.Fatal(err)
	}
	if err := shareLog(late); !errors.Is(err, errLogGone) {
		t.Fatalf("shareLog on a renamed-over log: %v, want errLogGone", err)
	}
	f, err := reopenShared(DefaultFS(), path, os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 3)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "new" {
		t.Fatalf("reopenShared read %q, %v; want the new log", b, err)
	}
}

// TestCutsLeaveOrderBuildsFree: the cuts do not hold ord.build, which
// every new scan takes: a scan that starts while they run is not held up
// for all of them. Builds that began before the swap are waited for once.
func TestCutsLeaveOrderBuildsFree(t *testing.T) {
	db, _ := cutStore(t, t.TempDir(), nil)
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		t.Fatal(err) // the store keeps a key order from here on
	}
	var held, cuts int
	db.testHookCut = func(int64) {
		cuts++
		if !db.ord.build.TryLock() {
			held++
			return
		}
		db.ord.build.Unlock()
	}
	if err := compactAndFree(db); err != nil {
		t.Fatal(err)
	}
	if cuts == 0 || held != 0 {
		t.Fatalf("ord.build was held during %d of %d cuts", held, cuts)
	}
}

// TestCompactReturnsBeforeTheOldLogIsFreed: freeing the old log waits for
// a reader in another open file to let go of it, but Compact does not: it
// returns once the new log is in place, and the old log is cut to nothing
// after the reader lets go.
func TestCompactReturnsBeforeTheOldLogIsFreed(t *testing.T) {
	dir := t.TempDir()
	db, cuts := cutStore(t, dir, nil)
	db.claimWait = time.Hour
	f, err := reopenShared(DefaultFS(), filepath.Join(dir, logName), os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	compacted := make(chan error, 1)
	go func() { compacted <- db.Compact() }()
	select {
	case err := <-compacted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Compact still waits for the old log's reader after 30 s")
	}
	if s := db.Stats(); s.StaleBytes != 0 || s.Compactions != 1 {
		t.Fatalf("after Compact: %d stale bytes, %d compactions; want 0, 1", s.StaleBytes, s.Compactions)
	}
	wantValues(t, db, 1)
	if got := cuts(); len(got) != 0 {
		t.Fatalf("the old log was cut to %v under its reader's shared lock", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	db.oldLogs.Wait()
	if got := cuts(); len(got) == 0 || got[len(got)-1] != 0 {
		t.Fatalf("the old log was cut to %v after its reader let go, want down to 0", got)
	}
}

// TestCloseEndsAWaitForTheOldLog: Close does not wait out the compaction's
// wait for a reader to let go of the old log.
func TestCloseEndsAWaitForTheOldLog(t *testing.T) {
	dir := t.TempDir()
	db, _ := cutStore(t, dir, nil)
	db.claimWait = time.Hour
	f, err := reopenShared(DefaultFS(), filepath.Join(dir, logName), os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	waiting := make(chan struct{})
	var once sync.Once
	db.testHookClaim = func() { once.Do(func() { close(waiting) }) }
	compacted := make(chan error, 1)
	go func() { compacted <- db.Compact() }()
	<-waiting
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waits for the old log's reader after 30 s")
	}
	if err := <-compacted; err != nil {
		t.Fatal(err)
	}
	db2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	wantValues(t, db2, 1)
}

// TestCutsSpareAHardLinkedLog: an old log that still has a name (a hard
// link, as a backup made with cp -al has) is not cut: only an unlinked
// file's blocks are the compaction's to free.
func TestCutsSpareAHardLinkedLog(t *testing.T) {
	dir := t.TempDir()
	db, cuts := cutStore(t, dir, nil)
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.log")
	if err := os.Link(filepath.Join(dir, logName), backup); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	before, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := compactAndFree(db); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatalf("the hard-linked old log went from %d to %d bytes (cuts %v)", len(before), len(after), cuts())
	}
}

// The follower process of TestFollowerProcessBesideCuts: where it reads,
// and the file whose appearance tells it to stop.
const (
	cutFollowerDir  = "CRABKV_CUT_FOLLOWER_DIR"
	cutFollowerStop = "CRABKV_CUT_FOLLOWER_STOP"
	cutKeys         = 4000
)

func cutValue(round, i int) []byte {
	return bytes.Repeat([]byte{byte(round), byte(i), byte(i >> 8), 0x5a}, 512)
}

// TestFollowerProcessBesideCuts runs a follower in a second process that
// reads every key, by Get and by Scan, while this process rewrites them
// and compacts, round after round, each compaction cutting the old log in
// many steps. The follower must never fail a read or see a value go back
// to an older round, and the old logs must be cut.
func TestFollowerProcessBesideCuts(t *testing.T) {
	if dir := os.Getenv(cutFollowerDir); dir != "" {
		followBesideCuts(t, dir, os.Getenv(cutFollowerStop))
		return
	}
	if testing.Short() {
		t.Skip("runs a second process for seconds")
	}
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	cuts := 0
	db.freeStep = 512 << 10
	db.claimWait = time.Minute // however slow the machine, the follower moves on
	db.testHookCut = func(int64) { mu.Lock(); cuts++; mu.Unlock() }
	fill := func(round int) {
		t.Helper()
		for i := range cutKeys {
			if err := db.Put(fmt.Appendf(nil, "key%05d", i), cutValue(round, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(0)
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	stop := filepath.Join(t.TempDir(), "stop")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFollowerProcessBesideCuts$", "-test.v")
	cmd.Env = append(os.Environ(), cutFollowerDir+"="+dir, cutFollowerStop+"="+stop)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 8; round++ {
		fill(round)
		if err := compactAndFree(db); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("follower process: %v\n%s", err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if cuts < 8 {
		t.Fatalf("the old logs were cut %d times in 8 compactions", cuts)
	}
	t.Logf("%d cuts; follower: %s", cuts, bytes.TrimSpace(out.Bytes()))
}

// followBesideCuts is the follower process: it reads until stop exists.
func followBesideCuts(t *testing.T, dir, stop string) {
	orphan.ExitWithParent()
	f, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := make([]int, cutKeys)
	reads := 0
	check := func(i int, v []byte) {
		t.Helper()
		round := int(v[0])
		if len(v) != 2048 || !bytes.Equal(v, cutValue(round, i)) {
			t.Fatalf("key%05d holds %x…, no round's value", i, v[:8])
		}
		if round < seen[i] {
			t.Fatalf("key%05d went back from round %d to %d", i, seen[i], round)
		}
		seen[i] = round
		reads++
	}
	for {
		if _, err := os.Stat(stop); err == nil {
			break
		}
		for i := 0; i < cutKeys; i += 7 {
			v, err := f.Get(fmt.Appendf(nil, "key%05d", i))
			if err != nil {
				t.Fatalf("Get key%05d: %v", i, err)
			}
			check(i, v)
		}
		n := 0
		err := f.Scan(nil, nil, func(k, v []byte) bool {
			var i int
			if _, err := fmt.Sscanf(string(k), "key%05d", &i); err != nil {
				t.Fatalf("scan: key %q", k)
			}
			check(i, v)
			n++
			return true
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if n != cutKeys {
			t.Fatalf("Scan saw %d keys, want %d", n, cutKeys)
		}
	}
	t.Logf("%d reads, last rounds %d..%d", reads, slices.Min(seen), slices.Max(seen))
}
