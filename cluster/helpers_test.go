package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// waitLimit bounds every wait of the cluster tests. It is generous: the
// machine may be slow and shared; no test asserts how long anything took.
const waitLimit = 30 * time.Second

func testConfig(t testing.TB, id, dir string) Config {
	c := Config{
		ID:                 id,
		RaftAddr:           "127.0.0.1:0",
		Dir:                dir,
		HeartbeatTimeout:   time.Second, // not shorter: a loaded machine loses leaders
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		SnapshotInterval:   time.Hour, // snapshots are taken on demand
		LogLevel:           "error",
	}
	if testing.Verbose() {
		c.Log = os.Stderr
	}
	return c
}

type testCluster struct {
	t     testing.TB
	nodes map[string]*Node
	cfgs  map[string]Config
}

// startCluster starts n nodes: the first bootstraps a cluster of itself,
// the others join it, added by the leader.
func startCluster(t testing.TB, n int, tune func(*Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, nodes: map[string]*Node{}, cfgs: map[string]Config{}}
	base := t.TempDir()
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		cfg := testConfig(t, id, filepath.Join(base, id))
		cfg.Bootstrap = i == 0
		if tune != nil {
			tune(&cfg)
		}
		tc.open(cfg)
		if i == 0 {
			tc.leader()
			continue
		}
		tc.join(id)
	}
	tc.waitConverged()
	return tc
}

func (tc *testCluster) open(cfg Config) *Node {
	tc.t.Helper()
	node, err := Open(cfg)
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.t.Cleanup(func() { node.Close() })
	cfg.RaftAddr = node.Addr() // a restart listens where peers know it
	tc.nodes[cfg.ID], tc.cfgs[cfg.ID] = node, cfg
	return node
}

// join adds node id to the cluster as a voter.
func (tc *testCluster) join(id string) {
	tc.t.Helper()
	node := tc.nodes[id]
	tc.retry("add "+id, func(l *Node) error { return l.AddVoter(ctx(tc.t), id, node.Addr()) })
}

// retry runs fn on the leader until it succeeds.
func (tc *testCluster) retry(what string, fn func(leader *Node) error) {
	tc.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		err := fn(tc.leader())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leader waits for a node that is leader and returns it.
func (tc *testCluster) leader() *Node {
	tc.t.Helper()
	var l *Node
	waitFor(tc.t, "a leader", func() bool {
		for _, n := range tc.nodes {
			if n.Status().Role == "Leader" {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// waitConverged waits until every running node has applied the leader's
// last entry.
func (tc *testCluster) waitConverged() {
	tc.t.Helper()
	l := tc.leader()
	// A barrier makes everything before it committed and applied on
	// the leader.
	tc.retry("barrier", func(l *Node) error { return l.raft.Barrier(waitLimit).Error() })
	want := l.Status().AppliedIndex
	waitFor(tc.t, fmt.Sprintf("every node to apply index %d", want), func() bool {
		for _, n := range tc.nodes {
			if n.Status().AppliedIndex < want {
				return false
			}
		}
		return true
	})
}

// stop closes node id and forgets it.
func (tc *testCluster) stop(id string) {
	tc.t.Helper()
	if err := tc.nodes[id].Close(); err != nil {
		tc.t.Fatalf("close %s: %v", id, err)
	}
	delete(tc.nodes, id)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

// contents returns the node's store as a map, read locally.
func contents(t testing.TB, n *Node) map[string]string {
	t.Helper()
	keys, err := n.Keys(ctx(t), nil, ReadOptions{Stale: true})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, k := range keys {
		v, err := n.Get(ctx(t), []byte(k), ReadOptions{Stale: true})
		if err != nil {
			t.Fatal(err)
		}
		m[k] = string(v)
	}
	return m
}

func isNotFound(err error) bool { return errors.Is(err, kv.ErrNotFound) }
