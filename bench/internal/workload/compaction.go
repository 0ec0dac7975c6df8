package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crabkv/crabkv/bench/internal/keys"
	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"golang.org/x/sys/unix"
)

// KindCompaction times CrabKv's Compact on a log of N live keys written
// twice over (half its bytes stale), beside a sequential-write probe of the
// same number of bytes in the same process; CrabKv only.
const KindCompaction = "compaction"

// compactionWriters is how many synced writers run beside the compaction
// in the variant with writers.
const compactionWriters = 4

// CompactionSpecs returns the compaction workloads for n keys of 100-byte
// values (and n/8 of 1 KiB values, about the same bytes).
func CompactionSpecs(n int) []Spec {
	const doc = "fill N keys twice (half the log stale), sync, then time db.Compact with the page cache warm; " +
		"beside it, write as many bytes as the compaction kept to a file in 1 MiB writes and one fdatasync"
	return []Spec{
		{ID: "compaction 100B", Kind: KindCompaction, N: n, Threads: 1, CrabOnly: true, Doc: doc},
		{ID: "compaction 1KiB", Kind: KindCompaction, N: max(1, n/8), Threads: 1, ValueSize: 1 << 10, CrabOnly: true, Doc: doc},
		{ID: "compaction 100B synced writers", Kind: KindCompaction, N: n, Threads: 1 + compactionWriters, Sync: true, CrabOnly: true,
			Doc: "the same with sync on, timed once alone and once beside 4 writers that overwrite random keys, each Put fdatasynced; " +
				"the writers run as long again before the compaction, for the longest Put without it"},
	}
}

// compaction runs a compaction workload. Reported (Extra): the live MiB/s
// the compaction wrote, its CPU seconds, the probes' median MiB/s (and
// their range) and the ratio of the two, and how long its swap held
// writers out; with writers, the
// time beside them over the time alone, the longest Put during the
// compaction, the longest in a span as long before it, without it, and
// how long the swap beside them held them out.
func (r *runner) compaction(res *Result) error {
	if r.engine != "crabkv" {
		return fmt.Errorf("compaction: CrabKv only")
	}
	if err := r.overwriteAll(0, 2); err != nil {
		return err
	}
	opts := &kv.Options{NoSync: !r.spec.Sync, Compaction: compact.Policy{Disabled: true}}
	db, err := kv.Open(r.dir, opts)
	if err != nil {
		return err
	}
	alone, err := r.timeCompact(db, res)
	closing := time.Now()
	if err := errors.Join(err, db.Close()); err != nil {
		return err
	}
	// Close waits for the old log to be freed, which Compact does not.
	res.Extra["close_ms"] = float64(time.Since(closing).Microseconds()) / 1000
	// The probe runs once the store is closed: a compaction frees the log
	// it replaced after it returns, and Close waits for that, so the
	// probe's writes and syncs do not share the disk with the freeing.
	if err := r.probeDisk(res); err != nil || r.spec.Threads == 1 {
		return err
	}
	if err := r.overwriteAll(2, 1); err != nil {
		return err
	}
	if db, err = kv.Open(r.dir, opts); err != nil {
		return err
	}
	beside, held, maxPut, maxIdle, err := r.compactBesideWriters(db, alone)
	res.Values[r.spec.ID] = float64(beside.Microseconds()) / 1000
	res.Extra["alone_ms"] = float64(alone.Microseconds()) / 1000
	res.Extra["beside_over_alone"] = beside.Seconds() / alone.Seconds()
	res.Extra["max_put_ms"] = float64(maxPut.Microseconds()) / 1000
	res.Extra["max_put_idle_ms"] = float64(maxIdle.Microseconds()) / 1000
	res.Extra["held_ms"] = float64(held.Microseconds()) / 1000
	return errors.Join(err, db.Close())
}

// overwriteAll Puts every key rounds times, generations from gen on, with
// sync off, closes the store, and flushes every dirty page, so that the
// timed part pays for none of them; the log stays in the page cache.
func (r *runner) overwriteAll(gen, rounds int) error {
	db, err := kv.Open(r.dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		return err
	}
	var k []byte
	for g := gen; g < gen+rounds; g++ {
		for i := range uint64(r.spec.N) {
			k = keys.Append(k[:0], i)
			if err := db.Put(k, r.val(i, uint64(g))); err != nil {
				return errors.Join(err, db.Close())
			}
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	unix.Sync()
	return nil
}

// timeCompact times db.Compact alone, with its CPU time.
func (r *runner) timeCompact(db *kv.DB, res *Result) (time.Duration, error) {
	before := db.Stats()
	cpu0 := cpuTime()
	start := time.Now()
	held, err := compactHeld(db)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	cpu := cpuTime() - cpu0
	live := db.Stats().LogBytes
	mib := float64(live) / (1 << 20)
	res.Seconds = took.Seconds()
	res.Values[r.spec.ID] = float64(took.Microseconds()) / 1000
	res.Extra = map[string]float64{
		"log_mib": float64(before.LogBytes) / (1 << 20), "live_mib": mib,
		"live_mib_s": mib / took.Seconds(), "cpu_s": cpu.Seconds(),
		"held_ms": float64(held.Microseconds()) / 1000,
	}
	return took, nil
}

// diskProbes is how many times probeDisk writes: this disk's rate varies
// by a factor of three from one write to the next.
const diskProbes = 3

// probeDisk writes as many bytes as the compaction kept to a new file,
// diskProbes times, and records the median rate (disk_mib_s), the slowest
// and the fastest, and the compaction's rate over the median (ratio).
func (r *runner) probeDisk(res *Result) error {
	mib := res.Extra["live_mib"]
	rates := make([]float64, 0, diskProbes)
	for range diskProbes {
		took, err := seqWrite(filepath.Join(r.dir, "probe"), int64(mib*(1<<20)))
		if err != nil {
			return err
		}
		rates = append(rates, mib/took.Seconds())
	}
	slices.Sort(rates)
	median := rates[len(rates)/2]
	res.Extra["disk_mib_s"] = median
	res.Extra["disk_mib_s_min"], res.Extra["disk_mib_s_max"] = rates[0], rates[len(rates)-1]
	res.Extra["ratio"] = res.Extra["live_mib_s"] / median
	return nil
}

// freeTail is how long the writers run on after Compact returns: the old
// log is freed after it, in steps that sync, and the longest Put beside
// the compaction counts the Puts beside those too.
const freeTail = 500 * time.Millisecond

// compactBesideWriters runs compactionWriters writers that overwrite random
// keys, lets them run alone for a span as long as the compaction alone
// took and freeTail, then times db.Compact beside them, and lets them run
// freeTail longer. It returns the compaction's time, the longest Put that
// overlapped it or the freeTail after it, and the longest Put of the span
// without it: the disk's own fdatasync times, which the first is to be
// read against.
func (r *runner) compactBesideWriters(db *kv.DB, alone time.Duration) (took, held, maxPut, maxIdle time.Duration, err error) {
	var (
		stop  atomic.Bool
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		puts  []timedPut
	)
	for w := range compactionWriters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(r.seed, uint64(w)+100))
			var k []byte
			var mine []timedPut
			for !stop.Load() {
				i := rng.Uint64N(uint64(r.spec.N))
				k = keys.Append(k[:0], i)
				t0 := time.Now()
				if err := db.Put(k, r.val(i, 9)); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				}
				mine = append(mine, timedPut{t0, time.Since(t0)})
			}
			mu.Lock()
			puts = append(puts, mine...)
			mu.Unlock()
		})
	}
	time.Sleep(200 * time.Millisecond) // the writers at their pace first
	idle := time.Now()
	time.Sleep(alone + freeTail)
	start := time.Now()
	held, err = compactHeld(db)
	took = time.Since(start)
	time.Sleep(freeTail)
	end := time.Now()
	stop.Store(true)
	wg.Wait()
	for _, p := range puts {
		switch done := p.start.Add(p.took); {
		case !p.start.Before(idle) && !done.After(start):
			maxIdle = max(maxIdle, p.took)
		case done.After(start) && p.start.Before(end):
			maxPut = max(maxPut, p.took)
		}
	}
	return took, held, maxPut, maxIdle, errors.Join(err, first)
}

// compactHeld runs db.Compact and returns how long it held writers out,
// from its Finished event.
func compactHeld(db *kv.DB) (time.Duration, error) {
	events, cancel := db.Subscribe()
	err := db.Compact()
	cancel()
	var held time.Duration
	for ev := range events { // Compact returned: its Finished is queued
		if ev.Kind == kv.CompactionFinished {
			held = ev.Held
		}
	}
	return held, err
}

// timedPut is when a Put began and how long it took.
type timedPut struct {
	start time.Time
	took  time.Duration
}

// seqWrite writes n bytes to a new file at path in 1 MiB writes and one
// fdatasync, as dd conv=fdatasync does, and returns the time it took: the
// rate the disk takes a large sequential write at, now.
func seqWrite(path string, n int64) (time.Duration, error) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			return 0, errors.Join(err, f.Close())
		}
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return 0, errors.Join(err, f.Close())
	}
	took := time.Since(start)
	return took, errors.Join(f.Close(), os.Remove(path))
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
