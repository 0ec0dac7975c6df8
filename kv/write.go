package kv

import (
	"fmt"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// Put sets key to value. Unless Options.NoSync is set, the record is on
// stable storage when Put returns. Put does not keep key or value.
func (db *DB) Put(key, value []byte) error {
	if err := db.checkKey(key); err != nil {
		return err
	}
	if len(value) > db.opts.MaxValueSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), db.opts.MaxValueSize)
	}
	return db.write(walfmt.KindPut, key, value)
}

// Delete removes key. Deleting a key that is not there is not an error and
// writes nothing.
func (db *DB) Delete(key []byte) error {
	if err := db.checkKey(key); err != nil {
		return err
	}
	return db.write(walfmt.KindDelete, key, nil)
}

func (db *DB) checkKey(key []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > db.opts.MaxKeySize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrKeyTooLarge, len(key), db.opts.MaxKeySize)
	}
	return nil
}

// write appends one record, makes it durable as the options ask, and then
// publishes it to readers: a reader never sees a value that a crash could
// still take back.
func (db *DB) write(kind walfmt.Kind, key, value []byte) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if err := db.writableLocked(); err != nil {
		return err
	}
	if kind == walfmt.KindDelete && !db.has(key) {
		return nil
	}
	if kind == walfmt.KindPut {
		db.buf = walfmt.AppendPut(db.buf[:0], key, value)
	} else {
		db.buf = walfmt.AppendDelete(db.buf[:0], key)
	}
	off := db.mu.c.size // only writers change it, and we hold wmu
	if err := db.appendLocked(db.buf, off); err != nil {
		return err
	}
	db.mu.Lock()
	db.mu.c.apply(db.mu.index, kind, key, off, len(db.buf))
	st := compact.State{LogBytes: db.mu.c.size, StaleBytes: db.mu.c.stale}
	db.mu.Unlock()
	db.maybeCompact(st)
	return nil
}

// writableLocked returns why the DB cannot take a write, if it cannot.
func (db *DB) writableLocked() error {
	switch {
	case db.opts.ReadOnly:
		return ErrReadOnly
	case db.failed != nil:
		return fmt.Errorf("kv: store failed earlier and takes no more writes (reopen it): %w", db.failed)
	}
	db.mu.RLock()
	closed := db.mu.closed
	db.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return nil
}

func (db *DB) has(key []byte) bool {
	db.mu.RLock()
	_, ok := db.mu.index[string(key)]
	db.mu.RUnlock()
	return ok
}

// appendLocked writes rec at off and syncs it unless NoSync. A failed write
// is cut back so the log ends at a record boundary again; a failed sync
// fails the store, because after a failed fsync the kernel may have dropped
// the dirty pages and the file's contents are no longer known.
func (db *DB) appendLocked(rec []byte, off int64) error {
	log := db.mu.log
	if _, err := log.WriteAt(rec, off); err != nil {
		if terr := log.Truncate(off); terr != nil {
			db.failed = terr
		}
		return fmt.Errorf("kv: append to %s: %w", db.path, err)
	}
	if db.opts.NoSync {
		return nil
	}
	if err := log.Sync(); err != nil {
		db.failed = err
		return fmt.Errorf("kv: sync %s: %w", db.path, err)
	}
	return nil
}

// maybeCompact starts a background compaction when the policy says one is
// due. The writer does not wait for it.
func (db *DB) maybeCompact(st compact.State) {
	p := db.opts.Compaction
	if p.Disabled || st.LogBytes < p.MinLogBytes {
		return
	}
	db.cmu.Lock()
	st.SinceLast = time.Since(db.cmu.lastEnd)
	due := db.cmu.running == nil && !db.cmu.closing && p.Due(st)
	db.cmu.Unlock()
	if due {
		db.startCompaction()
	}
}
