package kv_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// scanBenchStore fills a NoSync store with n keys of 16 hex digits in
// random order and 100-byte values, and scans it once so that it has its
// key order.
func scanBenchStore(b *testing.B, n int) *kv.DB {
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
	return db
}

// BenchmarkScanFull scans a million keys with their values.
func BenchmarkScanFull(b *testing.B) {
	db := scanBenchStore(b, 1_000_000)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := db.Scan(nil, nil, func(k, v []byte) bool { n++; return true }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "keys/op")
	}
}

// BenchmarkScanSeek100 seeks to random points of a million keys and reads
// 100 keys and values from each.
func BenchmarkScanSeek100(b *testing.B) {
	db := scanBenchStore(b, 1_000_000)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := db.Scan(fmt.Appendf(nil, "%016x", rng.Uint64()), nil, func(k, v []byte) bool { n++; return n < 100 }); err != nil {
			b.Fatal(err)
		}
	}
}
