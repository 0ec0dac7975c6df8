package kv_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// BenchmarkCompactLive compacts a log of n keys written twice (half of it
// stale) with values of 100 bytes and of 1 KiB; MB/s is the live data
// written to the new log. Profile it with -cpuprofile: the store is built
// with the timer stopped, so the profile outside the build is the
// compaction's.
func BenchmarkCompactLive(b *testing.B) {
	for _, tc := range []struct{ n, size int }{{1_000_000, 100}, {125_000, 1024}} {
		b.Run(fmt.Sprintf("keys=%d/value=%d", tc.n, tc.size), func(b *testing.B) {
			value := make([]byte, tc.size)
			for i := range value {
				value[i] = byte(i * 31)
			}
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				db, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
				if err != nil {
					b.Fatal(err)
				}
				var k []byte
				for round := range 2 {
					for i := range tc.n {
						k = benchKey(k, i)
						value[0] = byte(round)
						if err := db.Put(k, value); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := db.Sync(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := db.Compact(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.SetBytes(db.Stats().LogBytes)
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompactKeyOrder compacts a million keys of 16 hex digits with
// 100-byte values, each put twice in two random orders (half the log
// stale): in log order, in a store never scanned, and in key order, in one
// scanned before (the scan itself untimed). MB/s is the old log's size.
func BenchmarkCompactKeyOrder(b *testing.B) {
	const n = 1_000_000
	for _, scanned := range []bool{false, true} {
		b.Run(fmt.Sprintf("scanned=%v", scanned), func(b *testing.B) {
			value := make([]byte, 100)
			for range b.N {
				b.StopTimer()
				db, err := kv.Open(b.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
				if err != nil {
					b.Fatal(err)
				}
				for round := range 2 {
					rng := rand.New(rand.NewPCG(uint64(round), 1))
					for _, i := range rng.Perm(n) {
						if err := db.Put(fmt.Appendf(nil, "%016x", uint64(i)*0x9E3779B97F4A7C15), value); err != nil {
							b.Fatal(err)
						}
					}
				}
				if scanned {
					if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
						b.Fatal(err)
					}
				}
				if err := db.Sync(); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(db.Stats().LogBytes)
				b.StartTimer()
				if err := db.Compact(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
