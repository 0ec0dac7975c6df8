package cluster

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Peer is a member of the cluster: its node ID and raft address.
type Peer struct {
	ID   string
	Addr string
	// Voter is false for a member that receives the log without a vote.
	Voter bool
}

// Config configures a Node. Zero fields take the defaults their comments
// give.
type Config struct {
	// ID names the node in the cluster; it must be unique and stable
	// across restarts. Required.
	ID string
	// RaftAddr is the address raft listens on for its peers, such as
	// 127.0.0.1:7001 (port 0 picks a free port: see Node.Addr). It is
	// also the address the node advertises, so it must be one peers can
	// reach, not an unspecified address like 0.0.0.0. Required.
	RaftAddr string
	// Dir is the data directory: the store in Dir/kv, raft's log and
	// snapshots in Dir/raft. Required.
	Dir string
	// Bootstrap makes a node with no state start a new cluster of itself
	// and Peers. Every founding node may be given the same list (raft
	// ignores a bootstrap where state exists). A node without Bootstrap
	// and without state waits to be added by the leader (Node.AddVoter).
	Bootstrap bool
	// RequireState makes Open refuse a directory with no raft state, with
	// ErrNoState, unless Bootstrap is set: for a node that is meant to be
	// a member already. A member whose directory was lost must not start
	// empty where the others still count it: its vote, given from no
	// state, can elect a member that lacks writes it had acknowledged.
	RequireState bool
	// Peers are the founding members other than this node, for Bootstrap.
	Peers []Peer
	// Dial maps members' IDs to the addresses this node dials to reach
	// them, in place of the raft addresses the cluster's configuration
	// records: a proxy, a tunnel or a translated address between this node
	// and that one. Members it leaves out are dialed at their raft
	// address. Only this node's outgoing connections are affected; what
	// the others dial is up to their own Dial.
	Dial map[string]string
	// KV configures the store. Its size limits must be the same on every
	// node: they decide which writes are refused. NoSync and ReadOnly are
	// ignored: the store is the state machine of an acknowledged log, so
	// its writes are synced.
	KV *kv.Options
	// SnapshotThreshold is how many log entries since the last snapshot
	// make raft take a new one (checked every SnapshotInterval). Default
	// 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks whether to snapshot.
	// Default 30s.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries raft keeps in its log after a
	// snapshot, so a follower slightly behind catches up from the log
	// instead of a whole snapshot. Default 10240.
	TrailingLogs uint64
	// HeartbeatTimeout and ElectionTimeout are raft's (default 1s each):
	// how long a follower waits for the leader before it stands for
	// election. LeaderLeaseTimeout (default 500ms) is how long a leader
	// stays leader without hearing from a majority.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// Log receives raft's log lines. Nil discards them.
	Log io.Writer
	// LogLevel is the least level of raft's log lines written to Log:
	// "debug", "info", "warn" (the default) or "error".
	LogLevel string
}

// withDefaults returns a checked copy of c with defaults filled in.
func (c *Config) withDefaults() (Config, error) {
	o := *c
	switch {
	case o.ID == "":
		return o, errors.New("cluster: Config.ID is required")
	case o.RaftAddr == "":
		return o, errors.New("cluster: Config.RaftAddr is required")
	case o.Dir == "":
		return o, errors.New("cluster: Config.Dir is required")
	}
	o.Dial = maps.Clone(c.Dial) // the caller may change its map later
	def := raft.DefaultConfig()
	o.SnapshotThreshold = or(o.SnapshotThreshold, 8192)
	o.SnapshotInterval = or(o.SnapshotInterval, def.SnapshotInterval)
	o.TrailingLogs = or(o.TrailingLogs, def.TrailingLogs)
	o.HeartbeatTimeout = or(o.HeartbeatTimeout, def.HeartbeatTimeout)
	o.ElectionTimeout = or(o.ElectionTimeout, def.ElectionTimeout)
	o.LeaderLeaseTimeout = or(o.LeaderLeaseTimeout, def.LeaderLeaseTimeout)
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	return o, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// raftConfig returns raft's configuration for c.
func (c *Config) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.ID)
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	// A leader that removes itself steps down and stays a follower, as a
	// removed follower does (it answers ErrRemoved): raft's own shutdown
	// on removal would leave Close nothing to wait for, and it would close
	// the stores under raft's goroutines.
	rc.ShutdownOnRemove = false
	// The store keeps its own applied index (fsm.go): a restart resumes
	// from it, instead of rebuilding the store from the last snapshot.
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = c.logger("raft")
	return rc
}

func (c *Config) logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   name + " " + c.ID,
		Output: c.Log,
		Level:  hclog.LevelFromString(c.LogLevel),
	})
}

// Node is one member of a replicated CrabKv: a raft node whose state
// machine is the store in its data directory. It is safe for concurrent
// use.
type Node struct {
	cfg  Config
	raft *raft.Raft
	// started is raft once NewRaft has returned it, for the dialer, which
	// raft's goroutines may call before then; up is closed once Open
	// returns.
	started atomic.Pointer[raft.Raft]
	up      chan struct{}
	// leaving runs the shutdown of raft after the store failed (see
	// storeFailed); Close waits for it.
	leaving sync.WaitGroup
	fsm     *fsm
	logs    *raftboltdb.BoltStore
	snaps   *raft.FileSnapshotStore
	trans   *raft.NetworkTransport
	// fresh is set when the node opened with no raft state: no log, no
	// snapshot, no configuration.
	fresh bool
	// readyTerm is the term in which this node, as leader, has applied a
	// barrier: from then its commit index covers every entry earlier
	// leaders committed (see reads.go).
	readyTerm atomic.Uint64
	// verifier batches the leadership checks of concurrent reads.
	verifier verifier

	closeOnce sync.Once
	closeErr  error
}

// Open starts a node: it opens its store, raft's log, snapshots and
// transport, and joins the cluster its state names, or bootstraps one
// (Config.Bootstrap), or waits to be added.
func Open(c Config) (n *Node, err error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	raftDir := filepath.Join(cfg.Dir, "raft")
	if err := os.MkdirAll(raftDir, 0o755); err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg}
	var closers []io.Closer
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				err = errors.Join(err, closers[i].Close())
			}
		}
	}()
	if n.fsm, err = openFSM(cfg.Dir, kvOptions(cfg.KV)); err != nil {
		return nil, err
	}
	closers = append(closers, n.fsm)
	up := make(chan struct{})
	n.up = up
	defer close(up) // also when Open fails, when n is nil: see storeFailed
	n.fsm.onFail = n.storeFailed
	if n.logs, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(raftDir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	}); err != nil {
		return nil, fmt.Errorf("cluster: open raft log: %w", err)
	}
	closers = append(closers, n.logs)
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(raftDir, 2, cfg.logger("snapshots")); err != nil {
		return nil, err
	}
	existing, err := raft.HasExistingState(n.logs, n.logs, n.snaps)
	if err != nil {
		return nil, fmt.Errorf("cluster: read raft's state: %w", err)
	}
	n.fresh = !existing
	if n.fresh && cfg.RequireState && !cfg.Bootstrap {
		return nil, fmt.Errorf("%w in %s", ErrNoState, cfg.Dir)
	}
	if err := n.catchUpFromSnapshot(); err != nil {
		return nil, err
	}
	t, err := raft.NewTCPTransportWithConfig(cfg.RaftAddr, nil, &raft.NetworkTransportConfig{
		ServerAddressProvider: n.dialer(),
		MaxPool:               3,
		Timeout:               10 * time.Second,
		Logger:                cfg.logger("transport"),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: raft transport: %w", err)
	}
	n.trans = t
	closers = append(closers, n.trans)
	if cfg.Bootstrap {
		if err := n.bootstrap(); err != nil {
			return nil, err
		}
	}
	if n.raft, err = raft.NewRaft(cfg.raftConfig(), n.fsm, n.logs, n.logs, n.snaps, n.trans); err != nil {
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	n.started.Store(n.raft)
	return n, nil
}

// storeFailed is told, once, that the store failed to apply entries: a
// full disk, say. The node leaves raft — it shuts its raft down, from a
// goroutine of its own, since raft's FSM goroutine tells it and must
// return first — so that it neither leads nor votes with a store behind
// its log: as leader it answered every write with the store's error
// though the others applied it, and every read with a timeout. The others
// elect a leader among themselves. It stays a member: restarted once the
// cause is mended, it applies what it missed.
func (n *Node) storeFailed(err error) {
	n.cfg.logger("store").Error("the store failed: this node leaves raft until it is restarted", "error", err)
	// Close waits for this goroutine: a second Shutdown returns at once,
	// and Close must not close the stores under raft's goroutines.
	n.leaving.Go(func() {
		<-n.up // Open has returned
		if r := n.started.Load(); r != nil {
			_ = r.Shutdown().Error()
		}
	})
}

// failedErr returns the error for a call on a node whose store failed, or
// nil.
func (n *Node) failedErr() error {
	if err := n.fsm.err(); err != nil {
		return fmt.Errorf("cluster: this node's store failed, and the node left raft: %w; mend the cause and restart the node, which then applies what it missed", err)
	}
	return nil
}

// kvOptions returns the store's options: o's, synced, writable, with the
// defaults filled in so the fsm can check writes against the limits.
func kvOptions(o *kv.Options) kv.Options {
	var opts kv.Options
	if o != nil {
		opts = *o
	}
	opts.NoSync, opts.ReadOnly = false, false
	opts.MaxKeySize = or(opts.MaxKeySize, kv.DefaultMaxKeySize)
	opts.MaxValueSize = or(opts.MaxValueSize, kv.DefaultMaxValueSize)
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return opts
}

// catchUpFromSnapshot restores the newest snapshot if the store is behind
// it. Raft starts past its newest snapshot (NoSnapshotRestoreOnStart), so
// a store behind it — a restore that a crash interrupted before its swap —
// would otherwise miss the entries the snapshot covers. A store whose
// applied index is behind the snapshot's by entries it never sees (noops,
// barriers) is not behind.
func (n *Node) catchUpFromSnapshot() error {
	metas, err := n.snaps.List()
	if err != nil || len(metas) == 0 || metas[0].Index <= n.fsm.durable || n.noStateChange(n.fsm.durable, metas[0].Index) {
		return err
	}
	_, rc, err := n.snaps.Open(metas[0].ID)
	if err != nil {
		return fmt.Errorf("cluster: open snapshot %s: %w", metas[0].ID, err)
	}
	return n.fsm.Restore(rc)
}

// noStateChange reports whether the log holds every entry after from up
// to to, and none that raft hands the store (a command or a
// configuration: see lastStateChange).
func (n *Node) noStateChange(from, to uint64) bool {
	var l raft.Log
	for i := from + 1; i <= to; i++ {
		if err := n.logs.GetLog(i, &l); err != nil || l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}

func (n *Node) bootstrap() error {
	ok, err := raft.HasExistingState(n.logs, n.logs, n.snaps)
	if err != nil || ok {
		return err
	}
	servers := []raft.Server{{ID: raft.ServerID(n.cfg.ID), Address: n.trans.LocalAddr()}}
	for _, p := range n.cfg.Peers {
		servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	return raft.BootstrapCluster(n.cfg.raftConfig(), n.logs, n.logs, n.snaps, n.trans,
		raft.Configuration{Servers: servers})
}

// dialer returns the transport's map of members to the addresses it dials
// (Config.Dial), or nil, which dials every member at its raft address.
func (n *Node) dialer() raft.ServerAddressProvider {
	if len(n.cfg.Dial) == 0 {
		return nil
	}
	return dialMap{n}
}

// dialMap is Config.Dial as raft's transport asks for it: by member ID.
type dialMap struct{ n *Node }

// ServerAddr returns the address to dial to reach member id: its entry in
// Config.Dial, or else its raft address in the latest configuration. An
// error makes the transport dial the address it was given (and log that
// it did).
func (d dialMap) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if addr, ok := d.n.cfg.Dial[string(id)]; ok {
		return raft.ServerAddress(addr), nil
	}
	if r := d.n.started.Load(); r != nil {
		if f := r.GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if s.ID == id {
					return s.Address, nil
				}
			}
		}
	}
	return "", fmt.Errorf("cluster: no address known for member %s", id)
}

// Addr returns the raft address the node listens on.
func (n *Node) Addr() string { return string(n.trans.LocalAddr()) }

// Fresh reports whether the node opened with no raft state: a new node,
// or one whose directory was lost.
func (n *Node) Fresh() bool { return n.fresh }

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// Close leaves raft (without leaving the cluster: see RemoveServer),
// closes the transport, raft's log and the store, and waits for all of
// them.
// A second Close returns the first's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		err := n.raft.Shutdown().Error()
		n.leaving.Wait()
		n.closeErr = errors.Join(err, n.trans.Close(), n.logs.Close(), n.fsm.Close())
	})
	return n.closeErr
}
