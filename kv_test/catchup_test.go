package kv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// The tests in this file run compactions beside writers that never pause:
// NoSync appends are memory copies, much faster than a synced write, and a
// compaction must still finish, be cancellable, and keep the log small.

// hotKeys is how many keys the sustained writers overwrite.
const hotKeys = 1000

// fillHot writes hotKeys keys and then overwrites them until the log holds
// n records, so that almost all of it is stale.
func fillHot(tb testing.TB, db *kv.DB, n int) {
	tb.Helper()
	v := []byte(strings.Repeat("f", 100))
	for i := range n {
		if err := db.Put([]byte(key(i%hotKeys)), v); err != nil {
			tb.Fatal(err)
		}
	}
}

// hotWriter overwrites its share of the hot keys (those equal to w modulo
// writers) as fast as it can, until stop is closed or a write fails. It
// remembers the last acknowledged value of each key and the write in flight
// when it stopped, which may or may not have landed.
type hotWriter struct {
	w, writers int
	acked      map[string]string
	inflight   [2]string // key, value
	err        error     // the error that stopped it, if any
	writes     int
}

func (h *hotWriter) run(db *kv.DB, stop <-chan struct{}) {
	h.acked = map[string]string{}
	pad := strings.Repeat("v", 100)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		k := key((i*h.writers + h.w) % hotKeys)
		v := fmt.Sprintf("w%d-%d-%s", h.w, i, pad)
		h.inflight = [2]string{k, v}
		if err := db.Put([]byte(k), []byte(v)); err != nil {
			h.err = err
			return
		}
		h.inflight = [2]string{}
		h.acked[k] = v
		h.writes++
	}
}

// check verifies that db holds, for each key the writer acknowledged, its
// last acknowledged value or the one in flight when the writer stopped.
func (h *hotWriter) check(tb testing.TB, db *kv.DB) {
	tb.Helper()
	for k, v := range h.acked {
		got, err := db.Get([]byte(k))
		if err != nil {
			tb.Fatalf("writer %d: get %s: %v", h.w, k, err)
		}
		if string(got) != v && (k != h.inflight[0] || string(got) != h.inflight[1]) {
			tb.Fatalf("writer %d: %s = %.24q, want the last acknowledged %.24q", h.w, k, got, v)
		}
	}
}

// startHotWriters starts n hotWriters. They run until stop is closed or
// their writes fail; wait waits for them.
func startHotWriters(db *kv.DB, n int, stop <-chan struct{}) (ws []*hotWriter, wait func()) {
	var wg sync.WaitGroup
	for w := range n {
		h := &hotWriter{w: w, writers: n}
		ws = append(ws, h)
		wg.Go(func() { h.run(db, stop) })
	}
	return ws, wg.Wait
}

// TestCloseDuringCompactionUnderNoSyncWriters closes a store while a
// compaction runs beside two writers that append as fast as they can. Close
// must not wait for the writers: whether it stops the compaction
// (FinishOnClose negative) or lets it finish (the default, for a log this
// small), it returns while the writers still run, long before they would
// stop on their own, since the compaction's catch-up with them is bounded.
// Every acknowledged write is in the reopened store, and the temporary
// file is gone.
func TestCloseDuringCompactionUnderNoSyncWriters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		finish int64
	}{{"finished", 0}, {"stopped", -1}} {
		t.Run(tc.name, func(t *testing.T) { testCloseUnderNoSyncWriters(t, tc.finish) })
	}
}

func testCloseUnderNoSyncWriters(t *testing.T, finish int64) {
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true, FinishOnClose: finish}}
	db, err := kv.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	fillHot(t, db, 100_000)
	// The writers stop when Close makes their writes fail, or, if Close
	// hangs, after writersCap.
	const writersCap = 30 * time.Second
	stop := make(chan struct{})
	capTimer := time.AfterFunc(writersCap, func() { close(stop) })
	defer capTimer.Stop()
	ws, wait := startHotWriters(db, 2, stop)
	events, cancel := db.Subscribe()
	defer cancel()
	compacted := make(chan error, 1)
	go func() { compacted <- db.Compact() }()
	// Close once the rewrite is done and the compaction is catching up
	// with the writers.
	waitRewritten(t, events)
	time.Sleep(20 * time.Millisecond)

	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	// Close needs the compaction to stop or finish its bounded catch-up,
	// one sync of the log and the hint file: milliseconds to a second. A third of the writers' cap
	// is many times that, and still tells a Close that waits for them.
	const closeLimit = writersCap / 3
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(closeLimit):
		t.Errorf("Close has not returned %v after it was called, with writers still running", closeLimit)
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	wait()
	if err := <-compacted; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kv.ErrClosed) {
		t.Errorf("compaction interrupted by Close returned %v", err)
	}
	for _, h := range ws {
		if !errors.Is(h.err, kv.ErrClosed) {
			t.Errorf("writer %d stopped with %v, want ErrClosed", h.w, h.err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "wal.log.compact")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	db = openDB(t, dir, opts)
	for _, h := range ws {
		h.check(t, db)
	}
	checkAccounting(t, db)
}

// waitRewritten waits for the event that reports the whole old log
// scanned, or for the end of the compaction.
func waitRewritten(tb testing.TB, events <-chan kv.CompactionEvent) {
	tb.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == kv.CompactionProgress && ev.Done == ev.Total || ev.Kind == kv.CompactionFinished || ev.Kind == kv.CompactionFailed {
				return
			}
		case <-timeout:
			tb.Fatal("the compaction's rewrite did not finish")
		}
	}
}

// TestCompactUnderSustainedNoSyncWriters runs one compaction beside
// writers that never pause: it must finish while they still write, and
// leave a log whose stale part is what arrived while it copied, not a
// multiple of the old log.
func TestCompactUnderSustainedNoSyncWriters(t *testing.T) {
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db := openDB(t, dir, opts)
	fillHot(t, db, 100_000)
	before := db.Stats()
	events, cancel := db.Subscribe()
	defer cancel()
	stop := make(chan struct{})
	// The compaction takes well under a second; the cap only keeps a
	// compaction that cannot finish from running the writers forever.
	capTimer := time.AfterFunc(20*time.Second, func() { close(stop) })
	defer capTimer.Stop()
	ws, wait := startHotWriters(db, 2, stop)
	err := db.Compact()
	stopped := !capTimer.Stop()
	if !stopped {
		close(stop)
	}
	wait()
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if stopped {
		t.Fatalf("Compact returned only after the writers were stopped, 20s later")
	}
	for _, h := range ws {
		if h.err != nil {
			t.Fatalf("writer %d: %v", h.w, h.err)
		}
	}
	// The old log was all but entirely stale. The new one, as the swap
	// put it in place, holds the live records, and of what the writers
	// added meanwhile what was still live when it was copied: a small part
	// of the old log, not the whole of what they wrote.
	fin := finishedEvent(t, events)
	if fin.OldSize <= before.LogBytes || 4*fin.NewSize > before.LogBytes {
		t.Errorf("compaction of a %d-byte log, %d bytes live, replaced %d bytes with %d", before.LogBytes, before.LiveBytes, fin.OldSize, fin.NewSize)
	}
	for _, h := range ws {
		h.check(t, db)
	}
	checkAccounting(t, db)
}

// finishedEvent returns the Finished event of the compaction that events
// follow.
func finishedEvent(tb testing.TB, events <-chan kv.CompactionEvent) kv.CompactionEvent {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			switch ev.Kind {
			case kv.CompactionFinished:
				return ev
			case kv.CompactionFailed:
				tb.Fatalf("compaction failed: %v", ev.Err)
			}
		case <-timeout:
			tb.Fatal("no Finished event")
		}
	}
}

// TestAutoCompactionBoundsNoSyncLog runs one NoSync writer as fast as it can
// under the default policy and samples the log's size: compactions must keep
// up, so that once the last one settles the log is within a small multiple
// of the larger of its live data and the policy's minimum log size. While
// the writer runs, the log also holds what it wrote during the compaction
// in progress, whose syncs take milliseconds whatever the log's size: the
// bound on the peak is looser, but it still holds however long the writer
// runs.
func TestAutoCompactionBoundsNoSyncLog(t *testing.T) {
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true}
	db := openDB(t, dir, opts)
	stop := make(chan struct{})
	ws, wait := startHotWriters(db, 1, stop)
	var peak kv.Stats
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if st := db.Stats(); st.LogBytes > peak.LogBytes {
			peak = st
		}
	}
	close(stop)
	wait()
	if ws[0].err != nil {
		t.Fatal(ws[0].err)
	}
	waitFor(t, "the last compaction", func() bool { return !db.Stats().Compacting })
	st := db.Stats()
	bound := 4 * max(st.LiveBytes, compact.DefaultMinLogBytes)
	t.Logf("%d writes, %d compactions; peak log %d bytes, live %d; now %+v", ws[0].writes, st.Compactions, peak.LogBytes, peak.LiveBytes, st)
	if st.Compactions == 0 {
		t.Fatal("no compaction ran")
	}
	if peak.LogBytes > 8*bound {
		t.Errorf("the log reached %d bytes with %d live (bound %d)", peak.LogBytes, peak.LiveBytes, 8*bound)
	}
	if st.LogBytes > bound {
		t.Errorf("after the writer stopped the log is %d bytes with %d live (bound %d)", st.LogBytes, st.LiveBytes, bound)
	}
	ws[0].check(t, db)
	checkAccounting(t, db)
}
