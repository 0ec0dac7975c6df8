package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWipedMemberIsRefused: a member whose directory was lost, restarted
// as it was, started empty at its old address, where the others still
// counted it; its vote, given from no state, elected a member that lacked
// a write it had acknowledged, which then led without the write for good.
// Restarted as a member (RequireState), it is refused; asking to join
// again as a new node, with its old id, it is refused too, until it has
// been removed.
func TestWipedMemberIsRefused(t *testing.T) {
	tc := startCluster(t, 3, nil)
	l := tc.leader()
	var wiped string
	for id := range tc.nodes {
		if id != l.cfg.ID {
			wiped = id
		}
	}
	tc.stop(wiped)
	cfg := tc.cfgs[wiped]
	if err := os.RemoveAll(cfg.Dir); err != nil {
		t.Fatal(err)
	}
	cfg.RequireState = true
	if n, err := Open(cfg); !errors.Is(err, ErrNoState) {
		if n != nil {
			n.Close()
		}
		t.Fatalf("Open of a member's lost directory, as a member: %v, want ErrNoState", err)
	}
	cfg.RequireState = false
	n := tc.open(cfg)
	if !n.Fresh() {
		t.Fatal("a node opened on an empty directory is not Fresh")
	}
	err := tc.leader().AddNewVoter(ctx(t), wiped, n.Addr())
	if err == nil || !strings.Contains(err.Error(), "is a member already") {
		t.Fatalf("AddNewVoter of a member's id: %v, want a refusal", err)
	}
	tc.stop(wiped)
	tc.retry("remove the lost member", func(l *Node) error { return l.RemoveServer(ctx(t), wiped) })
	n = tc.open(cfg)
	tc.retry("add it again", func(l *Node) error { return l.AddNewVoter(ctx(t), wiped, n.Addr()) })
	tc.waitConverged()
}

// TestJoinBeforeStart: a member added before its node runs (the leader
// then needs its vote) is elected with once it starts, empty.
func TestJoinBeforeStart(t *testing.T) {
	tc := startCluster(t, 1, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, cancel := context.WithTimeout(ctx(t), 2*time.Second)
	_ = tc.leader().AddVoter(c, "n2", addr) // committed, or not: either way n1 needs n2 now
	cancel()
	time.Sleep(3 * time.Second) // n1 loses its lease
	cfg := testConfig(t, "n2", filepath.Join(t.TempDir(), "n2"))
	cfg.RaftAddr = addr
	tc.open(cfg)
	tc.waitConverged()
}

// TestAddVoterDoesNotMove: adding a member's id at another address, or
// another id at a member's address, is refused: raft moved the member, to
// what may be a second node started with the same id by mistake.
func TestAddVoterDoesNotMove(t *testing.T) {
	tc := startCluster(t, 2, nil)
	l := tc.leader()
	var other *Node
	for _, n := range tc.nodes {
		if n != l {
			other = n
		}
	}
	if err := l.AddVoter(ctx(t), other.ID(), "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "is a member at") {
		t.Errorf("AddVoter of %s at another address: %v, want a refusal", other.ID(), err)
	}
	if err := l.AddVoter(ctx(t), "n9", other.Addr()); err == nil || !strings.Contains(err.Error(), "is the address of member") {
		t.Errorf("AddVoter of n9 at %s's address: %v, want a refusal", other.ID(), err)
	}
	if err := l.AddVoter(ctx(t), other.ID(), other.Addr()); err != nil {
		t.Errorf("AddVoter of a member as it is: %v, want nil", err)
	}
	servers := l.raft.GetConfiguration().Configuration().Servers
	if len(servers) != 2 {
		t.Fatalf("configuration %v, want the 2 members as they were", servers)
	}
	for _, s := range servers {
		if want := tc.nodes[string(s.ID)]; want == nil || string(s.Address) != want.Addr() {
			t.Errorf("member %s at %s: moved", s.ID, s.Address)
		}
	}
}
