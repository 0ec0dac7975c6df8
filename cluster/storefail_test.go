package cluster

import (
	"errors"
	"strings"
	"testing"
)

// TestFailedStoreLeavesRaft: a leader whose store failed (a full disk)
// kept leading: it answered every write with the store's error, though
// the other members applied them, and every read waited out its timeout.
// A node whose store fails leaves raft: another member leads, and takes
// the writes; the failed node's callers are told why and what to do;
// restarted, it applies what it missed.
func TestFailedStoreLeavesRaft(t *testing.T) {
	tc := startCluster(t, 3, nil)
	l := tc.leader()
	l.fsm.testWriteErr = errors.New("no space left on device")
	err := l.Put(ctx(t), []byte("k"), []byte("v"))
	if err == nil || !strings.Contains(err.Error(), "committed") {
		t.Fatalf("Put on the leader whose store fails: %v, want an error that says the write was committed", err)
	}
	failed := l.cfg.ID
	delete(tc.nodes, failed) // tc.leader() and waitConverged look at the others
	waitFor(t, "another leader", func() bool {
		for _, n := range tc.nodes {
			if n.Status().Role == "Leader" {
				return true
			}
		}
		return false
	})
	tc.retry("a write to the new leader", func(n *Node) error { return n.Put(ctx(t), []byte("k2"), []byte("v2")) })
	tc.waitConverged()
	for id, n := range tc.nodes {
		if c := contents(t, n); c["k"] != "v" || c["k2"] != "v2" {
			t.Errorf("%s: k = %q, k2 = %q; want v and v2", id, c["k"], c["k2"])
		}
	}
	for what, err := range map[string]error{
		"write": l.Put(ctx(t), []byte("k3"), []byte("v3")),
		"read": func() error {
			_, err := l.Get(ctx(t), []byte("k"), ReadOptions{})
			return err
		}(),
	} {
		if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "restart") {
			t.Errorf("%s on the failed node: %v, want the store's failure and what to do", what, err)
		}
	}
	// Restarted, the cause mended, it applies what it missed.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	n := tc.open(tc.cfgs[failed])
	tc.waitConverged()
	if c := contents(t, n); c["k"] != "v" || c["k2"] != "v2" {
		t.Fatalf("the failed node, restarted: k = %q, k2 = %q; want v and v2", c["k"], c["k2"])
	}
}
