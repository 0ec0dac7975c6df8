package engines

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dgraph-io/badger/v4"
	"github.com/syndtr/goleveldb/leveldb/util"
	bolt "go.etcd.io/bbolt"
)

// Scanner is implemented by every engine: an ordered walk over a key
// range with values, each engine through its own iterator.
type Scanner interface {
	// Scan calls fn with each key in [start, end) in byte order (nil end:
	// to the last key) and its value, until fn returns false. key and
	// value are valid only during the call.
	Scan(start, end []byte, fn func(key, value []byte) bool) error
}

// Scan is CrabKv's own db.Scan.
func (e *crabEngine) Scan(start, end []byte, fn func(k, v []byte) bool) error {
	return e.db.Scan(start, end, fn)
}

// Scan uses an iterator with both bounds set, so pebble can skip tables
// outside the range.
func (e *pebbleEngine) Scan(start, end []byte, fn func(k, v []byte) bool) error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close() // the value's error is the one to report
			return err
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	return it.Close()
}

// Scan walks a cursor in one read transaction.
func (e *boltEngine) Scan(start, end []byte, fn func(k, v []byte) bool) error {
	return e.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.Seek(start); k != nil && (end == nil || bytes.Compare(k, end) < 0); k, v = c.Next() {
			if !fn(k, v) {
				break
			}
		}
		return nil
	})
}

// Scan uses an iterator over the range.
func (e *levelEngine) Scan(start, end []byte, fn func(k, v []byte) bool) error {
	it := e.db.NewIterator(&util.Range{Start: start, Limit: end}, nil)
	for it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	it.Release()
	return it.Error()
}

// Scan uses an iterator in one read transaction, with badger's default
// value prefetching.
func (e *badgerEngine) Scan(start, end []byte, fn func(k, v []byte) bool) error {
	return e.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if end != nil && bytes.Compare(k, end) >= 0 {
				break
			}
			stop := false
			if err := item.Value(func(v []byte) error {
				stop = !fn(k, v)
				return nil
			}); err != nil {
				return err
			}
			if stop {
				break
			}
		}
		return nil
	})
}
