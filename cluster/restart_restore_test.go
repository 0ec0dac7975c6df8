package cluster

import "testing"

// TestRestartAfterSnapshotOfNoops: a snapshot taken when the log ends in
// entries the store never sees (a new leader's noop, a read's barrier) is
// ahead of the store's applied index by those entries alone. A restart
// took the store for behind and rebuilt it whole from the snapshot.
func TestRestartAfterSnapshotOfNoops(t *testing.T) {
	tc := startCluster(t, 1, nil)
	if err := tc.leader().Put(ctx(t), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	tc.stop("n1")
	tc.open(tc.cfgs["n1"])
	n := tc.leader() // a new term: its noop ends the log
	if _, err := n.Get(ctx(t), []byte("k"), ReadOptions{}); err != nil {
		t.Fatal(err) // and the read's barrier
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); st.LastSnapshotIndex <= st.AppliedIndex {
		t.Fatalf("snapshot at %d, applied %d: the case needs a snapshot past the store's applied index", st.LastSnapshotIndex, st.AppliedIndex)
	}
	tc.stop("n1")
	n = tc.open(tc.cfgs["n1"])
	if got := n.Status().SnapshotsRestored; got != 0 {
		t.Errorf("restart restored %d snapshots, want 0: the store was not behind", got)
	}
	if got := contents(t, tc.leader())["k"]; got != "v" {
		t.Fatalf("k = %q, want v", got)
	}
}
