package kv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/crabkv/crabkv/walfmt"
)

// Limits of one batch.
const (
	// MaxBatchOps is the most operations a batch holds.
	MaxBatchOps = 100_000
	// MaxBatchBytes is the largest a batch's encoding may grow: its
	// record in the log, the operations' keys, values and headers
	// included. It is well within walfmt.MaxValueLen.
	MaxBatchBytes = 64 << 20
)

// ErrBatchTooLarge is returned by Write for a batch past MaxBatchOps or
// MaxBatchBytes.
var ErrBatchTooLarge = errors.New("kv: batch too large")

// Batch gathers puts and deletes that Write applies atomically: after a
// crash either all of them are in the store or none is, and no reader ever
// sees some of them without the others. Operations apply in the order they
// were added; a later one on the same key wins. A Batch is not safe for
// concurrent use. It belongs to the DB that made it.
//
// Put and Delete check their arguments as DB.Put and DB.Delete do; the
// first that fails makes the batch invalid, and Write returns its error
// and writes nothing. Unlike DB.Delete, a batch's delete of a key that is
// not there is written (and stale from the start).
type Batch struct {
	db *DB
	// rec is the batch's record as it will be written: a header, then
	// the operations (walfmt.AppendBatchOp). Empty until the first
	// operation.
	rec []byte
	enc []byte // the buffer values are encoded into
	n   int    // operations in rec
	err error  // the first invalid operation
}

// NewBatch returns an empty batch for db.
func (db *DB) NewBatch() *Batch { return &Batch{db: db} }

// Put adds a put of key to value. The batch copies both.
func (b *Batch) Put(key, value []byte) {
	if b.err == nil && len(value) > b.db.opts.MaxValueSize {
		b.fail(fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), b.db.opts.MaxValueSize))
	}
	b.add(walfmt.KindPut, key, value, 0)
}

// Delete adds a delete of key. The batch copies it.
func (b *Batch) Delete(key []byte) { b.add(walfmt.KindDelete, key, nil, 0) }

// Len returns the number of operations in the batch.
func (b *Batch) Len() int { return b.n }

// Size returns the size of the batch's encoding so far, which
// MaxBatchBytes bounds.
func (b *Batch) Size() int { return len(b.rec) }

// Err returns why the batch is invalid, if it is: the error Write would
// return without writing anything.
func (b *Batch) Err() error { return b.err }

// opError is a batch's first invalid operation: its number, from 1, and
// what is wrong with it, an error of this package, whose "kv: " its
// message does not repeat.
type opError struct {
	n   int
	err error
}

func (e *opError) Error() string {
	return fmt.Sprintf("kv: batch operation %d: %s", e.n, strings.TrimPrefix(e.err.Error(), "kv: "))
}

func (e *opError) Unwrap() error { return e.err }

// fail records err as the batch's error, that of its next operation.
func (b *Batch) fail(err error) { b.err = &opError{n: b.n + 1, err: err} }

// Reset empties the batch, and forgets its error, for reuse. The batch
// keeps its buffer.
func (b *Batch) Reset() { b.rec, b.n, b.err = b.rec[:0], 0, nil }

func (b *Batch) add(kind walfmt.Kind, key, value []byte, expiry int64) {
	if b.err != nil {
		return
	}
	if err := b.db.checkKey(key); err != nil {
		b.fail(err)
		return
	}
	var codec uint8
	if kind == walfmt.KindPut && b.db.opts.Codec.ID() != 0 {
		value, codec = encodeValue(b.db.opts.Codec, value, &b.enc)
	}
	size := max(len(b.rec), walfmt.RecordHeaderSize) + walfmt.RecordSizeExpiring(len(key), len(value), expiry)
	switch {
	case b.n == MaxBatchOps:
		b.err = fmt.Errorf("%w: more than %d operations", ErrBatchTooLarge, MaxBatchOps)
		return
	case size > MaxBatchBytes:
		b.err = fmt.Errorf("%w: operation %d makes it %d bytes, the limit is %d", ErrBatchTooLarge, b.n+1, size, MaxBatchBytes)
		return
	}
	if len(b.rec) == 0 {
		b.rec = walfmt.AppendBatchHeader(b.rec)
	}
	if kind == walfmt.KindPut {
		b.rec = walfmt.AppendBatchOpCodec(b.rec, key, value, codec, expiry)
	} else {
		b.rec = walfmt.AppendBatchOp(b.rec, kind, key, value)
	}
	b.n++
}

// Write applies the operations of b atomically, as one record in the log,
// and returns once they are durable (unless Options.NoSync is set) and
// visible to readers, all at once. A synced batch joins the group commit:
// writers that arrive together share one fsync. An empty batch writes
// nothing. An invalid batch writes nothing and returns its error. Write
// does not keep b: it may be reset and reused once Write returns.
func (db *DB) Write(b *Batch) error {
	c, err := db.WriteAsync(b)
	if err != nil {
		return err
	}
	return c.Wait()
}

// Commit is a batch that WriteAsync has appended to the log: Wait returns
// once it is durable and visible. The zero Commit has nothing to wait for.
type Commit struct {
	db  *DB
	seq uint64 // the write's place among synced writes; 0: none
}

// WriteAsync appends b to the log as Write does, and returns without
// waiting for the sync that makes it durable: Commit.Wait waits for it,
// and until then no reader sees b's operations, and b must not be changed
// or reused. Writes appended before a Wait share its sync, so a caller that
// appends the writes of many clients and then waits for them syncs once
// for all of them, as a Redis server does with appendfsync always. With
// Options.NoSync, b is applied and visible when WriteAsync returns. A
// Commit that is never waited for is made durable and visible by the next
// synced write's sync, or by Close.
func (db *DB) WriteAsync(b *Batch) (Commit, error) {
	if b == nil || (b.n == 0 && b.err == nil) {
		return Commit{}, nil
	}
	if b.err != nil {
		return Commit{}, b.err
	}
	if b.db != db {
		return Commit{}, errors.New("kv: batch belongs to another DB")
	}
	walfmt.SealBatch(b.rec)
	db.wmu.Lock()
	if err := db.writableLocked(); err != nil {
		db.wmu.Unlock()
		return Commit{}, err
	}
	if db.mu.view.unverified > 0 {
		// As write does for a put: a damaged record on a key's probe is
		// reported here, before anything is written.
		if err := db.probeBatch(b.rec); err != nil {
			db.wmu.Unlock()
			return Commit{}, err
		}
	}
	seq, err := db.appendLockedUnlock(pendingWrite{kind: walfmt.KindBatch, batch: b.rec}, b.rec)
	return Commit{db, seq}, err
}

// Wait returns once the write is on stable storage and visible to
// readers, or the error that kept it from being so. Waiting again returns
// at once.
func (c Commit) Wait() error {
	if c.seq == 0 {
		return nil
	}
	st, err := c.db.syncThrough(c.seq)
	if err != nil {
		return err
	}
	c.db.maybeCompact(st)
	return nil
}

// probeBatch looks up every key of the batch record rec. The caller holds
// wmu.
func (db *DB) probeBatch(rec []byte) error {
	r := walfmt.Record{Kind: walfmt.KindBatch, Value: rec[walfmt.RecordHeaderSize:]}
	return walfmt.ForEachOp(r, func(op walfmt.Record) error {
		_, err := db.has(op.Key)
		return err
	})
}

// Update runs fn with a new batch and writes the batch if fn returns nil.
// If fn returns an error, nothing is written and Update returns it.
func (db *DB) Update(fn func(*Batch) error) error {
	b := db.NewBatch()
	if err := fn(b); err != nil {
		return err
	}
	return db.Write(b)
}
