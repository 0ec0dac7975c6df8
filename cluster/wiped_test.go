package cluster

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestWipedMemberDoesNotVote: a member whose directory was lost restarts
// with no state at its old address, which the others still count as a
// voter. It granted its vote to a member that lacked a write it had itself
// acknowledged, and that member led without the write, for good: n1, the
// only other holder of w1, was then cut back to the new leader's log while
// its store kept w1. A node with no log grants no vote; the member that
// lacks w1 cannot win, and the cluster waits for n1.
func TestWipedMemberDoesNotVote(t *testing.T) {
	tc := startCluster(t, 3, nil)
	l := tc.leader()
	lid := l.cfg.ID
	var others []string
	for id := range tc.nodes {
		if id != lid {
			others = append(others, id)
		}
	}
	wiped, behind := others[0], others[1]
	tc.stop(behind)
	if err := l.Put(ctx(t), []byte("w1"), []byte("acked")); err != nil {
		t.Fatal(err)
	}
	tc.stop(lid)
	tc.stop(wiped)
	if err := os.RemoveAll(tc.cfgs[wiped].Dir); err != nil {
		t.Fatal(err)
	}
	tc.open(tc.cfgs[wiped])
	tc.open(tc.cfgs[behind])
	// Several election timeouts: long enough for the member that lacks w1
	// to win, were it given the wiped member's vote.
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		for id, n := range tc.nodes {
			if n.Status().Role == "Leader" {
				t.Fatalf("%s leads without %s, the only member that holds w1", id, lid)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tc.open(tc.cfgs[lid])
	tc.waitConverged()
	for id, n := range tc.nodes {
		if got := contents(t, n)["w1"]; got != "acked" {
			t.Errorf("%s: w1 = %q, want acked", id, got)
		}
	}
	var v []byte
	tc.retry("a linearizable read of w1", func(l *Node) (err error) {
		v, err = l.Get(ctx(t), []byte("w1"), ReadOptions{})
		return err
	})
	if string(v) != "acked" {
		t.Fatalf("w1 = %q, want acked", v)
	}
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
