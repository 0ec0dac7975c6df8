package cluster

import (
	"math"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/server"
	"github.com/crabkv/crabkv/walfmt"
)

// Expiring keys in a cluster.
//
// A write that makes a key expire is an OpPutExpiry entry carrying the
// absolute instant it expires, worked out once, on the leader, from its
// clock (Config.KV.Clock, time.Now by default) as it proposes the write:
// SET's EX and PX add the TTL to the leader's time, EXAT and PXAT give
// the instant, KEEPTTL reads the key's current one. Every node applies
// the same record, whenever it applies it, and judges by its own clock
// whether the key has expired: from that instant on, the key is absent on
// each node as that node's clock tells it. So the cluster assumes the
// members' clocks roughly agree (NTP keeps them within milliseconds): a
// node whose clock runs behind shows a key a little longer to its
// READONLY readers, one whose clock runs ahead a little less. The leader
// answers linearizable reads, TTL included, by its own clock.
//
// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT and PERSIST change the expiry of a
// key that exists. The leader's server holds the key's lock (see Store),
// reads the key's value with a linearizable read, and proposes the value
// again with the new expiry (or without one, or a delete for a time not
// in the future). The entry thus carries the value: it never depends on
// what a node's store holds when it applies it, which, for a key about to
// expire, would depend on that node's clock. The cost is that changing
// the expiry of a large value replicates the value.

// Write implements server.Store: ops are one raft entry. An op's TTL
// becomes an absolute expiry here, on the node that proposes the write.
func (s *Store) Write(ops []server.Op) error {
	now := s.n.now()
	w := make([]Op, len(ops))
	for i, op := range ops {
		switch {
		case op.Delete:
			w[i] = Delete(op.Key)
		case op.TTL > 0:
			w[i] = Op{Kind: OpPutExpiry, Key: op.Key, Value: op.Value, Expiry: expiryAfter(now, op.TTL)}
		case !op.ExpiresAt.IsZero():
			w[i] = PutExpiresAt(op.Key, op.Value, op.ExpiresAt)
		default:
			w[i] = Put(op.Key, op.Value)
		}
	}
	ctx, cancel := callCtx()
	defer cancel()
	return s.clientError(s.n.writeSettled(ctx, w...))
}

// expiryAfter returns now+ttl in Unix ns; one too far to represent is the
// latest there is.
func expiryAfter(now time.Time, ttl time.Duration) int64 {
	t := now.UnixNano()
	if t > math.MaxInt64-int64(ttl) {
		return math.MaxInt64
	}
	return t + int64(ttl)
}

// TTL implements server.Store: the time key has left by this node's
// clock, kv.NoExpiry for a key that never expires.
func (s *Store) TTL(r server.Read, key []byte) (time.Duration, error) {
	var d time.Duration
	err := s.readKey(r, key, func(db *kv.DB) (err error) {
		d, err = db.TTL(key)
		return err
	})
	return d, err
}

// ExpiresAt implements server.Store: when key expires, the zero time for
// never.
func (s *Store) ExpiresAt(r server.Read, key []byte) (time.Time, error) {
	var at time.Time
	err := s.readKey(r, key, func(db *kv.DB) (err error) {
		at, err = db.ExpiresAt(key)
		return err
	})
	return at, err
}

// readKey runs fn on the store as r says, refusing the cluster's own keys.
func (s *Store) readKey(r server.Read, key []byte, fn func(*kv.DB) error) error {
	if isReserved(key) {
		return kv.ErrNotFound
	}
	ctx, cancel := callCtx()
	defer cancel()
	return s.clientError(s.n.read(ctx, s.opts(r), fn))
}

// Expire implements server.Store: key expires ttl from now by the
// leader's clock; a ttl of zero or less deletes it.
func (s *Store) Expire(key []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return s.rewriteExpiry(key, -1)
	}
	return s.rewriteExpiry(key, expiryAfter(s.n.now(), ttl))
}

// ExpireAt implements server.Store: key expires at t; a t not after the
// leader's time deletes it.
func (s *Store) ExpireAt(key []byte, t time.Time) error {
	if !t.After(s.n.now()) {
		return s.rewriteExpiry(key, -1)
	}
	return s.rewriteExpiry(key, walfmt.ExpiryOf(t))
}

// Persist implements server.Store: key no longer expires.
func (s *Store) Persist(key []byte) error { return s.rewriteExpiry(key, 0) }

// rewriteExpiry gives key the expiry at (Unix ns; 0 for none, -1 to
// delete the key), as the comment at the top of the file describes. The
// caller, the server, holds key's lock. The error wraps kv.ErrNotFound
// for an absent key.
func (s *Store) rewriteExpiry(key []byte, at int64) error {
	if isReserved(key) {
		return kv.ErrNotFound
	}
	ctx, cancel := callCtx()
	defer cancel()
	var cur savedValue
	err := s.n.read(ctx, ReadOptions{}, func(db *kv.DB) (err error) {
		cur, err = getExpiring(db, key)
		return err
	})
	switch {
	case err != nil:
		return s.clientError(err)
	case cur.value == nil:
		return kv.ErrNotFound
	case at == 0 && cur.expiry == 0:
		return nil // PERSIST of a key without an expiry
	}
	op := Op{Kind: OpPutExpiry, Key: key, Value: cur.value, Expiry: at}
	switch at {
	case -1:
		op = Delete(key)
	case 0:
		op = Put(key, cur.value)
	}
	return s.clientError(s.n.writeSettled(ctx, op))
}

// now is the time expiries are worked out from on this node.
func (n *Node) now() time.Time { return n.fsm.opts.Clock() }
