//go:build unix

package kv_test

import (
	"fmt"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// BenchmarkViewAfterFill fills 96 MiB of values of each size (untimed),
// then views keys in a scattered order: random reads right after a fill,
// of records copied into the log's map (below 32 KiB) or written and
// read with pread. It reports the CPU time of a View beside its wall time.
func BenchmarkViewAfterFill(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			db := openDB(b, b.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			val := make([]byte, size)
			var k []byte
			n := (96 << 20) / size
			for i := range n {
				k = benchKey(k, i)
				if err := db.Put(k, val); err != nil {
					b.Fatal(err)
				}
			}
			ru := startCPU(b)
			b.ResetTimer()
			for i := range b.N {
				k = benchKey(k, (i*7919)%n)
				if err := db.View(k, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCPU(b, ru)
		})
	}
}
