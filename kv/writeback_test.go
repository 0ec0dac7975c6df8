package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// rangeCall is one call of a writeback's range function.
type rangeCall struct {
	off, n int64
	wait   bool
}

// checkSchedule checks the calls a writeback made as a file was written up
// to each of ends in turn (calls[i] those made by the i-th): write-out is
// started front to back with no gap, every wait is for a range started
// earlier, and after each write no more than the range just started and
// writebackLag before it are in flight, and less than a step is written
// and not started.
func checkSchedule(t *testing.T, from int64, ends []int64, calls [][]rangeCall) {
	t.Helper()
	started, waited := from, from
	var last int64 // the size of the range started last
	for i, end := range ends {
		for _, c := range calls[i] {
			if c.wait {
				if c.off != waited || c.off+c.n > started {
					t.Fatalf("write %d: waits for [%d,%d), with [%d,%d) started and not waited for", i, c.off, c.off+c.n, waited, started)
				}
				waited = c.off + c.n
				continue
			}
			if c.off != started || c.n <= 0 {
				t.Fatalf("write %d: starts [%d,%d), want a range from %d", i, c.off, c.off+c.n, started)
			}
			started, last = c.off+c.n, c.n
		}
		if started > end {
			t.Fatalf("write %d: write-out started to %d, past the %d bytes written", i, started, end)
		}
		if end-started >= writebackStep {
			t.Fatalf("write %d: %d bytes written and not started (step %d)", i, end-started, writebackStep)
		}
		if started-waited > last+writebackLag {
			t.Fatalf("write %d: %d bytes in flight, more than the %d started last and %d before", i, started-waited, last, writebackLag)
		}
	}
}

// TestWritebackSchedule writes a file in pieces of random sizes, small and
// larger than a step, and checks how its write-out is paced.
func TestWritebackSchedule(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 5))
	var calls []rangeCall
	wb := &writeback{rng: func(off, n int64, wait bool) error {
		calls = append(calls, rangeCall{off, n, wait})
		return nil
	}}
	const from = 64
	wb.started, wb.waited = from, from
	var ends []int64
	var made [][]rangeCall
	end := int64(from)
	for range 500 {
		switch rng.IntN(3) {
		case 0:
			end += rng.Int64N(4 << 10)
		case 1:
			end += rng.Int64N(writebackStep)
		default:
			end += rng.Int64N(3 * writebackStep)
		}
		calls = nil
		if err := wb.written(end); err != nil {
			t.Fatal(err)
		}
		ends, made = append(ends, end), append(made, calls)
	}
	t.Logf("seed %d", seed)
	checkSchedule(t, from, ends, made)
}

// TestWritebackError stops at the first failed range: the error is the
// caller's to report, and nothing more is started.
func TestWritebackError(t *testing.T) {
	bad := fmt.Errorf("write-out failed")
	n := 0
	wb := &writeback{rng: func(off, _ int64, wait bool) error {
		n++
		if wait {
			return bad
		}
		return nil
	}}
	// The first wait, and so the failure, comes once a step more than
	// writebackLag is started.
	var end int64
	for range writebackLag/writebackStep + 1 {
		end += writebackStep
		if err := wb.written(end); err != nil {
			t.Fatalf("written(%d): %v, before any wait", end, err)
		}
	}
	end += 2 * writebackStep
	if err := wb.written(end); err != bad {
		t.Fatalf("written(%d): %v, want %v", end, err, bad)
	}
	calls := n
	if err := wb.written(end + writebackStep); err != bad {
		t.Fatalf("after a failure: %v, want %v", err, bad)
	}
	if n != calls {
		t.Fatalf("%d more ranges after a failure", n-calls)
	}
}

// TestCompactionPacesWriteback compacts a store of several mebibytes on
// the operating system's files and checks that the new log's write-out was
// started as it was written, a step at a time, rather than left whole to
// the final sync: a synced writer's fdatasync queues behind whatever the
// disk has been given, and a sync of the whole new log made writers beside
// the compaction wait for all of it.
func TestCompactionPacesWriteback(t *testing.T) {
	dir := t.TempDir()
	probe, err := DefaultFS().OpenFile(filepath.Join(dir, "probe"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	paced := fileRange(probe) != nil
	if err := probe.Close(); err != nil {
		t.Fatal(err)
	}
	if !paced {
		t.Skip("no paced write-out on this system")
	}
	var mu sync.Mutex
	var calls []rangeCall
	orig := fileRange
	fileRange = func(f File) func(off, n int64, wait bool) error {
		r := orig(f)
		of, ok := f.(osFile)
		if !ok || filepath.Base(of.Name()) != tempName {
			return r
		}
		return func(off, n int64, wait bool) error {
			mu.Lock()
			calls = append(calls, rangeCall{off, n, wait})
			mu.Unlock()
			return r(off, n, wait)
		}
	}
	t.Cleanup(func() { fileRange = orig })
	db, err := Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := bytes.Repeat([]byte("v"), 200)
	const keys = 40_000 // about 9 MiB live, as much stale
	for round := range 2 {
		for i := range keys {
			value[0] = byte(round)
			if err := db.Put(fmt.Appendf(nil, "key-%06d", i), value); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	size := db.Stats().LogBytes
	mu.Lock()
	defer mu.Unlock()
	// After each wait, what is in flight is the range started just
	// before it and writebackLag before that: at most the lag, a step and
	// a write of the copy.
	var started, waited, worst int64
	waits := 0
	for _, c := range calls {
		if c.wait {
			waits++
			waited = c.off + c.n
			worst = max(worst, started-waited)
		} else {
			if c.off != started && started != 0 {
				t.Fatalf("write-out of [%d,%d) started after [..,%d): a gap", c.off, c.off+c.n, started)
			}
			started = c.off + c.n
		}
	}
	if size-started >= writebackStep+copyChunk {
		t.Fatalf("write-out started for %d bytes of the %d-byte new log: the rest was left to the final sync", started, size)
	}
	if waits == 0 {
		t.Fatalf("no wait for the write-out of the %d-byte new log", size)
	}
	if bound := int64(writebackLag + writebackStep + copyChunk + 64<<10); worst > bound {
		t.Fatalf("%d bytes of the new log in flight, more than the lag, a step and a write (%d)", worst, bound)
	}
}
