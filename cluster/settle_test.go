package cluster

import (
	"testing"
	"time"

	"github.com/crabkv/crabkv/server"
)

// TestStoreWriteSettles: a server's write returns only once its entry's
// outcome is known. It returned at its 10 s timeout with the entry still
// in flight, and the server let go of the key's lock: the next SET NX
// then read the key without the write, and was written after it.
func TestStoreWriteSettles(t *testing.T) {
	defer func(d time.Duration) { callTimeout = d }(callTimeout)
	callTimeout = 100 * time.Millisecond
	tc := startCluster(t, 1, nil)
	n := tc.leader()
	st := NewStore(n, "127.0.0.1:0")
	defer st.Close()
	// Hold the store as a restore does: the entry commits, and waits to be
	// applied.
	n.fsm.dbMu.Lock()
	done := make(chan error, 1)
	go func() { done <- st.Write([]server.Op{{Key: []byte("k"), Value: []byte("x")}}) }()
	select {
	case err := <-done:
		n.fsm.dbMu.Unlock()
		t.Fatalf("Write returned %v while its entry was still to be applied", err)
	case <-time.After(5 * callTimeout):
	}
	n.fsm.dbMu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write = %v, want nil: the entry was applied", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Write did not return once its entry was applied")
	}
	if got := contents(t, n)["k"]; got != "x" {
		t.Fatalf("k = %q, want x", got)
	}
}
