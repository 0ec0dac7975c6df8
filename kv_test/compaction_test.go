package kv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

func TestCompactPreservesLiveData(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, manual)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for round := range 5 {
		for i := range 200 {
			v := fmt.Sprintf("%s-round%d", value(i), round)
			mustPut(t, db, key(i), v)
			want[key(i)] = v
		}
	}
	for i := 0; i < 200; i += 3 {
		db.Delete([]byte(key(i)))
		delete(want, key(i))
	}
	before := checkAccounting(t, db)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	after := checkAccounting(t, db)
	if after.StaleBytes != 0 || after.LiveBytes != before.LiveBytes || after.Compactions != 1 {
		t.Fatalf("after compaction %+v (before %+v)", after, before)
	}
	if after.ReclaimedBytes != before.StaleBytes {
		t.Fatalf("reclaimed %d, stale was %d", after.ReclaimedBytes, before.StaleBytes)
	}
	wantContents(t, db, want)
	if _, err := os.Stat(filepath.Join(dir, "wal.log.compact")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	mustPut(t, db, "after", "compaction")
	want["after"] = "compaction"
	db.Close()
	db = openDB(t, dir, manual)
	wantContents(t, db, want)
	checkAccounting(t, db)
}

// waitFor polls cond until it holds or a generous deadline passes; it waits
// for background work, it does not time it.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAutoCompactionThreshold overwrites one key until stale bytes cross a
// third of the log: no compaction may start below the line, and one must
// run once it is crossed.
func TestAutoCompactionThreshold(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{MinLogBytes: 8 << 10}})
	filler := strings.Repeat("x", 100)
	for i := range 100 {
		mustPut(t, db, key(i), filler)
	}
	for i := 0; ; i++ {
		st := db.Stats()
		below := 3*st.StaleBytes < st.LogBytes
		if below && (st.Compactions != 0 || st.Compacting) {
			t.Fatalf("compaction below the threshold: %+v", st)
		}
		if !below {
			break
		}
		mustPut(t, db, key(i%100), filler)
	}
	waitFor(t, "automatic compaction", func() bool { return db.Stats().Compactions == 1 })
	if st := checkAccounting(t, db); st.StaleBytes != 0 {
		t.Fatalf("after automatic compaction: %+v", st)
	}
}

func TestAutoCompactionPolicyKnobs(t *testing.T) {
	small := compact.Policy{MinLogBytes: -1, StaleRatio: 0.1}
	tests := []struct {
		name   string
		policy compact.Policy
		want   bool
	}{
		{"on", small, true},
		{"disabled", compact.Policy{MinLogBytes: -1, StaleRatio: 0.1, Disabled: true}, false},
		{"log too small", compact.Policy{MinLogBytes: 1 << 20, StaleRatio: 0.1}, false},
		{"interval not passed", compact.Policy{MinLogBytes: -1, StaleRatio: 0.1, MinInterval: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t, t.TempDir(), &kv.Options{NoSync: true, Compaction: tt.policy})
			for i := range 50 {
				mustPut(t, db, "k", fmt.Sprint(i))
			}
			if tt.want {
				waitFor(t, "compaction", func() bool { return db.Stats().Compactions > 0 })
				return
			}
			// Compact explicitly: a policy never blocks it, and it proves the
			// store had something to compact all along.
			if st := db.Stats(); st.Compactions != 0 || st.Compacting || st.StaleBytes == 0 {
				t.Fatalf("policy %+v: %+v", tt.policy, st)
			}
			if err := db.Compact(); err != nil || db.Stats().Compactions != 1 {
				t.Fatalf("explicit compaction: %v", err)
			}
		})
	}
}

// fillLog writes n keys, each overwritten twice, so two thirds of the log
// is stale.
func fillLog(tb testing.TB, db *kv.DB, n, valueSize int) map[string]string {
	tb.Helper()
	want := make(map[string]string, n)
	pad := strings.Repeat("p", valueSize)
	for round := range 3 {
		for i := range n {
			v := fmt.Sprintf("%d/%d/%s", i, round, pad)
			mustPut(tb, db, key(i), v)
			want[key(i)] = v
		}
	}
	return want
}

// TestTrafficDuringCompaction runs writers and readers while a log of
// several megabytes is compacted: none sees an error or an old value, and
// every acknowledged write is there afterwards and after a reopen.
func TestTrafficDuringCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db, err := kv.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const keys = 20000
	want := fillLog(t, db, keys, 100)
	var mu sync.Mutex // guards want
	events, cancel := db.Subscribe()
	defer cancel()

	var wg sync.WaitGroup
	errc := make(chan error, 8)
	done := make(chan struct{})
	var writes atomic.Int64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := key((i*7 + w) % keys)
				v := fmt.Sprintf("w%d-%d", w, i)
				if i%10 == 9 {
					mu.Lock()
					err := db.Delete([]byte(k))
					delete(want, k)
					mu.Unlock()
					if err != nil {
						errc <- err
						return
					}
					continue
				}
				// The map is updated under the lock around Put, so a reader
				// holding the lock sees the map and the store agree.
				mu.Lock()
				err := db.Put([]byte(k), []byte(v))
				want[k] = v
				mu.Unlock()
				if err != nil {
					errc <- err
					return
				}
				writes.Add(1)
			}
		}()
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := key((i*13 + r) % keys)
				mu.Lock()
				v, err := db.Get([]byte(k))
				w, ok := want[k]
				mu.Unlock()
				if ok != (err == nil) || (ok && string(v) != w) {
					errc <- fmt.Errorf("get %s = %.20q, %v; want %.20q (present %v)", k, v, err, w, ok)
					return
				}
			}
		}()
	}
	compactErr := db.Compact()
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if compactErr != nil {
		t.Fatal(compactErr)
	}
	if writes.Load() == 0 {
		t.Fatal("no write landed during the compaction")
	}
	checkEventSequence(t, events, keys)
	wantContents(t, db, want)
	checkAccounting(t, db)
	db.Close()
	db = openDB(t, dir, opts)
	wantContents(t, db, want)
}

// checkEventSequence reads the events of the compaction of a log filled by
// fillLog with keys keys: Started, Progress with Done never falling, then
// Finished.
func checkEventSequence(tb testing.TB, events <-chan kv.CompactionEvent, keys int) {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	var seq []kv.EventKind
	var last int64
	for {
		var ev kv.CompactionEvent
		select {
		case ev = <-events:
		case <-timeout:
			tb.Fatalf("events so far %v: no Finished", seq)
		}
		seq = append(seq, ev.Kind)
		if ev.Kind == kv.CompactionFailed {
			tb.Fatalf("compaction failed: %v", ev.Err)
		}
		if len(seq) == 1 && ev.Kind != kv.CompactionStarted {
			tb.Fatalf("first event %v, want started", ev.Kind)
		}
		if ev.Done < last || ev.Done > ev.Total {
			tb.Fatalf("progress %d/%d after %d", ev.Done, ev.Total, last)
		}
		last = ev.Done
		if ev.Kind == kv.CompactionFinished {
			// The log holds three rounds of keys records, two of them
			// stale before the compaction starts, which it does not
			// read. Kept may be as low as nothing: a record the writers
			// overwrite before the copy reaches it is left out (and
			// counted dropped), and its successor lies past the copy's
			// end.
			if ev.NewSize <= 0 || ev.NewSize >= ev.OldSize || ev.Kept+ev.Dropped > keys {
				tb.Fatalf("finished event %+v, want at most %d kept and dropped", ev, keys)
			}
			if ev.Held <= 0 || ev.Held > ev.Duration {
				tb.Fatalf("finished event: writers held out for %v of a %v compaction", ev.Held, ev.Duration)
			}
			if len(seq) < 3 {
				tb.Fatalf("events %v: no progress reported", seq)
			}
			return
		}
	}
}

func TestCompactJoinsRunningCompaction(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	fillLog(t, db, 20000, 100)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Compact()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Four callers, one log to compact: at most a second run after the first
	// finished, never four.
	if n := db.Stats().Compactions; n < 1 || n > 2 {
		t.Fatalf("%d compactions for 4 overlapping calls", n)
	}
}

func TestCloseDuringCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db, err := kv.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := fillLog(t, db, 20000, 100)
	events, _ := db.Subscribe()
	result := make(chan error, 1)
	go func() { result <- db.Compact() }()
	for ev := range events {
		if ev.Kind == kv.CompactionProgress {
			break
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close during compaction: %v", err)
	}
	if err := <-result; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("interrupted compaction returned %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wal.log.compact")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	db = openDB(t, dir, opts)
	wantContents(t, db, want)
}

// failFS fails the creation of the compaction's temporary file.
type failFS struct{ kv.FS }

var errInjected = errors.New("injected: no space left on device")

func (f failFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	if strings.HasSuffix(name, ".compact") {
		return nil, errInjected
	}
	return f.FS.OpenFile(name, flag, perm)
}

func TestFailedCompactionKeepsOldLog(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, &kv.Options{NoSync: true, FS: failFS{kv.DefaultFS()}, Compaction: compact.Policy{Disabled: true}})
	want := fillLog(t, db, 500, 10)
	events, cancel := db.Subscribe()
	defer cancel()
	before := db.Stats()
	if err := db.Compact(); !errors.Is(err, errInjected) {
		t.Fatalf("compact: %v, want the injected error", err)
	}
	if ev := <-events; ev.Kind != kv.CompactionStarted {
		t.Fatalf("first event %v", ev.Kind)
	}
	if ev := <-events; ev.Kind != kv.CompactionFailed || !errors.Is(ev.Err, errInjected) {
		t.Fatalf("second event %+v, want failed", ev)
	}
	after := db.Stats()
	if after.LogBytes != before.LogBytes || after.Compactions != 0 {
		t.Fatalf("stats changed: %+v -> %+v", before, after)
	}
	if !errors.Is(after.CompactionError, errInjected) {
		t.Fatalf("Stats.CompactionError = %v, want the injected error", after.CompactionError)
	}
	wantContents(t, db, want)
	mustPut(t, db, "still", "writable")
	if got := checkAccounting(t, db); got.StaleBytes == 0 {
		t.Fatal("stale bytes vanished without a compaction")
	}
}

func TestSlowSubscriberKeepsMilestones(t *testing.T) {
	db := openDB(t, t.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	fillLog(t, db, 20000, 100)
	events, cancel := db.Subscribe()
	defer cancel()
	// Nobody reads while two compactions run: the engine must not wait.
	for range 2 {
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	var kinds []kv.EventKind
	for len(kinds) == 0 || kinds[len(kinds)-1] != kv.CompactionFinished || countKind(kinds, kv.CompactionFinished) < 2 {
		select {
		case ev := <-events:
			kinds = append(kinds, ev.Kind)
		case <-time.After(5 * time.Second):
			t.Fatalf("events %v: a milestone was lost", kinds)
		}
	}
	if countKind(kinds, kv.CompactionStarted) != 2 {
		t.Fatalf("events %v", kinds)
	}
}

func countKind(kinds []kv.EventKind, k kv.EventKind) int {
	n := 0
	for _, x := range kinds {
		if x == k {
			n++
		}
	}
	return n
}
