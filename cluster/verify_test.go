package cluster

import (
	"errors"
	"sync"
	"testing"
)

// Concurrent linearizable reads share leadership checks, and each still
// sees the write acknowledged before it began, or is refused if the
// leader lost office meanwhile; a leader cut off from its followers
// refuses reads.
func TestConcurrentReadsShareChecks(t *testing.T) {
	tc := startCluster(t, 3, nil)
	l := tc.leader()
	if err := l.Put(ctx(t), []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			v, err := l.Get(ctx(t), []byte("k"), ReadOptions{})
			if err == nil && string(v) != "v1" {
				t.Errorf("read %q, want v1", v)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		var nl *ErrNotLeader
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrLeadershipLost), errors.Is(err, ErrNoLeader), errors.As(err, &nl):
			// An election on a loaded machine: refused, never wrong.
		default:
			t.Fatal(err)
		}
	}
	t.Logf("%d of 64 concurrent reads served", ok)
	// Cut the leader off: its followers stop; its next reads must fail.
	for id := range tc.nodes {
		if id != l.ID() {
			tc.stop(id)
		}
	}
	waitFor(t, "the cut-off leader to refuse reads", func() bool {
		_, err := l.Get(ctx(t), []byte("k"), ReadOptions{})
		return err != nil
	})
}
