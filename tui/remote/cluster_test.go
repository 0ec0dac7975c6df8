package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crabkv/crabkv/cluster"
	"github.com/crabkv/crabkv/server"
	"github.com/crabkv/crabkv/tui"
)

// clusterWait bounds each wait of the cluster test: elections on a
// loaded machine take a while; nothing is asserted about time.
const clusterWait = 30 * time.Second

type clusterNode struct {
	node *cluster.Node
	addr string // client address
}

// serveCluster starts a cluster of three nodes, each behind a RESP
// server on loopback, and waits until every node knows the leader's
// client address.
func serveCluster(t *testing.T) []clusterNode {
	t.Helper()
	base := t.TempDir()
	var nodes []clusterNode
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		n, err := cluster.Open(cluster.Config{
			ID: id, RaftAddr: "127.0.0.1:0", Dir: filepath.Join(base, id), Bootstrap: i == 0,
			HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
			LeaderLeaseTimeout: 250 * time.Millisecond, LogLevel: "error",
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		st := cluster.NewStore(n, ln.Addr().String())
		s := server.NewWithStore(st, server.Options{})
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			<-done
			st.Close()
		})
		nodes = append(nodes, clusterNode{n, ln.Addr().String()})
	}
	leader := nodes[0].node
	waitUntil(t, "n1 to lead", func() bool { return leader.Status().Role == "Leader" })
	for i, cn := range nodes {
		waitUntil(t, "the cluster to take "+cn.node.ID(), func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
			defer cancel()
			if i > 0 && leader.AddVoter(ctx, cn.node.ID(), cn.node.Addr()) != nil {
				return false
			}
			return leader.Advertise(ctx, cn.node.ID(), cn.addr) == nil
		})
	}
	for _, cn := range nodes {
		waitUntil(t, cn.node.ID()+" to know the leader's address", func() bool {
			addr, _ := cn.node.ClientAddr(leader.ID())
			return addr == nodes[0].addr
		})
	}
	return nodes
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Connected to a follower, the store browses the follower's own copy,
// sends its writes on to the leader, and reports the cluster in its
// figures; connected to a single server, it reports no cluster.
func TestClusterFollower(t *testing.T) {
	nodes := serveCluster(t)
	leader, follower := nodes[0], nodes[2]
	ls := dial(t, "redis://"+leader.addr)
	fs := dial(t, "redis://"+follower.addr)

	created, err := fs.Put("k/one", []byte("1"), tui.NoTTL)
	if err != nil || !created {
		t.Fatalf("Put on a follower: created %v, %v", created, err)
	}
	if err := fs.Create("k/two", []byte("2"), time.Hour); err != nil {
		t.Fatalf("Create on a follower: %v", err)
	}
	if err := fs.Create("k/two", []byte("x"), 0); !errors.Is(err, tui.ErrExists) {
		t.Fatalf("second Create on a follower: %v, want ErrExists", err)
	}
	// The writes reached the leader, and the follower's copy in time.
	if v, err := ls.Get("k/one"); err != nil || string(v) != "1" {
		t.Fatalf("k/one on the leader: %q, %v", v, err)
	}
	waitUntil(t, "the follower to apply the writes", func() bool {
		keys, err := fs.Keys()
		return err == nil && slices.Equal(keys, []string{"k/one", "k/two"})
	})
	if v, err := fs.Get("k/two"); err != nil || string(v) != "2" {
		t.Fatalf("k/two on the follower: %q, %v", v, err)
	}
	exp, err := fs.Expiries([]string{"k/one", "k/two"})
	if err != nil || !exp[0].IsZero() || exp[1].IsZero() {
		t.Fatalf("expiries on the follower: %v, %v", exp, err)
	}
	if err := fs.Delete("k/one"); err != nil {
		t.Fatalf("Delete on a follower: %v", err)
	}
	if n, err := fs.DeleteKeys([]string{"k/two"}); err != nil || n != 1 {
		t.Fatalf("DeleteKeys on a follower: %d, %v", n, err)
	}
	waitUntil(t, "the follower to apply the deletes", func() bool {
		keys, err := fs.Keys()
		return err == nil && len(keys) == 0
	})

	st, err := fs.Stats()
	if err != nil {
		t.Fatal(err)
	}
	c := st.Cluster
	if c == nil || c.NodeID != "n3" || c.Role != "follower" || c.LeaderID != "n1" || c.LeaderAddr != leader.addr ||
		c.Term == 0 || c.CommitIndex == 0 || c.AppliedIndex == 0 {
		t.Fatalf("follower's cluster figures: %+v", c)
	}
	st, err = ls.Stats()
	if err != nil || st.Cluster == nil || st.Cluster.Role != "leader" || st.Cluster.NodeID != "n1" {
		t.Fatalf("leader's cluster figures: %+v, %v", st.Cluster, err)
	}

	_, addr := serve(t, server.Options{})
	single := dial(t, "redis://"+addr)
	for range 2 { // the second poll does not ask again
		if st, err := single.Stats(); err != nil || st.Cluster != nil {
			t.Fatalf("a single server's cluster figures: %+v, %v", st.Cluster, err)
		}
	}
	if !single.noCluster.Load() {
		t.Error("a single server is asked INFO cluster at every poll")
	}
}
