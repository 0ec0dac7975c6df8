package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// groupWriters is how many synced writers TestCrashDuringGroupCommit runs,
// each on keys of its own, so that each key has at most one write in flight.
const groupWriters = 8

// TestCrashDuringGroupCommit runs synced writers that share fsyncs, and cuts
// the power at a random file-system operation: the disk keeps a random
// subset of the sectors written since the last sync, so one record of a
// batch in flight can be lost while a later one survives. The store must
// open, hold every acknowledged write (or the write in flight on the same
// key), and hold nothing that was never written. Some values are larger
// than walfmt.SyncWindow, and together the writers can have several times
// the window in flight: the engine must keep what it leaves unsynced within
// the window, or a crash leaves damage that Open cannot tell from
// corruption. Which operation crashes depends on the scheduler, so a seed
// does not replay a round exactly.
func TestCrashDuringGroupCommit(t *testing.T) {
	seed := baseSeed(t)
	torn := 0
	n := rounds(4, 12)
	for round := range n {
		s := seed + uint64(round)
		if groupCommitCrash(t, s) {
			torn++
		}
		if t.Failed() {
			t.Fatalf("failed with seed %d (rerun with -crash.seed=%d -crash.rounds=1)", s, s)
		}
	}
	t.Logf("%d crashes, %d of them left a torn tail", n, torn)
}

// writerLog is what one writer of TestCrashDuringGroupCommit did: the last
// acknowledged value of each of its keys (absent for a delete), and the
// write it was making when the crash stopped it.
type writerLog struct {
	acked    map[string]string
	inflight *op
}

// groupCommitCrash runs one round and reports whether Open cut a torn tail.
func groupCommitCrash(t *testing.T, seed uint64) bool {
	rng := rand.New(rand.NewPCG(seed, 1))
	mem := newMemFS()
	db, err := kv.Open(memDir, memOptions(mem, false))
	if err != nil {
		t.Fatal(err)
	}
	mem.CrashAfter(rng.IntN(250), keepSubset, rand.New(rand.NewPCG(seed, 2)))
	logs := make([]writerLog, groupWriters)
	var wg sync.WaitGroup
	for w := range groupWriters {
		wg.Go(func() { logs[w] = groupWrite(t, db, w, seed) })
	}
	wg.Wait()
	db.Close() // may crash too, or fail after the crash
	img := mem.CrashImage()
	if img == nil {
		img = mem.Crash(keepSubset, rng)
	}
	rep, err := kv.VerifyFS(img, memDir)
	if err != nil || rep.Corrupt() {
		t.Errorf("seed %d: Verify after the crash = %+v, %v; want no corruption", seed, rep.Damage, err)
	}
	db, err = kv.Open(memDir, memOptions(img, false))
	if err != nil {
		t.Errorf("seed %d: Open after the crash: %v", seed, err)
		return false
	}
	defer db.Close()
	st := db.Stats()
	if st.TruncatedBytes != rep.TornBytes {
		t.Errorf("seed %d: Open cut %d bytes, Verify reports a torn tail of %d", seed, st.TruncatedBytes, rep.TornBytes)
	}
	checkGroupState(t, seed, readState(t, db), logs)
	return st.TruncatedBytes > 0
}

// groupWrite writes until the crash stops it, or 20 times. Values are
// "s<seed>-w<w>-<i>" padded to sizes from a few bytes to more than
// walfmt.SyncWindow.
func groupWrite(t *testing.T, db *kv.DB, w int, seed uint64) writerLog {
	rng := rand.New(rand.NewPCG(seed, uint64(10+w)))
	l := writerLog{acked: map[string]string{}}
	for i := range 20 {
		o := &op{kind: 'P', key: fmt.Sprintf("w%d-k%d", w, rng.IntN(6))}
		var size int
		switch r := rng.IntN(60); {
		case r == 0:
			size = walfmt.SyncWindow + rng.IntN(64<<10)
		case r < 12:
			size = 32<<10 + rng.IntN(128<<10)
		case r < 18:
			o.kind, o.value = 'D', absent
		default:
			size = rng.IntN(2000)
		}
		if o.kind == 'P' {
			v := fmt.Sprintf("s%d-w%d-%d-", seed%1000, w, i)
			o.value = v + strings.Repeat("x", max(size-len(v), 0))
		}
		l.inflight = o
		if err := o.run(db); err != nil {
			if !errors.Is(err, errCrashed) {
				t.Errorf("seed %d: writer %d: %v, want the simulated crash", seed, w, err)
			}
			return l
		}
		l.acked[o.key], l.inflight = o.value, nil
	}
	return l
}

// checkGroupState checks got, read after the crash, against what the
// writers did.
func checkGroupState(t *testing.T, seed uint64, got state, logs []writerLog) {
	t.Helper()
	allowed := map[string][]string{}
	for _, l := range logs {
		for k, v := range l.acked {
			allowed[k] = []string{v}
		}
		if o := l.inflight; o != nil {
			before, ok := allowed[o.key]
			if !ok {
				before = []string{absent}
			}
			allowed[o.key] = append(before, o.value)
		}
	}
	for k, vals := range allowed {
		if g := got.get(k); !slices.Contains(vals, g) {
			t.Errorf("seed %d: key %s = %.24q (%d bytes), want one of %.24q", seed, k, g, len(g), vals)
		}
	}
	for k := range got {
		if _, ok := allowed[k]; !ok {
			t.Errorf("seed %d: key %s was never written", seed, k)
		}
	}
}

// windowFS wraps a kv.FS and measures, at each write to wal.log, how many
// bytes have been written since the start of the last sync that completed:
// an upper bound of what a crash at that moment could lose.
type windowFS struct {
	kv.FS
	// mu guards the fields below.
	mu       sync.Mutex
	written  int64 // bytes written to the log so far
	writes   int   // writes to the log so far
	durable  int64 // written, as of the start of the last completed sync
	durableN int   // writes, likewise
	worst    int64 // most bytes written past durable by two or more writes
	largest  int64 // most bytes written past durable by a single write
}

func (w *windowFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	f, err := w.FS.OpenFile(name, flag, perm)
	if err != nil || filepath.Base(name) != "wal.log" {
		return f, err
	}
	return &windowFile{File: f, w: w}, nil
}

type windowFile struct {
	kv.File
	w *windowFS
}

func (f *windowFile) WriteAt(p []byte, off int64) (int, error) {
	w := f.w
	w.mu.Lock()
	w.written += int64(len(p))
	w.writes++
	past := w.written - w.durable
	if w.writes-w.durableN > 1 {
		w.worst = max(w.worst, past)
	} else {
		w.largest = max(w.largest, past)
	}
	w.mu.Unlock()
	return f.File.WriteAt(p, off)
}

func (f *windowFile) Sync() error {
	w := f.w
	w.mu.Lock()
	written, writes := w.written, w.writes
	w.mu.Unlock()
	err := f.File.Sync()
	if err == nil {
		w.mu.Lock()
		w.durable, w.durableN = max(w.durable, written), max(w.durableN, writes)
		w.mu.Unlock()
	}
	return err
}

// TestSyncWindowBoundsUnsyncedBytes runs synced writers whose values
// together overflow walfmt.SyncWindow many times over, and checks the
// writer's side of the window at every append: no more than the window is
// ever written past the last sync, except by a single record larger than
// the window.
func TestSyncWindowBoundsUnsyncedBytes(t *testing.T) {
	wfs := &windowFS{FS: newMemFS()}
	db := openDB(t, memDir, memOptions(wfs, false))
	var wg sync.WaitGroup
	for w := range groupWriters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range 12 {
				size := 64<<10 + rng.IntN(192<<10)
				if i == 6 && w < 2 {
					size = walfmt.SyncWindow + 1000
				}
				if err := db.Put(fmt.Appendf(nil, "w%d-%d", w, i), make([]byte, size)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	wfs.mu.Lock()
	defer wfs.mu.Unlock()
	t.Logf("most written past a sync: %d bytes by several writes, %d by one", wfs.worst, wfs.largest)
	if wfs.worst > walfmt.SyncWindow {
		t.Errorf("%d bytes were written past the last sync, more than the window of %d", wfs.worst, walfmt.SyncWindow)
	}
	if wfs.largest <= walfmt.SyncWindow {
		t.Errorf("no record larger than the window was written alone (at most %d bytes)", wfs.largest)
	}
}

// windowLog builds a log whose damaged record at bad is followed by valid
// records that end exactly reach bytes after bad's start.
func windowLog(tb testing.TB, reach int64) (data []byte, bad int64, before state) {
	tb.Helper()
	data = walfmt.AppendHeader(nil)
	data = walfmt.AppendPut(data, []byte("before"), []byte("kept"))
	bad = int64(len(data))
	data = walfmt.AppendPut(data, []byte("damaged"), []byte("lost value"))
	data = walfmt.AppendPut(data, []byte("after"), []byte("small"))
	// The last record fills the rest of the reach.
	rest := reach - (int64(len(data)) - bad)
	val := int(rest) - walfmt.RecordSize(len("last"), 0)
	if val < 0 {
		tb.Fatalf("reach %d too short", reach)
	}
	data = walfmt.AppendPut(data, []byte("last"), bytes.Repeat([]byte{'v'}, val))
	if int64(len(data))-bad != reach {
		tb.Fatalf("built a reach of %d, want %d", int64(len(data))-bad, reach)
	}
	data[bad+int64(walfmt.RecordSize(len("damaged"), 3))] ^= 0x01 // a byte of the value
	return data, bad, state{"before": "kept"}
}

// TestSyncWindowDecidesTornTail damages a record followed by valid records,
// which end at most, or just more than, walfmt.SyncWindow bytes past the
// damage's start. Within the window, the records after the damage can only
// be writes that were in flight with it when the power failed: Open cuts
// them all as a torn tail, writable or read only, and Verify and Repair
// report the same span. One byte further and the damage cannot come from a
// crash: Open refuses the log as corrupt, naming the damaged record.
func TestSyncWindowDecidesTornTail(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reach int64
		torn  bool
	}{
		{"within the window", 4 << 10, true},
		{"exactly the window", walfmt.SyncWindow, true},
		{"one byte past the window", walfmt.SyncWindow + 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, bad, want := windowLog(t, tt.reach)
			rec := imageRec{off: bad}
			if !tt.torn {
				checkCorrupt(t, data, rec, tt.name)
				vr, err := kv.VerifyFS(memLog(data), memDir)
				if err != nil || !vr.Corrupt() || vr.FirstBad != bad || vr.TornBytes != 0 {
					t.Errorf("Verify = %+v, %v; want corruption at %d", vr, err, bad)
				}
				return
			}
			torn := int64(len(data)) - bad
			vr, err := kv.VerifyFS(memLog(data), memDir)
			wantSpan := []kv.Span{{Offset: bad, Length: torn, Reason: "checksum mismatch", Torn: true}}
			if err != nil || vr.Corrupt() || vr.TornBytes != torn || !slices.Equal(vr.Damage, wantSpan) || vr.Records != 1 {
				t.Errorf("Verify = %+v, %v; want a torn tail of %d bytes at %d and 1 record", vr, err, torn, bad)
			}
			for _, ro := range []bool{true, false} {
				mem := memLog(data)
				got, st, err := openState(t, memDir, &kv.Options{FS: mem, ReadOnly: ro})
				if err != nil {
					t.Fatalf("ReadOnly %v: Open: %v", ro, err)
				}
				if st.TruncatedBytes != torn || st.LogBytes != bad {
					t.Errorf("ReadOnly %v: TruncatedBytes %d, LogBytes %d; want %d, %d", ro, st.TruncatedBytes, st.LogBytes, torn, bad)
				}
				if d := diffState(got, want); d != "" {
					t.Errorf("ReadOnly %v: content:\n%s", ro, d)
				}
				wantLog := data
				if !ro {
					wantLog = data[:bad]
				}
				if b, _ := mem.ReadFile(memLogPath); !bytes.Equal(b, wantLog) {
					t.Errorf("ReadOnly %v: the log is %d bytes after Open, want %d", ro, len(b), len(wantLog))
				}
			}
			mem := memLog(data)
			rr, err := kv.RepairFS(mem, memDir)
			if err != nil || rr.Salvaged != 1 || !slices.Equal(rr.Lost, wantSpan) || rr.NewBytes != bad {
				t.Errorf("Repair = %+v, %v; want 1 record salvaged and the torn tail lost", rr, err)
			}
		})
	}
}
