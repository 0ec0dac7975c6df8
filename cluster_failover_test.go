//go:build unix

package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkClusterFailover measures a cluster's failover: three crabkv
// serve --cluster processes on loopback; each iteration kills the leader
// with SIGKILL and times how long until a client, trying the nodes in
// turn and following -MOVED, has a write acknowledged again; then the old
// leader restarts and rejoins. It reports the median, fastest and slowest
// failover (raft's default one-second heartbeat and election timeouts).
// Run it with a fixed count, e.g. -bench ClusterFailover -benchtime 7x.
func BenchmarkClusterFailover(b *testing.B) {
	bin, err := exec.LookPath("crabkv")
	if err != nil {
		b.Fatalf("the test binary is not on PATH as crabkv: %v", err)
	}
	base := b.TempDir()
	ids := []string{"n1", "n2", "n3"}
	addr, raftAddr := map[string]string{}, map[string]string{}
	procs := map[string]*clusterProc{}
	var ports addrReservation
	for _, id := range ids {
		addr[id], raftAddr[id] = ports.take(b), ports.take(b)
	}
	ports.release()
	for i, id := range ids {
		extra := []string{"--bootstrap"}
		if i > 0 {
			extra = []string{"--join", addr["n1"]}
		}
		procs[id] = startNodeAt(b, bin, base, id, addr[id], raftAddr[id], extra...)
	}
	admin := map[string]*redis.Client{}
	for _, id := range ids {
		admin[id] = redis.NewClient(&redis.Options{Addr: addr[id], Protocol: 2, MaxRetries: -1,
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
		b.Cleanup(func() { admin[id].Close() })
	}
	// leader waits until every node names the same leader, and returns it.
	leader := func() string {
		var l string
		waitUntil(b, "every node to name the same leader", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			a := infoField(ctx, admin[ids[0]], "cluster_leader_addr")
			for _, id := range ids {
				if a == "" || infoField(ctx, admin[id], "cluster_leader_addr") != a {
					return false
				}
				if addr[id] == a {
					l = id
				}
			}
			return l != ""
		})
		return l
	}
	w := &writer{clients: map[string]*redis.Client{}}
	for _, id := range ids {
		w.nodes = append(w.nodes, addr[id])
	}
	var trials []time.Duration
	b.ResetTimer()
	for i := range b.N {
		l := leader()
		if err := procs[l].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		<-procs[l].exited
		killed := time.Now()
		for try := 0; ; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := w.set(ctx, b, "failover", fmt.Sprint(i, "-", try))
			cancel()
			if err == nil {
				break
			}
			if time.Since(killed) > clusterWait {
				b.Fatalf("no write acknowledged %v after the leader was killed: %v", clusterWait, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		trials = append(trials, time.Since(killed))
		procs[l] = startNodeAt(b, bin, base, l, addr[l], raftAddr[l])
	}
	b.StopTimer()
	slices.Sort(trials)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(trials[len(trials)/2]), "ms-median")
	b.ReportMetric(ms(trials[0]), "ms-min")
	b.ReportMetric(ms(trials[len(trials)-1]), "ms-max")
	b.Logf("%d failovers, leader SIGKILLed → next write acknowledged: %v", len(trials), trials)
}
