package kv_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// benchKey returns the i-th 16-byte benchmark key.
func benchKey(buf []byte, i int) []byte {
	buf = append(buf[:0], "key:"...)
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 0), uint64(i))
}

var benchValue = make([]byte, 100)

// loadStore fills a store with n keys (each written rounds times) and
// closes it.
func loadStore(b *testing.B, dir string, n, rounds int) {
	b.Helper()
	db, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	var k []byte
	for range rounds {
		for i := range n {
			k = benchKey(k, i)
			if err := db.Put(k, benchValue); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPut(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoSync=%v", noSync), func(b *testing.B) {
			db := openDB(b, b.TempDir(), &kv.Options{NoSync: noSync, Compaction: compact.Policy{Disabled: true}})
			b.SetBytes(int64(16 + len(benchValue)))
			var k []byte
			b.ResetTimer()
			for i := range b.N {
				k = benchKey(k, i)
				if err := db.Put(k, benchValue); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutOverwriteHinted overwrites the keys of a store opened from
// its hint, where every write first looks its key up (the records the hint
// covers have unread checksums), against the same store replayed.
func BenchmarkPutOverwriteHinted(b *testing.B) {
	const n = 100_000
	for _, hinted := range []bool{true, false} {
		b.Run(fmt.Sprintf("hint=%v", hinted), func(b *testing.B) {
			dir := b.TempDir()
			loadStore(b, dir, n, 1)
			if !hinted {
				if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil {
					b.Fatal(err)
				}
			}
			db := openDB(b, dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			var k []byte
			b.ResetTimer()
			for i := range b.N {
				k = benchKey(k, i%n)
				if err := db.Put(k, benchValue); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	loadStore(b, dir, n, 1)
	db := openDB(b, dir, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	var k []byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		k = benchKey(k, rng.IntN(n))
		if _, err := db.Get(k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetMissing looks up keys that were never written, in a store of
// 200,000 keys: reopened from its hint, and still open after the fill that
// wrote them, which stops 3,392 writes into a growth of its index that
// 4,096 writes would have finished (growth.go finishes it in the first
// milliseconds of the loop: time it for a second or more).
func BenchmarkGetMissing(b *testing.B) {
	const n = 200_000
	for _, reopen := range []bool{true, false} {
		b.Run(fmt.Sprintf("reopened=%v", reopen), func(b *testing.B) {
			dir := b.TempDir()
			var db *kv.DB
			if reopen {
				loadStore(b, dir, n, 1)
				db = openDB(b, dir, nil)
			} else {
				db = openDB(b, dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
				var k []byte
				for i := range n {
					k = benchKey(k, i)
					if err := db.Put(k, benchValue); err != nil {
						b.Fatal(err)
					}
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var k []byte
			b.ReportAllocs()
			for b.Loop() {
				k = benchKey(k, n+rng.IntN(n))
				if _, err := db.Get(k); !errors.Is(err, kv.ErrNotFound) {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetParallel(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	loadStore(b, dir, n, 1)
	db := openDB(b, dir, nil)
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 2))
		var k []byte
		for pb.Next() {
			k = benchKey(k, rng.IntN(n))
			if _, err := db.Get(k); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOpen measures start-up on a log of 100k keys: from the hint file
// written by Close, and by replaying the whole log when there is none.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		dir := b.TempDir()
		loadStore(b, dir, n, 1)
		b.Run(fmt.Sprintf("keys=%d/hint", n), func(b *testing.B) { benchOpen(b, dir, nil) })
		if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil {
			b.Fatal(err)
		}
		// Read-only, so that Close does not write the hint back.
		b.Run(fmt.Sprintf("keys=%d/replay", n), func(b *testing.B) { benchOpen(b, dir, &kv.Options{ReadOnly: true}) })
	}
}

// BenchmarkOpenFirstGet measures start-up from the hint file up to the
// answer of the first Get, which waits for the check of the hint's slots.
func BenchmarkOpenFirstGet(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		dir := b.TempDir()
		loadStore(b, dir, n, 1)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			k := benchKey(nil, n/2)
			for range b.N {
				db, err := kv.Open(dir, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.Get(k); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				db.Close()
				b.StartTimer()
			}
		})
	}
}

func benchOpen(b *testing.B, dir string, opts *kv.Options) {
	for range b.N {
		db, err := kv.Open(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// BenchmarkCompact rewrites a log of 100k live keys, two thirds stale.
func BenchmarkCompact(b *testing.B) {
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		loadStore(b, dir, 100_000, 3)
		db, err := kv.Open(dir, &kv.Options{Compaction: compact.Policy{Disabled: true}})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(db.Stats().LogBytes)
		b.StartTimer()
		if err := db.Compact(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
	}
}

// BenchmarkLatencyDuringCompaction reports the longest Get and the longest
// Put seen by a steady reader and a steady writer while a log of about 64 MB
// is compacted, and the same with no compaction over the same span of time.
func BenchmarkLatencyDuringCompaction(b *testing.B) {
	for _, compacting := range []bool{true, false} {
		b.Run(fmt.Sprintf("compacting=%v", compacting), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				const n = 170_000 // 170k keys x 3 rounds x 132 bytes: 67 MB
				loadStore(b, dir, n, 3)
				db, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				maxGet, maxPut, took := latencyUnderLoad(b, db, n, compacting)
				b.StopTimer()
				b.ReportMetric(float64(maxGet.Microseconds()), "max-get-µs")
				b.ReportMetric(float64(maxPut.Microseconds()), "max-put-µs")
				b.ReportMetric(took.Seconds()*1000, "span-ms")
				b.ReportMetric(float64(db.Stats().LogBytes>>20), "log-MiB-after")
				db.Close()
			}
		})
	}
}

// latencyUnderLoad runs a steady reader and writer while the store compacts (or
// for a fixed span without compaction) and returns the longest Get and Put.
func latencyUnderLoad(b *testing.B, db *kv.DB, n int, compacting bool) (maxGet, maxPut, took time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	measure := func(op func(k []byte) error, worst *time.Duration, seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 9))
		var k []byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			k = benchKey(k, rng.IntN(n))
			t0 := time.Now()
			if err := op(k); err != nil {
				b.Error(err)
				return
			}
			*worst = max(*worst, time.Since(t0))
			// A steady load, not a spinning one: on two cores, two
			// spinning goroutines beside the compaction would measure the
			// scheduler's time slices instead of the engine.
			time.Sleep(50 * time.Microsecond)
		}
	}
	wg.Add(2)
	go measure(func(k []byte) error { _, err := db.Get(k); return err }, &maxGet, 1)
	go measure(func(k []byte) error { return db.Put(k, benchValue) }, &maxPut, 2)
	start := time.Now()
	if compacting {
		if err := db.Compact(); err != nil {
			b.Error(err)
		}
	} else {
		time.Sleep(time.Second)
	}
	took = time.Since(start)
	close(stop)
	wg.Wait()
	return maxGet, maxPut, took
}

// BenchmarkPutSyncConcurrent runs 8 synced writers: group commit lets them
// share fdatasyncs. Compare ns/op with BenchmarkPut/NoSync=false.
func BenchmarkPutSyncConcurrent(b *testing.B) {
	db := openDB(b, b.TempDir(), &kv.Options{Compaction: compact.Policy{Disabled: true}})
	var next atomic.Int64
	b.SetParallelism(4) // 4 x GOMAXPROCS(2) = 8 writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var k []byte
		for pb.Next() {
			k = benchKey(k, int(next.Add(1)))
			if err := db.Put(k, benchValue); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPutSyncConcurrentLarge is BenchmarkPutSyncConcurrent with
// 256 KiB values: 8 writers can then have more than walfmt.SyncWindow in
// flight, and a writer waits for the running sync before it appends past
// the window.
func BenchmarkPutSyncConcurrentLarge(b *testing.B) {
	db := openDB(b, b.TempDir(), &kv.Options{Compaction: compact.Policy{Disabled: true}})
	value := make([]byte, 256<<10)
	var next atomic.Int64
	b.SetBytes(int64(len(value)))
	b.SetParallelism(4) // 4 x GOMAXPROCS(2) = 8 writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var k []byte
		for pb.Next() {
			// Overwrite a few hundred keys, so the log's size is what
			// grows, not the memory the benchmark holds.
			k = benchKey(k, int(next.Add(1)%512))
			if err := db.Put(k, value); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkKeys takes a sorted snapshot of a million keys, as the inspector
// does when it opens a store.
func BenchmarkKeys(b *testing.B) {
	dir := b.TempDir()
	loadStore(b, dir, 1_000_000, 1)
	db := openDB(b, dir, nil)
	b.ResetTimer()
	for range b.N {
		if n := len(db.Keys(nil)); n != 1_000_000 {
			b.Fatalf("%d keys", n)
		}
	}
}

// BenchmarkCompactUnderNoSyncWriter compacts a log of 1,000 keys overwritten
// 200,000 times (26 MB, nearly all stale) while a NoSync writer overwrites
// them as fast as it can, and reports how long the compaction took, the
// size of the new log when it replaced the old one, and the size of the log
// when Compact returned (the writer kept appending meanwhile).
func BenchmarkCompactUnderNoSyncWriter(b *testing.B) {
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		loadStore(b, dir, 1000, 200)
		db, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
		if err != nil {
			b.Fatal(err)
		}
		events, cancel := db.Subscribe()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var writes atomic.Int64
		wg.Go(func() {
			var k []byte
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k = benchKey(k, i%1000)
				if err := db.Put(k, benchValue); err != nil {
					b.Error(err)
					return
				}
				writes.Add(1)
			}
		})
		b.StartTimer()
		start := time.Now()
		if err := db.Compact(); err != nil {
			b.Error(err)
		}
		took := time.Since(start)
		b.StopTimer()
		st := db.Stats()
		close(stop)
		wg.Wait()
		fin := finishedEvent(b, events)
		cancel()
		b.ReportMetric(took.Seconds()*1000, "compact-ms")
		b.ReportMetric(float64(fin.NewSize)/(1<<20), "new-log-MiB")
		b.ReportMetric(float64(st.LogBytes)/(1<<20), "log-MiB-after")
		b.ReportMetric(float64(writes.Load())/took.Seconds(), "writes/s")
		db.Close()
	}
}

// BenchmarkBatchWrite fills a store through synced batches of 1000 puts
// of BenchmarkPut's keys and values, one fsync a batch; b.N counts keys.
func BenchmarkBatchWrite(b *testing.B) {
	const size = 1000
	db := openDB(b, b.TempDir(), &kv.Options{Compaction: compact.Policy{Disabled: true}})
	b.SetBytes(int64(16 + len(benchValue)))
	batch := db.NewBatch()
	var k []byte
	b.ResetTimer()
	for i := range b.N {
		k = benchKey(k, i)
		batch.Put(k, benchValue)
		if batch.Len() == size || i == b.N-1 {
			if err := db.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkBatchWriteSmall writes NoSync batches of 16 puts of 3-byte
// values over 1,000 keys, as a RESP server applies a pipeline of SETs:
// what each put costs the writer, its append and its index update. b.N
// counts puts.
func BenchmarkBatchWriteSmall(b *testing.B) {
	db := openDB(b, b.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	batch := db.NewBatch()
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = benchKey(nil, i)
	}
	value := []byte("xyz")
	b.ResetTimer()
	for i := range b.N {
		batch.Put(keys[i%len(keys)], value)
		if batch.Len() == 16 || i == b.N-1 {
			if err := db.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
}

// BenchmarkBatchPublish writes batches of kv.MaxBatchOps puts of new keys
// (100-byte values) to a NoSync store, so that a Write is its append and
// its publication, while a reader looks a key up in a loop. It reports the
// longest lookup during each Write, the median and the worst of them: how
// long publishing a batch of that size keeps readers waiting.
func BenchmarkBatchPublish(b *testing.B) {
	for _, preload := range []int{0, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", preload), func(b *testing.B) {
			dir := b.TempDir()
			loadStore(b, dir, preload, 1)
			db := openDB(b, dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			mustPut(b, db, "probe", "v")
			batch := db.NewBatch()
			var k []byte
			var waits []time.Duration
			b.ResetTimer()
			for n := range b.N {
				b.StopTimer()
				batch.Reset()
				for i := range kv.MaxBatchOps {
					k = benchKey(k, preload+n*kv.MaxBatchOps+i)
					batch.Put(k, benchValue)
				}
				stop, done := make(chan struct{}), make(chan time.Duration)
				go func() { done <- longestRead(b, db, stop) }()
				b.StartTimer()
				if err := db.Write(batch); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				close(stop)
				waits = append(waits, <-done)
				b.StartTimer()
			}
			slices.Sort(waits)
			b.ReportMetric(float64(waits[len(waits)/2].Microseconds())/1000, "p50-read-wait-ms")
			b.ReportMetric(float64(waits[len(waits)-1].Microseconds())/1000, "max-read-wait-ms")
		})
	}
}

// longestRead looks up "probe" until stop is closed and returns the
// longest lookup.
func longestRead(b *testing.B, db *kv.DB, stop <-chan struct{}) time.Duration {
	var worst time.Duration
	for {
		select {
		case <-stop:
			return worst
		default:
		}
		start := time.Now()
		if _, err := db.Get([]byte("probe")); err != nil {
			b.Error(err)
			return worst
		}
		worst = max(worst, time.Since(start))
	}
}
