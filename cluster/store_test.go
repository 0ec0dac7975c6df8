package cluster

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/server"
)

// served is a node of a test cluster behind a RESP server.
type served struct {
	node *Node
	addr string
}

// serveCluster serves every node of tc over RESP on loopback, and records
// each one's client address through the leader, as JOIN does.
func serveCluster(t *testing.T, tc *testCluster) map[string]served {
	t.Helper()
	out := map[string]served{}
	for id, n := range tc.nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		st := NewStore(n, ln.Addr().String())
		s := server.NewWithStore(st, server.Options{})
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := s.Shutdown(c); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			<-done
			st.Close()
		})
		out[id] = served{n, ln.Addr().String()}
	}
	for id, s := range out {
		tc.retry("advertise "+id, func(l *Node) error { return l.Advertise(ctx(t), id, s.addr) })
	}
	tc.waitConverged()
	return out
}

func redisClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1,
		DialTimeout: waitLimit, ReadTimeout: waitLimit, WriteTimeout: waitLimit})
	t.Cleanup(func() { c.Close() })
	return c
}

func wantReply(t *testing.T, what string, err error, prefix string) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("%s: error %v, want one starting %q", what, err, prefix)
	}
}

func TestStoreServesTheCluster(t *testing.T) {
	tc := startCluster(t, 3, nil)
	nodes := serveCluster(t, tc)
	l := tc.leader()
	leader := nodes[l.ID()]
	var follower served
	for id, s := range nodes {
		if id != l.ID() {
			follower = s
		}
	}
	c := ctx(t)
	lc, fc := redisClient(t, leader.addr), redisClient(t, follower.addr)

	if err := lc.Set(c, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := lc.Get(c, "a").Result(); err != nil || got != "1" {
		t.Fatalf("GET a on the leader: %q, %v", got, err)
	}
	// A follower redirects writes and linearizable reads to the leader.
	wantReply(t, "SET on a follower", fc.Set(c, "b", "2", 0).Err(), "MOVED 0 "+leader.addr)
	wantReply(t, "GET on a follower", fc.Get(c, "a").Err(), "MOVED 0 "+leader.addr)
	wantReply(t, "SET NX on a follower", fc.SetNX(c, "b", "2", 0).Err(), "MOVED 0 "+leader.addr)
	wantReply(t, "DEL on a follower", fc.Del(c, "a").Err(), "MOVED 0 "+leader.addr)
	wantReply(t, "SCAN on a follower", fc.Scan(c, 0, "*", 10).Err(), "MOVED 0 "+leader.addr)
	cmds, _ := fc.Pipelined(c, func(p redis.Pipeliner) error {
		p.Set(c, "p1", "x", 0)
		p.Set(c, "p2", "y", 0)
		return nil
	})
	for _, cmd := range cmds {
		wantReply(t, "pipelined SET on a follower", cmd.Err(), "MOVED 0 "+leader.addr)
	}
	// After READONLY a follower serves its own copy.
	conn := fc.Conn()
	defer conn.Close()
	if err := conn.ReadOnly(c).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower's copy to have a", func() bool {
		got, err := conn.Get(c, "a").Result()
		return err == nil && got == "1"
	})
	if n, err := conn.Exists(c, "b", "p1").Result(); err != nil || n != 0 {
		t.Fatalf("redirected writes were applied: EXISTS = %d, %v", n, err)
	}

	if d, err := lc.TTL(c, "a").Result(); err != nil || d != -1 {
		t.Fatalf("TTL a = %v, %v; want -1 (no expiry)", d, err)
	}

	// A pipeline's run of plain writes is one raft entry.
	before := l.Status().EntriesWritten
	cmds, err := lc.Pipelined(c, func(p redis.Pipeliner) error {
		for _, k := range []string{"r1", "r2", "r3", "r4"} {
			p.Set(c, k, k, 0)
		}
		p.Del(c, "r1", "nothing")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := cmds[4].(*redis.IntCmd).Val(); n != 1 {
		t.Fatalf("DEL r1 nothing after SET r1 in the same pipeline: %d, want 1", n)
	}
	if got := l.Status().EntriesWritten - before; got != 1 {
		t.Fatalf("a pipeline of 4 SETs and a DEL took %d raft entries, want 1", got)
	}

	// Conditional writes on the leader.
	if ok, err := lc.SetNX(c, "a", "2", 0).Result(); err != nil || ok {
		t.Fatalf("SET a NX over a: %v, %v", ok, err)
	}
	if got, err := lc.GetDel(c, "a").Result(); err != nil || got != "1" {
		t.Fatalf("GETDEL a: %q, %v", got, err)
	}
	if err := lc.Get(c, "a").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET a after GETDEL: %v", err)
	}

	// The cluster's own keys stay out of sight.
	keys, err := lc.Keys(c, "*").Result()
	if err != nil || strings.Join(keys, ",") != "r2,r3,r4" {
		t.Fatalf("KEYS *: %q, %v", keys, err)
	}
	var scanned []string
	for cursor, pages := uint64(0), 0; ; pages++ {
		page, next, err := lc.Scan(c, cursor, "*", 2).Result()
		if err != nil || pages > 10 {
			t.Fatalf("SCAN %d: %v after %d pages", cursor, err, pages)
		}
		scanned = append(scanned, page...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	if strings.Join(scanned, ",") != "r2,r3,r4" {
		t.Fatalf("SCAN COUNT 2: %q", scanned)
	}
	if n, err := lc.DBSize(c).Result(); err != nil || n != 3 {
		t.Fatalf("DBSIZE: %d, %v", n, err)
	}
	wantReply(t, "SET of a reserved key", lc.Set(c, ReservedPrefix+"node/x/resp", "evil", 0).Err(), "ERR keys starting with")
	if err := lc.Get(c, ReservedPrefix+"applied").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of the applied index: %v, want nil", err)
	}

	// A cluster client started on a follower finds the leader.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{follower.addr}, Protocol: 2,
		DialTimeout: waitLimit, ReadTimeout: waitLimit, WriteTimeout: waitLimit})
	defer cc.Close()
	if err := cc.Set(c, "via-cluster-client", "ok", 0).Err(); err != nil {
		t.Fatalf("SET through a cluster client: %v", err)
	}
	if got, err := lc.Get(c, "via-cluster-client").Result(); err != nil || got != "ok" {
		t.Fatalf("GET via-cluster-client on the leader: %q, %v", got, err)
	}

	// INFO and CRABKV.CLUSTER STATUS describe the cluster.
	info, err := fc.Info(c, "cluster").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cluster_role:follower", "cluster_leader_id:" + l.ID(), "cluster_leader_addr:" + leader.addr, "cluster_applied_index:", "cluster_term:"} {
		if !strings.Contains(info, want) {
			t.Fatalf("INFO cluster on a follower lacks %q:\n%s", want, info)
		}
	}
	status, err := lc.Do(c, "crabkv.cluster", "status").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if i := indexOf(status, "cluster_role"); i < 0 || status[i+1] != "leader" {
		t.Fatalf("CRABKV.CLUSTER STATUS on the leader: %q", status)
	}
	wantReply(t, "CRABKV.CLUSTER LEAVE on a follower", fc.Do(c, "crabkv.cluster", "leave", l.ID()).Err(), "MOVED 0 "+leader.addr)
	wantReply(t, "CRABKV.CLUSTER with a bad subcommand", lc.Do(c, "crabkv.cluster", "dance").Err(), "ERR syntax")
}

// A node cut off from the majority answers CLUSTERDOWN, never a value it
// cannot vouch for.
func TestStoreWithoutLeader(t *testing.T) {
	tc := startCluster(t, 3, nil)
	nodes := serveCluster(t, tc)
	l := tc.leader()
	var last served
	for id, s := range nodes {
		if id != l.ID() {
			last = s
		}
	}
	c := ctx(t)
	fc := redisClient(t, last.addr)
	for id := range nodes {
		if id != last.node.ID() {
			tc.stop(id)
		}
	}
	waitFor(t, "CLUSTERDOWN from the last node", func() bool {
		err := fc.Set(c, "k", "v", 0).Err()
		return err != nil && strings.HasPrefix(err.Error(), "CLUSTERDOWN")
	})
	wantReply(t, "GET without a leader", fc.Get(c, "k").Err(), "CLUSTERDOWN")
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
