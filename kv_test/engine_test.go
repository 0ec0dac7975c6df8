package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// manual disables automatic compaction so a test controls the log's shape.
var manual = &kv.Options{Compaction: compact.Policy{Disabled: true}}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	want := map[string]string{}
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		mustPut(t, db, key(i), value(i))
		want[key(i)] = value(i)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, nil)
	wantContents(t, db, want)
	st := checkAccounting(t, db)
	// The index's table never holds more than four slots per key beyond
	// its minimum size of a thousand.
	if st.IndexBytes <= 0 || st.IndexBytes > 16*4*int64(max(st.Keys, 1024)) {
		t.Fatalf("IndexBytes %d for %d keys", st.IndexBytes, st.Keys)
	}
}

func TestOverwriteAndDelete(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, manual)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "a", "1")
	mustPut(t, db, "a", "2")
	mustPut(t, db, "b", "x")
	if err := db.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete([]byte("never-there")); err != nil {
		t.Fatalf("delete of an absent key: %v", err)
	}
	wantValue(t, db, "a", "2")
	wantMissing(t, db, "b")
	st := checkAccounting(t, db)
	// Stale: the first "a", the "b" put, and the tombstone.
	wantStale := int64(walfmt.RecordSize(1, 1) + walfmt.RecordSize(1, 1) + walfmt.RecordSize(1, 0))
	if st.StaleBytes != wantStale || st.Keys != 1 {
		t.Fatalf("stats %+v, want stale %d and 1 key", st, wantStale)
	}
	db.Close()
	db = openDB(t, dir, manual)
	wantValue(t, db, "a", "2")
	wantMissing(t, db, "b")
	if st2 := checkAccounting(t, db); st2.StaleBytes != wantStale {
		t.Fatalf("after reopen stale %d, want %d", st2.StaleBytes, wantStale)
	}
}

// TestRandomOps checks random operations against a Go map, across
// compactions and reopens.
func TestRandomOps(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db, err := kv.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	model := map[string]string{}
	for i := range 5000 {
		k := key(rng.IntN(300))
		switch r := rng.IntN(100); {
		case r < 60:
			v := strings.Repeat("v", rng.IntN(200)) + fmt.Sprint(i)
			mustPut(t, db, k, v)
			model[k] = v
		case r < 85:
			if err := db.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
		case r < 97:
			got, err := db.Get([]byte(k))
			if want, ok := model[k]; ok != (err == nil) || string(got) != want {
				t.Fatalf("seed %d op %d: get %q = %q, %v; want %q", seed, i, k, got, err, want)
			}
		case r < 99:
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
		default:
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err = kv.Open(dir, opts); err != nil {
				t.Fatal(err)
			}
		}
		if i%500 == 0 {
			checkAccounting(t, db)
		}
	}
	wantContents(t, db, model)
}

func TestLimits(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{MaxKeySize: 8, MaxValueSize: 16})
	tests := []struct {
		key, value string
		want       error
	}{
		{"", "v", kv.ErrEmptyKey},
		{"123456789", "v", kv.ErrKeyTooLarge},
		{"k", strings.Repeat("v", 17), kv.ErrValueTooLarge},
		{"12345678", strings.Repeat("v", 16), nil},
		{"k", "", nil},
	}
	for _, tt := range tests {
		if err := db.Put([]byte(tt.key), []byte(tt.value)); !errors.Is(err, tt.want) {
			t.Errorf("put %d-byte key, %d-byte value: %v, want %v", len(tt.key), len(tt.value), err, tt.want)
		}
	}
	if err := db.Delete(nil); !errors.Is(err, kv.ErrEmptyKey) {
		t.Errorf("delete of an empty key: %v", err)
	}
	if got, err := db.Get([]byte("k")); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty value reads %q, %v", got, err)
	}
	if _, err := kv.Open(t.TempDir(), &kv.Options{MaxKeySize: walfmt.MaxKeyLen + 1}); err == nil {
		t.Error("Open accepted a key limit above the format's")
	}
}

func TestGetReturnsCallersSlice(t *testing.T) {
	db := openDB(t, t.TempDir(), nil)
	mustPut(t, db, "k", "value")
	v, _ := db.Get([]byte("k"))
	v[0] = 'X'
	wantValue(t, db, "k", "value")
	// Put must not keep the caller's buffers either.
	buf := []byte("abc")
	if err := db.Put([]byte("b"), buf); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'Z'
	wantValue(t, db, "b", "abc")
}

func TestKeysAndAscend(t *testing.T) {
	db := openDB(t, t.TempDir(), nil)
	for _, k := range []string{"user:2", "config/a", "user:10", "user:1", "blob/x"} {
		mustPut(t, db, k, "v")
	}
	if got := fmt.Sprint(db.Keys(nil)); got != "[blob/x config/a user:1 user:10 user:2]" {
		t.Fatalf("Keys(nil) = %s", got)
	}
	if got := fmt.Sprint(db.Keys([]byte("user:"))); got != "[user:1 user:10 user:2]" {
		t.Fatalf("Keys(user:) = %s", got)
	}
	var seen []string
	db.Ascend([]byte("user:"), func(k []byte) bool {
		seen = append(seen, string(k))
		return len(seen) < 2
	})
	if fmt.Sprint(seen) != "[user:1 user:10]" {
		t.Fatalf("Ascend stopped at %v", seen)
	}
	e, err := db.Entry([]byte("user:10"))
	if err != nil || e.ValueSize != 1 || e.Offset < walfmt.HeaderSize || e.RecordSize != walfmt.RecordSize(7, 1) {
		t.Fatalf("Entry = %+v, %v", e, err)
	}
}

// TestTornTailEveryOffset cuts the log inside the last record at every byte
// offset: Open must cut the tail, report it, and keep every earlier record.
func TestTornTailEveryOffset(t *testing.T) {
	src := t.TempDir()
	db, err := kv.Open(src, manual)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "first", "one")
	mustPut(t, db, "second", "two")
	before := db.Stats().LogBytes
	mustPut(t, db, "last", "the last value")
	db.Close()
	log, err := os.ReadFile(filepath.Join(src, "wal.log"))
	if err != nil {
		t.Fatal(err)
	}
	for cut := before; cut < int64(len(log)); cut++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "wal.log"), log[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := kv.Open(dir, manual)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		st := checkAccounting(t, db)
		if st.TruncatedBytes != cut-before || st.LogBytes != before {
			t.Fatalf("cut at %d: %+v, want %d bytes truncated", cut, st, cut-before)
		}
		wantContents(t, db, map[string]string{"first": "one", "second": "two"})
		mustPut(t, db, "after", "repair") // the log takes writes again
		db.Close()
	}
}

// TestCorruptMiddleRefusesToOpen damages a record followed by valid data
// that reaches further than walfmt.SyncWindow past it, which no crash can
// leave: Open must refuse the log, name the file and the way out, and
// change nothing.
func TestCorruptMiddleRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, manual)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "first", "one")
	mustPut(t, db, "second", "two")
	mustPut(t, db, "third", strings.Repeat("3", walfmt.SyncWindow))
	e, _ := db.Entry([]byte("second"))
	db.Close()
	// Without the index hint, which lets Open skip the records it covers
	// (TestDamageInAStoreDirectory covers a store with one).
	if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wal.log")
	log, _ := os.ReadFile(path)
	log[e.Offset+int64(e.RecordSize)-1] ^= 0x20 // last byte of "two"
	if err := os.WriteFile(path, log, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = kv.Open(dir, nil)
	var ce *walfmt.CorruptionError
	if !errors.As(err, &ce) || !errors.Is(err, walfmt.ErrCorrupt) || ce.Offset != e.Offset {
		t.Fatalf("open: %v, want corruption at offset %d", err, e.Offset)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || strings.Contains(msg, "crabkv") {
		t.Fatalf("error %q does not name the file, or gives the tool's advice", msg)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, log) {
		t.Fatal("a failed Open changed the log")
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, nil)
	_, err := kv.Open(dir, nil)
	if !errors.Is(err, kv.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v, want ErrLocked naming %s", err, dir)
	}
	// A read-only open follows the writer instead of locking it out.
	ro := openDB(t, dir, &kv.Options{ReadOnly: true})
	mustPut(t, db, "k", "v")
	waitValue(t, ro, "k", "v")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Readers share the directory, and take no lock a writer needs.
	r1 := openDB(t, dir, &kv.Options{ReadOnly: true})
	r2 := openDB(t, dir, &kv.Options{ReadOnly: true})
	wantValue(t, r1, "k", "v")
	wantValue(t, r2, "k", "v")
	w := openDB(t, dir, nil)
	mustPut(t, w, "k", "w")
	waitValue(t, r1, "k", "w")
}

func TestReadOnly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := kv.Open(missing, &kv.Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only open of a missing dir: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("read-only open created the directory")
	}
	dir := t.TempDir()
	db := openDB(t, dir, &kv.Options{ReadOnly: true})
	for _, err := range []error{db.Put([]byte("k"), nil), db.Delete([]byte("k")), db.Compact()} {
		if !errors.Is(err, kv.ErrReadOnly) {
			t.Fatalf("write to a read-only store: %v", err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 1 { // the lock file only
		t.Fatalf("read-only open wrote %v", entries)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := kv.Open(file, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("open of a file: %v", err)
	}
	nested := filepath.Join(t.TempDir(), "a", "b")
	db := openDB(t, nested, nil)
	mustPut(t, db, "k", "v")
}

func TestClosed(t *testing.T) {
	db, err := kv.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	for _, err := range []error{db.Put([]byte("k"), nil), db.Delete([]byte("k")), db.Compact()} {
		if !errors.Is(err, kv.ErrClosed) {
			t.Fatalf("use after close: %v", err)
		}
	}
	if _, err := db.Get([]byte("k")); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
}

// TestConcurrentClose calls Close from a second goroutine while the first
// Close is held up in its sync of the log. Neither may return before the
// store is closed: right after each returns, the directory opens (its lock
// is released) and a crash keeps the data. The second returns what the
// first does, a failed sync included.
func TestConcurrentClose(t *testing.T) {
	errSync := errors.New("sync failed")
	for _, failSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("failSync=%v", failSync), func(t *testing.T) {
			mem := newMemFS()
			ffs := newFaultFS(mem)
			// NoSync: Close's sync is the one that makes the data durable.
			db, err := kv.Open(memDir, &kv.Options{FS: ffs, NoSync: true, Compaction: compact.Policy{Disabled: true}})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for i := range 20 {
				mustPut(t, db, key(i), value(i))
				want[key(i)] = value(i)
			}
			syncing, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			ffs.SetInject(func(op fsOp, name string, flag int) error {
				var err error
				if op == opSync && filepath.Base(name) == "wal.log" {
					once.Do(func() {
						close(syncing)
						<-release
						if failSync {
							err = errSync
						}
					})
				}
				return err
			})
			var errs [2]error
			closeAndCheck := func(i int) {
				errs[i] = db.Close()
				ro, err := kv.Open(memDir, &kv.Options{FS: mem, ReadOnly: true})
				if err != nil {
					t.Errorf("Close %d returned %v, then Open: %v", i, errs[i], err)
				} else {
					ro.Close()
				}
				if failSync {
					return
				}
				got, _, err := openState(t, memDir, &kv.Options{FS: mem.Crash(keepNone, nil), ReadOnly: true})
				if err != nil || diffState(got, want) != "" {
					t.Errorf("Close %d returned %v, then a crash left %d keys, %v; want all %d", i, errs[i], len(got), err, len(want))
				}
			}
			var wg sync.WaitGroup
			wg.Go(func() { closeAndCheck(0) })
			<-syncing
			second := make(chan struct{})
			wg.Go(func() {
				defer close(second)
				closeAndCheck(1)
			})
			// Give the second Close time to return early, as it must not.
			select {
			case <-second:
			case <-time.After(100 * time.Millisecond):
			}
			close(release)
			wg.Wait()
			if failSync && (!errors.Is(errs[0], errSync) || errs[1] != errs[0]) {
				t.Errorf("Close = %v, then %v; want both to report the failed sync", errs[0], errs[1])
			}
			if !failSync && (errs[0] != nil || errs[1] != nil) {
				t.Errorf("Close = %v, then %v; want nil", errs[0], errs[1])
			}
		})
	}
}

// TestConcurrent runs readers and writers together; run it with -race.
func TestConcurrent(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{MinLogBytes: 64 << 10}})
	const writers, readers, perWriter, perReader = 4, 4, 2000, 2000
	var wg sync.WaitGroup
	errc := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				k := fmt.Sprintf("w%d-%d", w, i%100)
				if err := db.Put([]byte(k), []byte(fmt.Sprintf("%s=%d", k, i))); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	for r := range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for i := range perReader {
				k := fmt.Sprintf("w%d-%d", r%writers, i%100)
				v, err := db.Get([]byte(k))
				if err != nil && !errors.Is(err, kv.ErrNotFound) {
					errc <- err
					return
				}
				if err == nil && !strings.HasPrefix(string(v), k+"=") {
					errc <- fmt.Errorf("get %s = %q", k, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	rg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	waitFor(t, "the compaction the traffic triggered", func() bool { return db.Stats().Compactions > 0 })
	for w := range writers {
		for i := perWriter - 100; i < perWriter; i++ {
			k := fmt.Sprintf("w%d-%d", w, i%100)
			wantValue(t, db, k, fmt.Sprintf("%s=%d", k, i))
		}
	}
	checkAccounting(t, db)
}

// syncCountFS counts the syncs of the log.
type syncCountFS struct {
	kv.FS
	syncs *atomic.Int64
}

func (f syncCountFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return syncCountFile{file, f.syncs}, nil
}

type syncCountFile struct {
	kv.File
	syncs *atomic.Int64
}

func (f syncCountFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

// TestGroupCommit checks that a lone synced writer pays one sync per write
// and that concurrent synced writers share syncs, every write still
// acknowledged only once synced.
func TestGroupCommit(t *testing.T) {
	var syncs atomic.Int64
	dir := t.TempDir()
	db := openDB(t, dir, &kv.Options{FS: syncCountFS{kv.DefaultFS(), &syncs}, Compaction: compact.Policy{Disabled: true}})
	syncs.Store(0)
	for i := range 50 {
		mustPut(t, db, key(i), value(i))
	}
	if n := syncs.Load(); n != 50 {
		t.Fatalf("one writer, 50 puts: %d syncs, want 50", n)
	}
	syncs.Store(0)
	const writers, each = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := db.Put([]byte(fmt.Sprintf("g%d-%d", w, i)), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := syncs.Load()
	t.Logf("%d writers x %d puts: %d syncs", writers, each, n)
	if n >= writers*each || n == 0 {
		t.Fatalf("%d concurrent puts took %d syncs: no sharing", writers*each, n)
	}
	if st := checkAccounting(t, db); st.Keys != 50+writers*each {
		t.Fatalf("%d keys, want %d", st.Keys, 50+writers*each)
	}
}

// TestNoSyncSyncAndClose checks that a NoSync store syncs on Sync and on
// Close, and nowhere else.
func TestNoSyncSyncAndClose(t *testing.T) {
	var syncs atomic.Int64
	dir := t.TempDir()
	db, err := kv.Open(dir, &kv.Options{NoSync: true, FS: syncCountFS{kv.DefaultFS(), &syncs}, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	syncs.Store(0)
	for i := range 20 {
		mustPut(t, db, key(i), value(i))
	}
	if n := syncs.Load(); n != 0 {
		t.Fatalf("NoSync puts synced %d times", n)
	}
	if err := db.Sync(); err != nil || syncs.Load() != 1 {
		t.Fatalf("Sync: %v, %d syncs", err, syncs.Load())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Close syncs the log, and the hint file it writes.
	if n := syncs.Load(); n < 2 {
		t.Fatalf("Close of a NoSync store: %d syncs in all, want the log synced", n)
	}
}

// TestGetReportsDamageWithOffset damages a value in a closed store whose
// hint lets Open skip reading it: Open succeeds, and the read of that key
// fails naming the file and offset instead of returning bad data.
func TestGetReportsDamageWithOffset(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, manual)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 { // more than the hint's 4 KiB tie to the log's end
		mustPut(t, db, key(i), value(i))
	}
	e, _ := db.Entry([]byte(key(3)))
	db.Close()
	path := filepath.Join(dir, "wal.log")
	log, _ := os.ReadFile(path)
	log[e.Offset+int64(e.RecordSize)-1] ^= 1
	os.WriteFile(path, log, 0o644)
	db = openDB(t, dir, manual)
	_, err = db.Get([]byte(key(3)))
	var ce *walfmt.CorruptionError
	if !errors.As(err, &ce) || ce.Offset != e.Offset || ce.File != path || !errors.Is(err, walfmt.ErrCorrupt) {
		t.Fatalf("get of a damaged record: %v, want corruption at %s offset %d", err, path, e.Offset)
	}
	wantValue(t, db, key(4), value(4))
}

// TestGetAllocatesOnlyTheValue checks that a Get of a present key
// allocates the returned value and nothing else, and a miss nothing.
func TestGetAllocatesOnlyTheValue(t *testing.T) {
	db := openDB(t, t.TempDir(), manual)
	for i := range 1000 {
		mustPut(t, db, key(i), value(i))
	}
	k := []byte(key(7))
	if n := testing.AllocsPerRun(100, func() { db.Get(k) }); n != 1 {
		t.Fatalf("Get of a present key: %v allocations, want 1", n)
	}
	miss := []byte("absent")
	if n := testing.AllocsPerRun(100, func() { db.Get(miss) }); n != 0 {
		t.Fatalf("Get of an absent key: %v allocations, want 0", n)
	}
}
