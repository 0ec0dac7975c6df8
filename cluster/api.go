package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/hashicorp/raft"
)

// defaultTimeout bounds a call whose context has no deadline: a write
// waiting for the leader to take it, a membership change.
const defaultTimeout = 10 * time.Second

// Write applies ops atomically through the cluster: one raft entry,
// applied as one batch on every node in log order. It returns once the
// entry is committed by a majority and applied on this node, with the
// store's error if the store refused it (then no node applied any of
// ops), or, if this node's store failed to apply it, an error that says
// the entry was committed (the node then leaves raft: see storeFailed).
// Only the leader takes writes: elsewhere the error is *ErrNotLeader or
// ErrNoLeader. ErrLeadershipLost and a done ctx mean the outcome is
// unknown.
func (n *Node) Write(ctx context.Context, ops ...Op) error {
	if err := checkReserved(ops); err != nil {
		return err
	}
	return n.write(ctx, ops, false)
}

// writeSettled is Write for a caller that holds the locks of the keys ops
// write across the call (the server's, see Store): it returns only once
// the outcome is known, the entry applied or refused. ctx bounds the wait
// for raft to take the entry, not for the entry to commit. Were the locks
// let go at ctx while the entry could still commit, the next command on
// those keys could read them without it and write after it: a SET NX that
// found a key absent, written after a timed-out MSET that set it. Raft
// settles every entry it took: committed and applied, or failed when its
// leader loses leadership or shuts down.
func (n *Node) writeSettled(ctx context.Context, ops ...Op) error {
	if err := checkReserved(ops); err != nil {
		return err
	}
	return n.write(ctx, ops, true)
}

func checkReserved(ops []Op) error {
	for i, op := range ops {
		if isReserved(op.Key) {
			return fmt.Errorf("cluster: operation %d (%s): %w", i+1, op.Kind, ErrReservedKey)
		}
	}
	return nil
}

// write is Write without the refusal of reserved keys: the members' own
// (see nodeKeyPrefix) go through here. With settle, it waits for the
// entry's outcome past ctx (see writeSettled).
func (n *Node) write(ctx context.Context, ops []Op, settle bool) error {
	if err := checkOps(ops, n.fsm.opts); err != nil {
		return err
	}
	if err := n.leaderOnly(); err != nil {
		return err
	}
	f := n.raft.Apply(appendCommand(nil, ops), timeout(ctx))
	var err error
	if settle {
		err = f.Error()
	} else {
		err = wait(ctx, f)
	}
	if err != nil {
		return n.raftError(err)
	}
	if err, ok := f.Response().(error); ok {
		if ferr := n.fsm.err(); ferr != nil && errors.Is(err, ferr) {
			return fmt.Errorf("cluster: the write was committed, and the other members apply it, but this node's store failed to: %w", err)
		}
		return err
	}
	return nil
}

// Put sets key to value through the cluster (see Write).
func (n *Node) Put(ctx context.Context, key, value []byte) error {
	return n.Write(ctx, Put(key, value))
}

// Delete removes key through the cluster (see Write).
func (n *Node) Delete(ctx context.Context, key []byte) error {
	return n.Write(ctx, Delete(key))
}

// wait waits for f or ctx. A raft future cannot be cancelled: after ctx
// is done the write may still be applied.
func wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func timeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return defaultTimeout
}

// leaderOnly returns nil on the leader, else the error that says where
// the leader is.
func (n *Node) leaderOnly() error {
	if err := n.failedErr(); err != nil {
		return err
	}
	if n.raft.State() == raft.Leader {
		return nil
	}
	return n.notLeader()
}

func (n *Node) notLeader() error {
	if err := n.removedErr(); err != nil {
		return err
	}
	addr, id := n.raft.LeaderWithID()
	if addr == "" || id == raft.ServerID(n.cfg.ID) {
		return ErrNoLeader
	}
	return &ErrNotLeader{Leader: string(addr), LeaderID: string(id)}
}

// removedErr returns ErrRemoved once the node has learned that it is no
// longer a member: its latest configuration, which the leader sent, or
// which it applied as the leader that removed itself, leaves it out. A
// node not yet added has no configuration, and is not removed.
func (n *Node) removedErr() error {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	servers := f.Configuration().Servers
	for _, s := range servers {
		if s.ID == raft.ServerID(n.cfg.ID) {
			return nil
		}
	}
	if len(servers) == 0 {
		return nil
	}
	return ErrRemoved
}

// raftError maps raft's errors onto the package's.
func (n *Node) raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipLost):
		return ErrLeadershipLost
	case errors.Is(err, raft.ErrRaftShutdown):
		if rerr := n.removedErr(); rerr != nil {
			return rerr // a leader that removed itself
		}
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("cluster: the leader did not take the write in time: %w", context.DeadlineExceeded)
	}
	return err
}

// ReadOptions choose how a read is served.
type ReadOptions struct {
	// Stale reads this node's store as it is, on any node, without asking
	// the leader: faster, and available without a leader, but it may miss
	// writes already acknowledged elsewhere. The default, false, is a
	// linearizable read, served by the leader only.
	Stale bool
}

// Get returns key's value, or an error wrapping kv.ErrNotFound. By
// default the read is linearizable: it reflects every write acknowledged
// before it began. Elsewhere than on the leader that is *ErrNotLeader or
// ErrNoLeader, unless opts.Stale.
func (n *Node) Get(ctx context.Context, key []byte, opts ReadOptions) ([]byte, error) {
	var v []byte
	err := n.read(ctx, opts, func(db *kv.DB) (err error) {
		v, err = db.Get(key)
		return err
	})
	return v, err
}

// Keys returns the keys that start with prefix, in byte order, leaving out
// the cluster's own (ReservedPrefix). Reads as Get does.
func (n *Node) Keys(ctx context.Context, prefix []byte, opts ReadOptions) ([]string, error) {
	var keys []string
	err := n.read(ctx, opts, func(db *kv.DB) (err error) {
		all, err := db.CheckedKeys(prefix)
		for _, k := range all {
			if !isReserved([]byte(k)) {
				keys = append(keys, k)
			}
		}
		return err
	})
	return keys, err
}

// read runs fn on the store, after the read-index protocol unless
// opts.Stale.
func (n *Node) read(ctx context.Context, opts ReadOptions, fn func(*kv.DB) error) error {
	if !opts.Stale {
		if err := n.readIndex(ctx); err != nil {
			return err
		}
	}
	return n.fsm.read(fn)
}

// readIndex waits until this node's store reflects every write
// acknowledged before the call: the leader reads its commit index,
// confirms with a majority that it is still leader (VerifyLeader, one
// round shared by the reads waiting for it: see verifier), and
// waits until it has applied that index. A leader new in its term first
// applies a barrier, because until an entry of its own term commits its
// commit index may lag what earlier leaders committed.
func (n *Node) readIndex(ctx context.Context) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		if err := wait(ctx, n.raft.Barrier(timeout(ctx))); err != nil {
			return n.raftError(err)
		}
		n.readyTerm.Store(term)
	}
	ci := n.raft.CommitIndex()
	if err := n.verifier.verify(ctx, n.raft); err != nil {
		return n.raftError(err)
	}
	if n.raft.CurrentTerm() != term {
		return n.notLeader()
	}
	return n.fsm.applied.wait(ctx, n.lastStateChange(ci))
}

// lastStateChange returns the index of the last entry at or below ci that
// raft hands to the store: a command or a configuration. Noops and
// barriers never reach it, so its applied index stops short of them.
// Entries the log no longer holds were compacted after a snapshot the
// store had already applied past.
func (n *Node) lastStateChange(ci uint64) uint64 {
	applied := n.fsm.applied.get()
	var l raft.Log
	for i := ci; i > applied; i-- {
		if err := n.logs.GetLog(i, &l); err != nil {
			return applied
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return applied
}

// read runs fn with the store, which a restore does not swap meanwhile.
func (f *fsm) read(fn func(*kv.DB) error) error {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	return fn(f.db)
}

// Leader returns the leader's ID and raft address as this node knows
// them, or empty strings.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// AddNewVoter is AddVoter for a node that has no raft state (Node.Fresh):
// an id that is a member already is refused, at any address. A member
// whose directory was lost must be removed first: added back as it is, it
// would vote from no state, and could elect a member that lacks writes it
// had acknowledged.
func (n *Node) AddNewVoter(ctx context.Context, id, addr string) error {
	return n.addVoter(ctx, id, addr, true)
}

// AddVoter adds a voting member, or makes a member a voter; on the leader
// only. The new node, started without Bootstrap, receives the log or a
// snapshot and then votes. A member is not moved: an id that is a member
// at another address, or an address a member with another id has, is an
// error (RemoveServer first). Raft would move it silently, to what may
// be another node given the same id by mistake.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.addVoter(ctx, id, addr, false)
}

// addVoter is AddVoter, and with fresh AddNewVoter: both checks are made
// against one reading of the configuration.
func (n *Node) addVoter(ctx context.Context, id, addr string, fresh bool) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return n.raftError(err)
	}
	for _, s := range f.Configuration().Servers {
		switch {
		case fresh && string(s.ID) == id:
			return fmt.Errorf("cluster: %s is a member already, and the node that asks to join as %s has no raft state: if its directory was lost, remove it first (LEAVE %s), then join it again", id, id, id)
		case string(s.ID) == id && string(s.Address) != addr:
			return fmt.Errorf("cluster: %s is a member at %s, not %s: remove it first (LEAVE %s) to add it at another address", id, s.Address, addr, id)
		case string(s.ID) != id && string(s.Address) == addr:
			return fmt.Errorf("cluster: %s is the address of member %s: remove it first (LEAVE %s) to add %s there", addr, s.ID, s.ID, id)
		}
	}
	af := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout(ctx))
	return n.raftError(wait(ctx, af))
}

// RemoveServer removes a member; on the leader only. A leader that
// removes itself steps down. A removed node answers every call with
// ErrRemoved.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	f := n.raft.RemoveServer(raft.ServerID(id), 0, timeout(ctx))
	return n.raftError(wait(ctx, f))
}

// Snapshot takes a snapshot now, and lets raft truncate its log up to
// TrailingLogs entries before it.
func (n *Node) Snapshot() error {
	return n.raftError(n.raft.Snapshot().Error())
}

// Status is a node's view of the cluster.
type Status struct {
	ID, Addr string
	// Role is "Leader", "Follower", "Candidate" or "Shutdown".
	Role              string
	Term              uint64
	LeaderID, Leader  string
	CommitIndex       uint64 // highest entry known committed
	AppliedIndex      uint64 // highest entry applied to the store
	LastIndex         uint64 // highest entry in raft's log
	FirstIndex        uint64 // lowest entry in raft's log (0: empty); grows as snapshots truncate it
	LastSnapshotIndex uint64
	Peers             []Peer
	LastContact       time.Time // the leader's last contact with a follower; zero on the leader
	EntriesWritten    int64     // entries written to the store since Open
	EntriesSkipped    int64     // entries replayed by raft that the store already held
	SnapshotsRestored int64     // snapshots restored into the store since Open
	Err               error     // why the store stopped applying, if it did
}

// Status returns the node's view of the cluster.
func (n *Node) Status() Status {
	leader, leaderID := n.raft.LeaderWithID()
	s := Status{
		ID: n.cfg.ID, Addr: n.Addr(),
		Role: n.raft.State().String(), Term: n.raft.CurrentTerm(),
		Leader: string(leader), LeaderID: string(leaderID),
		CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.fsm.applied.get(),
		LastIndex:         n.raft.LastIndex(),
		EntriesWritten:    n.fsm.written.Load(),
		EntriesSkipped:    n.fsm.skipped.Load(),
		SnapshotsRestored: n.fsm.restores.Load(),
		Err:               n.fsm.err(),
	}
	if s.Role != raft.Leader.String() {
		s.LastContact = n.raft.LastContact()
	}
	s.FirstIndex, _ = n.logs.FirstIndex()
	s.LastSnapshotIndex, _ = strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			s.Peers = append(s.Peers, Peer{ID: string(srv.ID), Addr: string(srv.Address), Voter: srv.Suffrage == raft.Voter})
		}
	}
	return s
}
