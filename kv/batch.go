package kv

import (
	"errors"
	"fmt"

	"github.com/crabkv/crabkv/walfmt"
)

// Limits of one batch.
const (
	// MaxBatchOps is the most operations a batch holds.
	//
	// Readers wait while a batch is published: all of its operations go
	// into the index under one exclusive hold of the readers' lock, so
	// that none is seen without the others. That costs about a third of a
	// microsecond an operation (BenchmarkBatchPublish in kv_test): some
	// 25 to 35 ms for a batch of MaxBatchOps on a 2-core machine, and more
	// when the batch makes the index double, which rehashes every key under
	// the same hold. A program whose readers need answers within a few
	// milliseconds writes batches of at most about ten thousand
	// operations, as crabkv import does.
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
	// ops locates each operation in rec as it is encoded, so that
	// publishing the batch, under the readers' lock, only updates the
	// index and does not decode and check the operations again.
	ops []batchOp
	n   int   // operations in rec
	err error // the first invalid operation
}

// batchOp is where one operation of a batch sits in the batch's record.
type batchOp struct {
	kind   walfmt.Kind
	pos    int32 // offset in the record; MaxBatchBytes fits
	keyLen int32
	size   int32 // the operation's encoded size
}

// NewBatch returns an empty batch for db.
func (db *DB) NewBatch() *Batch { return &Batch{db: db} }

// Put adds a put of key to value. The batch copies both.
func (b *Batch) Put(key, value []byte) {
	if b.err == nil && len(value) > b.db.opts.MaxValueSize {
		b.err = fmt.Errorf("kv: batch operation %d: %w: %d bytes, the limit is %d", b.n+1, ErrValueTooLarge, len(value), b.db.opts.MaxValueSize)
	}
	b.add(walfmt.KindPut, key, value)
}

// Delete adds a delete of key. The batch copies it.
func (b *Batch) Delete(key []byte) { b.add(walfmt.KindDelete, key, nil) }

// Len returns the number of operations in the batch.
func (b *Batch) Len() int { return b.n }

// Size returns the size of the batch's encoding so far, which
// MaxBatchBytes bounds.
func (b *Batch) Size() int { return len(b.rec) }

// Err returns why the batch is invalid, if it is: the error Write would
// return without writing anything.
func (b *Batch) Err() error { return b.err }

// Reset empties the batch, and forgets its error, for reuse. The batch
// keeps its buffer.
func (b *Batch) Reset() { b.rec, b.ops, b.n, b.err = b.rec[:0], b.ops[:0], 0, nil }

func (b *Batch) add(kind walfmt.Kind, key, value []byte) {
	if b.err != nil {
		return
	}
	if err := b.db.checkKey(key); err != nil {
		b.err = fmt.Errorf("kv: batch operation %d: %w", b.n+1, err)
		return
	}
	size := max(len(b.rec), walfmt.RecordHeaderSize) + walfmt.RecordSize(len(key), len(value))
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
	pos := len(b.rec)
	b.rec = walfmt.AppendBatchOp(b.rec, kind, key, value)
	b.ops = append(b.ops, batchOp{kind: kind, pos: int32(pos), keyLen: int32(len(key)), size: int32(len(b.rec) - pos)})
	b.n++
}

// Write applies the operations of b atomically, as one record in the log,
// and returns once they are durable (unless Options.NoSync is set) and
// visible to readers, all at once. A synced batch joins the group commit:
// writers that arrive together share one fsync. An empty batch writes
// nothing. An invalid batch writes nothing and returns its error. Write
// does not keep b: it may be reset and reused once Write returns.
func (db *DB) Write(b *Batch) error {
	if b == nil || (b.n == 0 && b.err == nil) {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	if b.db != db {
		return errors.New("kv: batch belongs to another DB")
	}
	walfmt.SealBatch(b.rec)
	db.wmu.Lock()
	if err := db.writableLocked(); err != nil {
		db.wmu.Unlock()
		return err
	}
	if db.mu.view.unverified > 0 {
		// As write does for a put: a damaged record on a key's probe is
		// reported here, before anything is written.
		if err := db.probeBatch(b.rec); err != nil {
			db.wmu.Unlock()
			return err
		}
	}
	return db.commitLocked(pendingWrite{kind: walfmt.KindBatch, batch: b.rec, ops: b.ops}, b.rec)
}

// applyBatchMuLocked applies the batch w to the index and the counters as
// counters.applyRecord would, from the places its Batch recorded instead of
// decoding the record: its header, stale from the start, then each
// operation at its own offset. The caller holds mu exclusively.
func (db *DB) applyBatchMuLocked(src keySource, w pendingWrite) error {
	c, idx := &db.mu.c, db.mu.index
	if err := c.apply(idx, src, walfmt.KindBatch, nil, w.off, walfmt.RecordHeaderSize); err != nil {
		return err
	}
	for _, op := range w.ops {
		k := int(op.pos) + walfmt.RecordHeaderSize
		if err := c.apply(idx, src, op.kind, w.batch[k:k+int(op.keyLen)], w.off+int64(op.pos), int(op.size)); err != nil {
			return err
		}
	}
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
