//go:build unix

package kv_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// scanBenchStore fills a NoSync store with n keys of 16 hex digits in
// random order and 100-byte values, and scans it once so that it has its
// key order. compacted compacts it after that scan, which rewrites its log
// in key order.
func scanBenchStore(b *testing.B, n int, compacted bool) *kv.DB {
	b.Helper()
	db := openDB(b, b.TempDir(), &kv.Options{NoSync: true})
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, 100)
	for i := range n {
		if err := db.Put(fmt.Appendf(nil, "%016x", rng.Uint64()^uint64(i)), val); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		b.Fatal(err)
	}
	if compacted {
		if err := db.Compact(); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// layouts runs bench on a store of n keys as written (records in the
// order they were put) and as compacted (records in key order).
func layouts(b *testing.B, n int, bench func(b *testing.B, db *kv.DB)) {
	for _, compacted := range []bool{false, true} {
		name := "layout=written"
		if compacted {
			name = "layout=compacted"
		}
		b.Run(name, func(b *testing.B) { bench(b, scanBenchStore(b, n, compacted)) })
	}
}

// BenchmarkScanFull scans a million keys with their values. Besides the
// wall time it reports the process's CPU time per key, which on a busy
// machine says more.
func BenchmarkScanFull(b *testing.B) {
	layouts(b, 1_000_000, func(b *testing.B, db *kv.DB) {
		b.ResetTimer()
		cpu, keys := startCPU(b), 0
		for b.Loop() {
			n := 0
			if err := db.Scan(nil, nil, func(k, v []byte) bool { n++; return true }); err != nil {
				b.Fatal(err)
			}
			keys += n
		}
		reportCPUPer(b, cpu, keys, "cpu-ns/key")
		b.ReportMetric(float64(keys)/float64(b.N), "keys/op")
	})
}

// BenchmarkScanRange scans ranges of 1% of the key space, holding 1% of
// a million keys, as a prefix scan would.
func BenchmarkScanRange(b *testing.B) {
	layouts(b, 1_000_000, func(b *testing.B, db *kv.DB) {
		rng := rand.New(rand.NewPCG(5, 6))
		b.ResetTimer()
		cpu, keys := startCPU(b), 0
		for b.Loop() {
			lo := rng.Uint64N(^uint64(0) - ^uint64(0)/100)
			err := db.Scan(fmt.Appendf(nil, "%016x", lo), fmt.Appendf(nil, "%016x", lo+^uint64(0)/100), func(k, v []byte) bool {
				keys++
				return true
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		reportCPUPer(b, cpu, keys, "cpu-ns/key")
		b.ReportMetric(float64(keys)/float64(b.N), "keys/op")
	})
}

// reportCPUPer reports the process's CPU time since start per one of n
// things, as unit.
func reportCPUPer(b *testing.B, start syscall.Rusage, n int, unit string) {
	var end syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &end); err != nil {
		b.Fatal(err)
	}
	ns := end.Utime.Nano() + end.Stime.Nano() - start.Utime.Nano() - start.Stime.Nano()
	b.ReportMetric(float64(ns)/float64(max(n, 1)), unit)
}

// BenchmarkScanSeek100 seeks to random points of a million keys and reads
// 100 keys and values from each.
func BenchmarkScanSeek100(b *testing.B) {
	layouts(b, 1_000_000, func(b *testing.B, db *kv.DB) {
		rng := rand.New(rand.NewPCG(3, 4))
		b.ResetTimer()
		cpu := startCPU(b)
		for b.Loop() {
			n := 0
			if err := db.Scan(fmt.Appendf(nil, "%016x", rng.Uint64()), nil, func(k, v []byte) bool { n++; return n < 100 }); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
}
