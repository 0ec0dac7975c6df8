package cluster

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// The figures of a three-node cluster on loopback against the store alone:
//
//	go test -run '^$' -bench . -benchtime 2000x ./cluster

func BenchmarkPut(b *testing.B) {
	value := make([]byte, 100)
	b.Run("store", func(b *testing.B) {
		db, err := kv.Open(filepath.Join(b.TempDir(), "kv"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := db.Put(fmt.Appendf(nil, "k%d", i%1000), value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cluster3", func(b *testing.B) {
		l := startCluster(b, 3, nil).leader()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := l.Put(ctx(b), fmt.Appendf(nil, "k%d", i%1000), value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cluster3-parallel16", func(b *testing.B) {
		l := startCluster(b, 3, nil).leader()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if err := l.Put(ctx(b), fmt.Appendf(nil, "k%d", i%1000), value); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkGet(b *testing.B) {
	tc := startCluster(b, 3, nil)
	l := tc.leader()
	if err := l.Put(ctx(b), []byte("k"), []byte("v")); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		opts ReadOptions
	}{{"linearizable", ReadOptions{}}, {"stale", ReadOptions{Stale: true}}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := l.Get(ctx(b), []byte("k"), mode.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFailover stops the leader of a three-node cluster and measures
// how long until a write is accepted again, then restarts the old leader.
func BenchmarkFailover(b *testing.B) {
	tc := startCluster(b, 3, nil)
	var total time.Duration
	for b.Loop() {
		old := tc.leader()
		id := old.ID()
		start := time.Now()
		tc.stop(id)
		tc.retry("write after failover", func(l *Node) error { return l.Put(ctx(b), []byte("k"), []byte("v")) })
		total += time.Since(start)
		tc.open(tc.cfgs[id])
		tc.waitConverged()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/failover")
}
