package kv_test

import (
	"fmt"
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
