package server

import (
	"errors"
	"sync"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// Store is what a Server serves: the reads and writes its commands make.
// New serves a *kv.DB through it; NewWithStore serves any other, such as
// a replicated store whose writes go through consensus.
//
// Errors that wrap kv.ErrNotFound mean the key is absent. An error that
// implements Error is sent to the client as the reply it gives (a
// redirect, say); any other becomes "-ERR …".
//
// The server keeps its own key locks (keyLocks): a command that reads and
// then writes a key (SET NX|XX|GET, GETDEL, DEL's count) holds the key's
// lock from the read to the write, and reads with Fresh. That is atomic
// only if every write to the store goes through this Server; a replicated
// store ensures it by taking writes on one node only (its leader).
type Store interface {
	// Get returns key's value.
	Get(r Read, key []byte) ([]byte, error)
	// ReadValueAt copies key's value from offset off into p, as
	// kv.DB.ReadValueAt: n bytes copied, the value's full size, io.EOF
	// when p reaches past the end.
	ReadValueAt(r Read, key, p []byte, off int64) (n, size int, err error)
	// ValueSize returns the size of key's value.
	ValueSize(r Read, key []byte) (int, error)
	// Keys returns the keys that start with prefix, in byte order. With
	// an error it may still return the keys it could read.
	Keys(r Read, prefix []byte) ([]string, error)
	// Scan calls fn with each key in [start, end) (nil: unbounded), in
	// byte order, until fn returns false, as kv.DB.AscendRange does: its
	// cost is a seek and the keys fn sees, not the size of the store, so
	// SCAN can resume a page after the last key of the one before. A key
	// present for the whole call is passed to fn; one written or deleted
	// meanwhile may or may not be. The key is valid only during the call.
	// A damaged record's key is left out, and the error then wraps
	// walfmt.ErrCorrupt.
	Scan(r Read, start, end []byte, fn func(key []byte) bool) error

	// Put, Delete and Write write; Write applies ops all or nothing.
	Put(key, value []byte) error
	Delete(key []byte) error
	Write(ops []Op) error

	// Expiring keys, as kv.DB keeps them (see kv.DB.PutTTL): TTL
	// returns the time key has left, kv.NoExpiry for none; ExpiresAt
	// when it expires, the zero time for never; Expire and ExpireAt set
	// it (a time not in the future deletes the key), Persist removes it.
	// A store that cannot keep expiries returns an error saying so.
	TTL(r Read, key []byte) (time.Duration, error)
	ExpiresAt(r Read, key []byte) (time.Time, error)
	Expire(key []byte, ttl time.Duration) error
	ExpireAt(key []byte, t time.Time) error
	Persist(key []byte) error

	// Stats, Dir, Compact and Subscribe describe and maintain the store
	// this server runs on (for a replicated store, this node's).
	Stats() kv.Stats
	Dir() string
	Compact() error
	Subscribe() (<-chan kv.CompactionEvent, func())
}

// Read says how a read is served. The zero value is the default.
type Read struct {
	// Stale allows a read of a copy that may lag the latest writes: a
	// connection that sent READONLY. A store with one copy ignores it.
	Stale bool
	// Fresh is set for a read a write depends on (SET NX, GETDEL, DEL's
	// count): the store must then read the latest state, whatever Stale.
	Fresh bool
}

// Op is one write of Store.Write: a put, or a delete when Delete is set.
// A put expires after TTL, or at ExpiresAt, if either is set.
type Op struct {
	Key, Value []byte
	Delete     bool
	TTL        time.Duration
	ExpiresAt  time.Time
}

// Error is an error whose RESP error reply the store chooses, such as
// "CLUSTERDOWN …" or "MOVED 0 host:port" (without the leading '-').
type Error interface {
	error
	RESPError() string
}

// Extension is implemented by a store that serves commands of its own
// (such as CRABKV.CLUSTER); the server looks there for a command it does
// not know, after AUTH.
type Extension interface {
	// Command runs args (args[0] is the name, in any case), and reports
	// whether it knows the command. The reply is a string (a simple
	// string), []byte (a bulk string), int64, []string (an array of bulk
	// strings), []any (an array of any of these), or an error.
	Command(args [][]byte) (reply any, ok bool)
}

// InfoSectioner is implemented by a store with a section of its own in
// INFO, such as "cluster".
type InfoSectioner interface {
	InfoSection() (name string, fields [][2]string)
}

// viewer is implemented by a store that can lend a value where it lies
// (kv.DB.View), so that GET copies it once, into the reply, instead of
// into a buffer of its own first. fn must be short and must not call the
// store; the value is valid only while it runs. Errors are Get's.
type viewer interface {
	View(r Read, key []byte, fn func(value []byte) error) error
}

// asError returns err as an Error, if it is one.
func asError(err error) (Error, bool) {
	var e Error
	ok := errors.As(err, &e)
	return e, ok
}

// dbStore is a *kv.DB as a Store: every read is of the one copy there is.
type dbStore struct {
	db *kv.DB
	// batches keeps kv.Batches for Write between runs, so a pipelined
	// write allocates none.
	batches sync.Pool
}

// NewDBStore returns db as a Store. New(db, opts) is
// NewWithStore(NewDBStore(db), opts).
func NewDBStore(db *kv.DB) Store { return &dbStore{db: db} }

func (s *dbStore) Get(_ Read, key []byte) ([]byte, error) { return s.db.Get(key) }

func (s *dbStore) View(_ Read, key []byte, fn func([]byte) error) error {
	return s.db.View(key, fn)
}

func (s *dbStore) ReadValueAt(_ Read, key, p []byte, off int64) (int, int, error) {
	return s.db.ReadValueAt(key, p, off)
}

func (s *dbStore) ValueSize(_ Read, key []byte) (int, error) {
	e, err := s.db.Entry(key)
	return e.ValueSize, err
}

func (s *dbStore) Keys(_ Read, prefix []byte) ([]string, error) { return s.db.CheckedKeys(prefix) }
func (s *dbStore) Scan(_ Read, start, end []byte, fn func([]byte) bool) error {
	return s.db.AscendRange(start, end, fn)
}
func (s *dbStore) Put(key, value []byte) error { return s.db.Put(key, value) }
func (s *dbStore) Delete(key []byte) error     { return s.db.Delete(key) }

func (s *dbStore) Write(ops []Op) error {
	c, err := s.writeAsync(ops)
	if err != nil {
		return err
	}
	return c.wait()
}

// dbCommit is a write of dbStore.writeAsync, and the batch it holds until
// it is durable.
type dbCommit struct {
	s      *dbStore
	b      *kv.Batch
	commit kv.Commit
}

// writeAsync appends ops as one batch (kv.DB.WriteAsync), and returns
// before they are durable: wait waits for that, and until then they are
// not visible.
func (s *dbStore) writeAsync(ops []Op) (dbCommit, error) {
	b, _ := s.batches.Get().(*kv.Batch)
	if b == nil {
		b = s.db.NewBatch()
	}
	c := dbCommit{s: s, b: b}
	for _, op := range ops {
		switch {
		case op.Delete:
			b.Delete(op.Key)
		case !op.ExpiresAt.IsZero():
			b.PutExpiresAt(op.Key, op.Value, op.ExpiresAt)
		case op.TTL > 0:
			b.PutTTL(op.Key, op.Value, op.TTL)
		default:
			b.Put(op.Key, op.Value)
		}
	}
	err := b.Err()
	if err == nil {
		c.commit, err = s.db.WriteAsync(b)
	}
	if err != nil {
		c.release()
		return dbCommit{}, err
	}
	return c, nil
}

// wait returns once the write is durable and visible, and releases its
// batch. A zero dbCommit has nothing to wait for.
func (c dbCommit) wait() error {
	if c.s == nil {
		return nil
	}
	err := c.commit.Wait()
	c.release()
	return err
}

func (c dbCommit) release() {
	c.b.Reset()
	c.s.batches.Put(c.b)
}

func (s *dbStore) TTL(_ Read, key []byte) (time.Duration, error) { return s.db.TTL(key) }
func (s *dbStore) ExpiresAt(_ Read, key []byte) (time.Time, error) {
	return s.db.ExpiresAt(key)
}
func (s *dbStore) Expire(key []byte, ttl time.Duration) error { return s.db.Expire(key, ttl) }
func (s *dbStore) ExpireAt(key []byte, t time.Time) error     { return s.db.ExpireAt(key, t) }
func (s *dbStore) Persist(key []byte) error                   { return s.db.Persist(key) }

func (s *dbStore) Stats() kv.Stats { return s.db.Stats() }
func (s *dbStore) Dir() string     { return s.db.Dir() }
func (s *dbStore) Compact() error  { return s.db.Compact() }
func (s *dbStore) Subscribe() (<-chan kv.CompactionEvent, func()) {
	return s.db.Subscribe()
}
