package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/server"
	"github.com/hashicorp/raft"
)

// Store serves a Node over RESP: it is the server.Store of crabkv serve
// --cluster.
//
// Writes go through Node.Write, so a pipeline's run of plain writes (one
// server.Store.Write) is one raft entry. Only the leader takes them. A
// write returns once its entry is applied or refused, however long that
// takes (writeSettled): the server holds its keys' locks until then.
//
// Reads are linearizable (Node.Get) unless the connection sent READONLY:
// then they are served by this node's store as it is, on any node, and may
// miss writes acknowledged elsewhere. A read a write depends on
// (server.Read.Fresh) is always linearizable.
//
// Elsewhere than on the leader, a write or a linearizable read is answered
// with a redirect, "-MOVED 0 host:port", to the leader's client address,
// as Redis Cluster answers for a slot served elsewhere (every key is in
// slot 0 here): redis-cli -c and go-redis's ClusterClient follow it.
// Redirecting rather than forwarding keeps one path for every write: the
// leader's server, whose key locks then cover every write, which is what
// makes SET NX|XX|GET, GETDEL and DEL's count atomic across the cluster
// (each holds its key's lock from a linearizable read to its write on the
// leader; if the leader is deposed in between, the write fails, or is
// committed before the next leader's first read). Each leader writes its
// client address into the log (Advertise) as it takes office; until that
// is applied here, and while there is no leader, the answer is
// "-CLUSTERDOWN …", which clients retry.
//
// Store also serves CRABKV.CLUSTER STATUS|JOIN|LEAVE and CLUSTER SLOTS,
// and the cluster section of INFO. JOIN id raft-addr client-addr NEW is
// the join of a node with no raft state (Node.AddNewVoter).
type Store struct {
	n    *Node
	addr string // this node's client address, advertised while leader

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// advertiseEvery is how often a node checks whether, as leader, it must
// write its client address into the log.
const advertiseEvery = 100 * time.Millisecond

// NewStore returns n as a server.Store; addr is the address the node
// serves clients on (host:port), which the leader advertises. Close stops
// the advertising; it does not close n.
func NewStore(n *Node, addr string) *Store {
	s := &Store{n: n, addr: addr, stop: make(chan struct{}), done: make(chan struct{})}
	go s.advertise()
	return s
}

// Close stops the store's background work.
func (s *Store) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// advertise makes sure that, while this node leads, the log holds its
// client address, so that followers can redirect clients to it.
func (s *Store) advertise() {
	defer close(s.done)
	t := time.NewTicker(advertiseEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.n.raft.State() != raft.Leader {
			continue
		}
		if got, _ := s.n.ClientAddr(s.n.ID()); got == s.addr {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
		_ = s.n.Advertise(ctx, s.n.ID(), s.addr) // tried again on the next tick
		cancel()
	}
}

// Advertise writes addr as member id's client address through the log;
// on the leader only.
func (n *Node) Advertise(ctx context.Context, id, addr string) error {
	return n.write(ctx, []Op{Put(respKey(id), []byte(addr))}, false)
}

// ClientAddr returns the client address member id advertised, as this
// node's store has it ("" if none).
func (n *Node) ClientAddr(id string) (string, error) {
	var addr string
	err := n.fsm.read(func(db *kv.DB) error {
		v, err := db.Get(respKey(id))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		addr = string(v)
		return err
	})
	return addr, err
}

// replyError is an error with the RESP reply the server sends for it.
type replyError struct {
	reply string
	err   error
}

func (e *replyError) Error() string     { return e.reply }
func (e *replyError) RESPError() string { return e.reply }
func (e *replyError) Unwrap() error     { return e.err }

// clientError maps the node's errors onto the replies Redis clients know.
func (s *Store) clientError(err error) error {
	var nl *ErrNotLeader
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoLeader):
		return &replyError{"CLUSTERDOWN the cluster has no leader; retry once it has elected one", err}
	case errors.As(err, &nl):
		addr, _ := s.n.ClientAddr(nl.LeaderID)
		if addr == "" {
			return &replyError{fmt.Sprintf("CLUSTERDOWN the leader %s has not advertised its client address yet; retry", nl.LeaderID), err}
		}
		return &replyError{"MOVED 0 " + addr, err}
	case errors.Is(err, ErrReservedKey):
		return &replyError{"ERR keys starting with " + fmt.Sprintf("%q", ReservedPrefix) + " are reserved for the cluster", err}
	}
	return err
}

func (s *Store) opts(r server.Read) ReadOptions { return ReadOptions{Stale: r.Stale && !r.Fresh} }

func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// callTimeout bounds a call of the server's (see callCtx); a variable for
// tests.
var callTimeout = defaultTimeout

// Get implements server.Store.
func (s *Store) Get(r server.Read, key []byte) ([]byte, error) {
	ctx, cancel := callCtx()
	defer cancel()
	if isReserved(key) {
		return nil, kv.ErrNotFound
	}
	v, err := s.n.Get(ctx, key, s.opts(r))
	return v, s.clientError(err)
}

// ReadValueAt implements server.Store.
func (s *Store) ReadValueAt(r server.Read, key, p []byte, off int64) (n, size int, err error) {
	ctx, cancel := callCtx()
	defer cancel()
	err = s.n.read(ctx, s.opts(r), func(db *kv.DB) (err error) {
		if isReserved(key) {
			return kv.ErrNotFound
		}
		n, size, err = db.ReadValueAt(key, p, off)
		return err
	})
	return n, size, s.clientError(err)
}

// ValueSize implements server.Store.
func (s *Store) ValueSize(r server.Read, key []byte) (size int, err error) {
	ctx, cancel := callCtx()
	defer cancel()
	err = s.n.read(ctx, s.opts(r), func(db *kv.DB) error {
		if isReserved(key) {
			return kv.ErrNotFound
		}
		e, err := db.Entry(key)
		size = e.ValueSize
		return err
	})
	return size, s.clientError(err)
}

// Keys implements server.Store; the cluster's own keys are left out.
func (s *Store) Keys(r server.Read, prefix []byte) ([]string, error) {
	ctx, cancel := callCtx()
	defer cancel()
	keys, err := s.n.Keys(ctx, prefix, s.opts(r))
	return keys, s.clientError(err)
}

// Scan implements server.Store; the cluster's own keys are left out.
func (s *Store) Scan(r server.Read, start, end []byte, fn func(key []byte) bool) error {
	ctx, cancel := callCtx()
	defer cancel()
	err := s.n.read(ctx, s.opts(r), func(db *kv.DB) error {
		return db.AscendRange(start, end, func(k []byte) bool {
			return isReserved(k) || fn(k)
		})
	})
	return s.clientError(err)
}

// Put implements server.Store.
func (s *Store) Put(key, value []byte) error {
	ctx, cancel := callCtx()
	defer cancel()
	return s.clientError(s.n.writeSettled(ctx, Put(key, value)))
}

// Delete implements server.Store.
func (s *Store) Delete(key []byte) error {
	ctx, cancel := callCtx()
	defer cancel()
	return s.clientError(s.n.writeSettled(ctx, Delete(key)))
}

// Stats implements server.Store: this node's store, less the cluster's
// own keys from the key count.
func (s *Store) Stats() kv.Stats {
	var st kv.Stats
	_ = s.n.fsm.read(func(db *kv.DB) error {
		st = db.Stats()
		own, _ := db.CheckedKeys([]byte(ReservedPrefix))
		st.Keys -= len(own)
		return nil
	})
	return st
}

// Dir implements server.Store: this node's data directory.
func (s *Store) Dir() string { return s.n.cfg.Dir }

// Compact implements server.Store: it compacts this node's store.
func (s *Store) Compact() error {
	return s.n.fsm.read(func(db *kv.DB) error { return db.Compact() })
}

// Subscribe implements server.Store: this node's compaction events. A
// restore from a snapshot swaps the store, and ends the subscription.
func (s *Store) Subscribe() (<-chan kv.CompactionEvent, func()) {
	var ch <-chan kv.CompactionEvent
	var cancel func()
	_ = s.n.fsm.read(func(db *kv.DB) error {
		ch, cancel = db.Subscribe()
		return nil
	})
	return ch, cancel
}

// InfoSection implements server.InfoSectioner: INFO's cluster section.
func (s *Store) InfoSection() (string, [][2]string) {
	return "cluster", s.statusFields()
}

func (s *Store) statusFields() [][2]string {
	st := s.n.Status()
	leaderAddr, _ := s.n.ClientAddr(st.LeaderID)
	peers := make([]string, len(st.Peers))
	for i, p := range st.Peers {
		suffrage := "voter"
		if !p.Voter {
			suffrage = "nonvoter"
		}
		addr, _ := s.n.ClientAddr(p.ID)
		peers[i] = fmt.Sprintf("%s@%s,%s,%s", p.ID, p.Addr, addr, suffrage)
	}
	lag := ""
	if !st.LastContact.IsZero() {
		lag = fmt.Sprint(time.Since(st.LastContact).Milliseconds())
	}
	errText := ""
	if st.Err != nil {
		errText = strings.Join(strings.Fields(st.Err.Error()), " ")
	}
	return [][2]string{
		{"cluster_enabled", "1"},
		{"cluster_node_id", st.ID},
		{"cluster_raft_addr", st.Addr},
		{"cluster_role", strings.ToLower(st.Role)},
		{"cluster_term", fmt.Sprint(st.Term)},
		{"cluster_commit_index", fmt.Sprint(st.CommitIndex)},
		{"cluster_applied_index", fmt.Sprint(st.AppliedIndex)},
		{"cluster_last_index", fmt.Sprint(st.LastIndex)},
		{"cluster_first_index", fmt.Sprint(st.FirstIndex)},
		{"cluster_last_snapshot_index", fmt.Sprint(st.LastSnapshotIndex)},
		{"cluster_snapshots_restored", fmt.Sprint(st.SnapshotsRestored)},
		{"cluster_leader_id", st.LeaderID},
		{"cluster_leader_raft_addr", st.Leader},
		{"cluster_leader_addr", leaderAddr},
		{"cluster_last_contact_ms", lag},
		{"cluster_peers", strings.Join(peers, " ")},
		{"cluster_apply_error", errText},
	}
}

// Command implements server.Extension:
//
//	CRABKV.CLUSTER STATUS           this node's view, as field/value pairs
//	CRABKV.CLUSTER JOIN id raftaddr [clientaddr]
//	                                add a voter (on the leader), and
//	                                record its client address
//	CRABKV.CLUSTER LEAVE id         remove a member (on the leader)
//	CRABKV.CLUSTER SNAPSHOT         take a snapshot of this node now, and
//	                                trim raft's log to its trailing entries
//	CLUSTER SLOTS                   slot range 0-16383 served by the leader,
//	                                with the followers as replicas, so
//	                                cluster clients find the leader
func (s *Store) Command(args [][]byte) (any, bool) {
	name := strings.ToLower(string(args[0]))
	if name != "crabkv.cluster" && name != "cluster" {
		return nil, false
	}
	if len(args) < 2 {
		return fmt.Errorf("wrong number of arguments for '%s' command", name), true
	}
	sub := strings.ToLower(string(args[1]))
	if name == "cluster" {
		if sub != "slots" {
			return fmt.Errorf("unknown subcommand '%s': this node serves CLUSTER SLOTS only (see CRABKV.CLUSTER)", truncateArg(args[1])), true
		}
		return s.slots(), true
	}
	ctx, cancel := callCtx()
	defer cancel()
	switch {
	case sub == "status" && len(args) == 2:
		var out []string
		for _, f := range s.statusFields() {
			out = append(out, f[0], f[1])
		}
		return out, true
	case sub == "join" && (len(args) == 4 || len(args) == 5 || len(args) == 6 && strings.EqualFold(string(args[5]), "new")):
		id := string(args[2])
		add := s.n.AddVoter
		if len(args) == 6 {
			add = s.n.AddNewVoter // the node has no raft state
		}
		if err := s.clientError(add(ctx, id, string(args[3]))); err != nil {
			return err, true
		}
		if len(args) >= 5 {
			if err := s.clientError(s.n.Advertise(ctx, id, string(args[4]))); err != nil {
				return err, true
			}
		}
		return "OK", true
	case sub == "leave" && len(args) == 3:
		if err := s.clientError(s.n.RemoveServer(ctx, string(args[2]))); err != nil {
			return err, true
		}
		return "OK", true
	case sub == "snapshot" && len(args) == 2:
		if err := s.n.Snapshot(); err != nil {
			return err, true
		}
		return "OK", true
	}
	return errors.New("syntax: CRABKV.CLUSTER STATUS | JOIN id raft-host:port [client-host:port [NEW]] | LEAVE id | SNAPSHOT"), true
}

func truncateArg(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// slots is CLUSTER SLOTS: every slot on the leader, the other members
// with a known client address as its replicas. With no known leader the
// reply is a CLUSTERDOWN error.
func (s *Store) slots() any {
	st := s.n.Status()
	leader, _ := s.n.ClientAddr(st.LeaderID)
	if leader == "" {
		return s.clientError(ErrNoLeader)
	}
	entry := []any{int64(0), int64(16383), nodeEntry(leader, st.LeaderID)}
	peers := append([]Peer(nil), st.Peers...)
	sort.Slice(peers, func(i, j int) bool { return peers[i].ID < peers[j].ID })
	for _, p := range peers {
		if p.ID == st.LeaderID {
			continue
		}
		if addr, _ := s.n.ClientAddr(p.ID); addr != "" {
			entry = append(entry, nodeEntry(addr, p.ID))
		}
	}
	return []any{entry}
}

func nodeEntry(addr, id string) []any {
	host, port := addr, int64(0)
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host = addr[:i]
		_, _ = fmt.Sscan(addr[i+1:], &port)
	}
	return []any{[]byte(host), port, []byte(id)}
}
