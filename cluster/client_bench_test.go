package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkRESPClient drives a running crabkv serve, a cluster node or a
// single server, with go-redis: 50 clients at once, SET and GET of 3-byte
// values, one command a round trip ("P1") or 16 pipelined ("P16"), as
// redis-benchmark -c 50 does. It reports requests per second and the p50
// and p99 latency of a round trip. bench/resp/cluster.sh runs it beside
// redis-benchmark:
//
//	CRABKV_BENCH_ADDR=127.0.0.1:6491 go test -run '^$' -bench RESPClient -benchtime 50000x ./cluster
//
// Each iteration is a round trip: b.N round trips of 16 commands for P16.
func BenchmarkRESPClient(b *testing.B) {
	addr := os.Getenv("CRABKV_BENCH_ADDR")
	if addr == "" {
		b.Skip("set CRABKV_BENCH_ADDR to the host:port of a running crabkv serve")
	}
	const clients = 50
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, PoolSize: clients, MinIdleConns: clients,
		MaxRetries: -1, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer c.Close()
	for _, pipe := range []int{1, 16} {
		for _, op := range []string{"set", "get"} {
			b.Run(fmt.Sprintf("%s-P%d", op, pipe), func(b *testing.B) {
				benchRESP(b, c, op, pipe, clients)
			})
		}
	}
}

func benchRESP(b *testing.B, c *redis.Client, op string, pipe, clients int) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := next.Add(1) - 1
			start := time.Now()
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := range pipe {
					key := fmt.Sprintf("key:%06d", (int(i)*pipe+j)%10000)
					if op == "set" {
						p.Set(ctx, key, "xxx", 0)
					} else {
						p.Get(ctx, key)
					}
				}
				return nil
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				b.Error(err)
				return
			}
			lat[i] = time.Since(start)
		}
	})
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*pipe)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
}
