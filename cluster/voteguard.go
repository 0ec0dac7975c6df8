package cluster

import (
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// voteGuard is raft's transport, less the votes of a node that has no
// state: no log, no snapshot, no configuration.
//
// Why: raft grants a vote from an empty configuration, taking the node
// for a founding member of a cluster about to bootstrap. But a member
// whose directory was lost and that restarts at its old address is empty
// too, and the others still count it. Its vote let a member that lacked a
// write it had itself acknowledged win, and lead without the write for
// good. Refused, the member that lacks the write cannot win, and the
// cluster waits for one that has it (TestWipedMemberDoesNotVote). An
// empty node votes once a leader has sent it the log, a snapshot or its
// configuration; every founding member bootstraps (Config.Bootstrap), so
// none of them needs an empty node's vote.
type voteGuard struct {
	*raft.NetworkTransport
	n    *Node
	log  hclog.Logger
	rpcs chan raft.RPC
	stop chan struct{}
	done sync.WaitGroup
}

func newVoteGuard(t *raft.NetworkTransport, n *Node) *voteGuard {
	g := &voteGuard{NetworkTransport: t, n: n, log: n.cfg.logger("votes"), rpcs: make(chan raft.RPC), stop: make(chan struct{})}
	g.done.Go(g.forward)
	return g
}

// Consumer is the RPCs raft is handed: the transport's, less the votes
// refused.
func (g *voteGuard) Consumer() <-chan raft.RPC { return g.rpcs }

// forward hands the transport's RPCs on to raft, and answers the vote
// requests an empty node must refuse itself.
func (g *voteGuard) forward() {
	in := g.NetworkTransport.Consumer()
	for {
		var rpc raft.RPC
		select {
		case rpc = <-in:
		case <-g.stop:
			return
		}
		if g.refuse(rpc) {
			continue
		}
		select {
		case g.rpcs <- rpc:
		case <-g.stop:
			rpc.Respond(nil, raft.ErrRaftShutdown)
			return
		}
	}
}

// refuse answers rpc with a refusal if it asks an empty node for its vote,
// and reports whether it did. The refusal carries term 0, which the
// candidate does not count and does not step down for.
func (g *voteGuard) refuse(rpc raft.RPC) bool {
	var candidate []byte
	var resp any
	switch req := rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		candidate, resp = req.ID, &raft.RequestVoteResponse{Granted: false}
	case *raft.RequestPreVoteRequest:
		candidate, resp = req.ID, &raft.RequestPreVoteResponse{Granted: false}
	default:
		return false
	}
	if g.n.hasState() {
		return false
	}
	g.log.Warn("refused a vote: this node has no raft state (new, or its directory was lost); it votes once a leader has sent it the log", "candidate", string(candidate))
	rpc.Respond(resp, nil)
	return true
}

// Close stops the forwarding, then closes the transport.
func (g *voteGuard) Close() error {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.done.Wait()
	return g.NetworkTransport.Close()
}

// hasState reports whether the node has a log, a snapshot or a
// configuration: raft's last index, once it runs, or else its stores'.
func (n *Node) hasState() bool {
	if r := n.started.Load(); r != nil {
		return r.LastIndex() > 0
	}
	ok, err := raft.HasExistingState(n.logs, n.logs, n.snaps)
	return ok || err != nil // an unreadable store: leave the answer to raft
}
