package kv_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// BenchmarkFillBesideReaders fills a store with b.N new keys (NoSync,
// 100-byte values) while readers Get keys already written, as a program
// that reads what it writes does: ns/op is the writer's time per Put,
// and gets/s the readers' pace beside it. With readers=0 it is the fill
// alone, to compare with.
func BenchmarkFillBesideReaders(b *testing.B) {
	for _, readers := range []int{0, 1, 2} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			db := openDB(b, b.TempDir(), &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			var written atomic.Int64
			var gets atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for r := range readers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(r), 1))
					var k []byte
					n := int64(0)
					defer func() { gets.Add(n) }()
					for {
						select {
						case <-stop:
							return
						default:
						}
						w := written.Load()
						if w == 0 {
							continue
						}
						k = benchKey(k, int(rng.Int64N(w)))
						if _, err := db.Get(k); err != nil {
							b.Error(err)
							return
						}
						n++
					}
				})
			}
			b.SetBytes(int64(16 + len(benchValue)))
			var k []byte
			b.ResetTimer()
			for i := range b.N {
				k = benchKey(k, i)
				if err := db.Put(k, benchValue); err != nil {
					b.Fatal(err)
				}
				written.Store(int64(i + 1))
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			if readers > 0 {
				b.ReportMetric(float64(gets.Load())/b.Elapsed().Seconds(), "gets/s")
			}
		})
	}
}
