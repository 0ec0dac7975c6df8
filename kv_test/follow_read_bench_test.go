//go:build unix

package kv_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// The follower's read benchmarks browse a store of CRABKV_BENCH_FOLLOW_KEYS
// keys (a million by default: 16-byte keys in scattered order, 100-byte
// values). It is written on first use into CRABKV_BENCH_FOLLOW_DIR when
// that names a directory, and kept there for later runs (so that two
// builds compare on the same files), else into a temporary directory. The
// store has no key order file: a follower's first iterator sorts.
//
//	CRABKV_BENCH_FOLLOW_DIR=/tmp/f1m go test -run '^$' -bench 'Follower(Get|Scan|Order)' ./kv_test/
const followBenchDirEnv = "CRABKV_BENCH_FOLLOW_DIR"

func followBenchKeys() int {
	if n, err := strconv.Atoi(os.Getenv("CRABKV_BENCH_FOLLOW_KEYS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

func followBenchKey(i int) []byte { return fmt.Appendf(nil, "%016x", uint64(i)*0x9E3779B97F4A7C15) }

// followBenchStore returns the directory of the benchmarks' store.
func followBenchStore(b *testing.B) (string, int) {
	b.Helper()
	n := followBenchKeys()
	root := os.Getenv(followBenchDirEnv)
	if root == "" {
		root = b.TempDir()
	}
	dir := filepath.Join(root, strconv.Itoa(n))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return dir, n
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 100)
	for i := range n {
		if err := db.Put(followBenchKey(i), val); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "wal.order")); err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir, n
}

// processCPU is the processor time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFollowerGet reads random keys of the store through a follower,
// and, for comparison, through a writer.
func BenchmarkFollowerGet(b *testing.B) {
	dir, n := followBenchStore(b)
	for _, c := range []struct {
		name string
		opts *kv.Options
	}{{"follower", &kv.Options{ReadOnly: true}}, {"writer", &kv.Options{NoSync: true}}} {
		b.Run(c.name, func(b *testing.B) {
			db := openDB(b, dir, c.opts)
			rng := rand.New(rand.NewPCG(5, 6))
			c0 := processCPU(b)
			b.ResetTimer()
			for b.Loop() {
				if _, err := db.Get(followBenchKey(rng.IntN(n))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU(b)-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkFollowerScan scans the whole store, keys and values, through a
// follower whose key order is built.
func BenchmarkFollowerScan(b *testing.B) {
	dir, n := followBenchStore(b)
	db := openDB(b, dir, &kv.Options{ReadOnly: true})
	scan := func() {
		seen := 0
		if err := db.Scan(nil, nil, func(k, v []byte) bool { seen++; return true }); err != nil {
			b.Fatal(err)
		}
		if seen != n {
			b.Fatalf("scanned %d keys, want %d", seen, n)
		}
	}
	scan() // builds the order
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		c0 := processCPU(b)
		scan()
		cpu += processCPU(b) - c0
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkFollowerOrder opens a follower and reads the first key of its
// first iterator: the sort of every key, read from the log, that builds
// the key order.
func BenchmarkFollowerOrder(b *testing.B) {
	dir, _ := followBenchStore(b)
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		db := openDB(b, dir, &kv.Options{ReadOnly: true})
		c0 := processCPU(b)
		b.StartTimer()
		it := db.NewIterator(nil, nil)
		if !it.Next() {
			b.Fatalf("no first key: %v", it.Err())
		}
		if err := it.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU(b) - c0
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
