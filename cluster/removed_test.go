package cluster

import (
	"errors"
	"testing"

	"github.com/crabkv/crabkv/server"
)

// TestRemovedNodeSaysSo: a member removed from the cluster answered every
// call with "no leader; retry once it has elected one", forever. It says
// it was removed, and how to come back; and restarted, then joined again
// (as serve --join joins a node that has raft state), it is a member
// again, with the writes it missed.
func TestRemovedNodeSaysSo(t *testing.T) {
	tc := startCluster(t, 2, nil)
	l := tc.leader()
	var gone *Node
	for _, n := range tc.nodes {
		if n != l {
			gone = n
		}
	}
	if err := l.RemoveServer(ctx(t), gone.ID()); err != nil {
		t.Fatal(err)
	}
	// It learns of its removal from the configuration the leader sends.
	var err error
	waitFor(t, "the removed node to say so", func() bool {
		_, err = gone.Get(ctx(t), []byte("k"), ReadOptions{})
		return errors.Is(err, ErrRemoved)
	})
	st := NewStore(gone, "127.0.0.1:0")
	defer st.Close()
	if err := st.Put([]byte("k"), []byte("v")); err == nil || errors.Is(err, ErrNoLeader) {
		t.Fatalf("a server's write on a removed node: %v, want ErrRemoved, not CLUSTERDOWN", err)
	}
	if _, err := st.Get(server.Read{}, []byte("k")); !errors.Is(err, ErrRemoved) {
		t.Fatalf("a server's read on a removed node: %v, want ErrRemoved", err)
	}
	id := gone.ID()
	tc.stop(id)
	tc.retry("a write while it is out", func(l *Node) error { return l.Put(ctx(t), []byte("k"), []byte("v")) })
	gone = tc.open(tc.cfgs[id])
	tc.retry("join it again", func(l *Node) error { return l.AddVoter(ctx(t), id, gone.Addr()) })
	tc.waitConverged()
	if got := contents(t, gone)["k"]; got != "v" {
		t.Fatalf("the node joined again: k = %q, want v", got)
	}
	if _, err := gone.Get(ctx(t), []byte("k"), ReadOptions{}); errors.Is(err, ErrRemoved) {
		t.Fatalf("the node joined again still says %v", err)
	}
}

// TestLeaderRemovesItself: a leader that removes itself steps down, the
// others elect one of their own, and the removed node answers ErrRemoved,
// stays a follower, and closes cleanly. Raft shut itself down on removal,
// which left Close nothing to wait for before it closed the stores under
// raft's goroutines.
func TestLeaderRemovesItself(t *testing.T) {
	tc := startCluster(t, 3, nil)
	l := tc.leader()
	if err := l.RemoveServer(ctx(t), l.ID()); err != nil {
		t.Fatal(err)
	}
	delete(tc.nodes, l.ID())
	tc.retry("a write to the new leader", func(n *Node) error { return n.Put(ctx(t), []byte("k"), []byte("v")) })
	var err error
	waitFor(t, "the removed leader to say so", func() bool {
		_, err = l.Get(ctx(t), []byte("k"), ReadOptions{})
		return errors.Is(err, ErrRemoved)
	})
	if role := l.Status().Role; role != "Follower" {
		t.Fatalf("the removed leader's role: %s, want Follower (raft's own shutdown on removal left Close nothing to wait for)", role)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close of the removed leader: %v", err)
	}
}
