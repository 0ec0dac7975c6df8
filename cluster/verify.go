package cluster

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
)

// verifier shares raft's leadership checks among concurrent linearizable
// reads: a read joins the next check that has not yet begun, and one
// VerifyLeader round of heartbeats answers every read that joined it, so
// reads cost a round per batch instead of one each. It stays correct
// because each read notes its commit index before it joins, and the check
// it waits for begins after it joined: leadership is confirmed after the
// index was read, as when each read runs its own check.
type verifier struct {
	mu      sync.Mutex // guards next and running
	next    *verifyRound
	running bool // a goroutine runs rounds
}

// verifyRound is one VerifyLeader call and the reads waiting for it.
type verifyRound struct {
	done chan struct{}
	err  error // set before done is closed
}

// verify returns once a VerifyLeader call begun after it was called has
// succeeded, or with that call's error, or ctx's.
func (v *verifier) verify(ctx context.Context, r *raft.Raft) error {
	v.mu.Lock()
	if v.next == nil {
		v.next = &verifyRound{done: make(chan struct{})}
	}
	round := v.next
	if !v.running {
		v.running = true
		go v.run(r)
	}
	v.mu.Unlock()
	select {
	case <-round.done:
		return round.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs rounds while reads are waiting for one.
func (v *verifier) run(r *raft.Raft) {
	for {
		v.mu.Lock()
		round := v.next
		v.next = nil
		if round == nil {
			v.running = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		round.err = r.VerifyLeader().Error()
		close(round.done)
	}
}
