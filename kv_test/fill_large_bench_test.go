//go:build unix

package kv_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// benchValueSizes are the value sizes of the large-value benchmarks: the
// small values of the other benchmarks, a page, and sixteen pages.
var benchValueSizes = []int{100, 1 << 10, 4 << 10, 64 << 10}

// reportCPU reports the process's CPU time (user and system) per operation
// since start, which on a busy machine says more than the wall time.
func reportCPU(b *testing.B, start syscall.Rusage) {
	var end syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &end); err != nil {
		b.Fatal(err)
	}
	ns := end.Utime.Nano() + end.Stime.Nano() - start.Utime.Nano() - start.Stime.Nano()
	b.ReportMetric(float64(ns)/float64(b.N), "cpu-ns/op")
}

func startCPU(b *testing.B) syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru
}

// BenchmarkPutLarge fills a NoSync store with new keys of each value size.
func BenchmarkPutLarge(b *testing.B) {
	for _, size := range benchValueSizes {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			db := openDB(b, b.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			val := make([]byte, size)
			b.SetBytes(int64(16 + size))
			var k []byte
			ru := startCPU(b)
			b.ResetTimer()
			for i := range b.N {
				k = benchKey(k, i)
				val[0] = byte(i)
				if err := db.Put(k, val); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCPU(b, ru)
		})
	}
}

// BenchmarkPutGetRecent puts a new key of each value size, then gets one
// of the last 10,000 keys written: reads of records the writer has just
// copied into the log, near and far behind it.
func BenchmarkPutGetRecent(b *testing.B) {
	const window = 10_000
	for _, size := range benchValueSizes {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			db := openDB(b, b.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			val := make([]byte, size)
			rng := rand.New(rand.NewPCG(1, 2))
			var k []byte
			ru := startCPU(b)
			b.ResetTimer()
			for i := range b.N {
				k = benchKey(k, i)
				if err := db.Put(k, val); err != nil {
					b.Fatal(err)
				}
				k = benchKey(k, i-rng.IntN(min(i, window)+1))
				if err := db.View(k, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCPU(b, ru)
		})
	}
}

// BenchmarkViewJustWritten fills b.N keys of each value size (untimed),
// then views each once, in the order written: the first read of records
// the writer has just put in the log, whose pages it may no longer map.
func BenchmarkViewJustWritten(b *testing.B) {
	for _, size := range benchValueSizes {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			db := openDB(b, b.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			val := make([]byte, size)
			var k []byte
			for i := range b.N {
				k = benchKey(k, i)
				if err := db.Put(k, val); err != nil {
					b.Fatal(err)
				}
			}
			ru := startCPU(b)
			b.ResetTimer()
			for i := range b.N {
				k = benchKey(k, i)
				if err := db.View(k, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCPU(b, ru)
		})
	}
}
