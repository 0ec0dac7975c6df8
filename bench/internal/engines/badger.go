package engines

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

func init() { register("badger", func() Engine { return &badgerEngine{} }) }

// badgerEngine runs each Put as its own transaction (db.Update). With
// SyncWrites the value log is synced before the transaction returns.
type badgerEngine struct {
	db *badger.DB
}

func (e *badgerEngine) Settings(sync bool) string {
	return fmt.Sprintf("badger %s, DefaultOptions (64 MiB memtables, 256 MiB block cache, Snappy, 1%% bloom filters, values up to 1 MiB kept in the LSM tree), SyncWrites=%v, logger off; one db.Update per Put, one db.View per Get", moduleVersion("github.com/dgraph-io/badger/v4"), sync)
}

func (e *badgerEngine) Open(dir string, sync bool) error {
	opts := badger.DefaultOptions(dir).WithSyncWrites(sync).WithLogger(nil)
	db, err := badger.Open(opts)
	if err != nil {
		return err
	}
	e.db = db
	return nil
}

func (e *badgerEngine) Put(key, value []byte) error {
	return e.db.Update(func(txn *badger.Txn) error {
		return txn.Set(key, value)
	})
}

func (e *badgerEngine) Get(key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

func (e *badgerEngine) Close() error { return e.db.Close() }

// WriteBatch writes the records with a badger.WriteBatch and waits for it
// with Flush; with SyncWrites its commit syncs the value log.
func (e *badgerEngine) WriteBatch(lo, hi int, kv func(int, []byte) ([]byte, []byte)) error {
	wb := e.db.NewWriteBatch()
	defer wb.Cancel()
	for i := lo; i < hi; i++ {
		// The batch keeps the slices until it is flushed.
		k, v := kv(i, nil)
		if err := wb.Set(k, append([]byte(nil), v...)); err != nil {
			return err
		}
	}
	return wb.Flush()
}

func (e *badgerEngine) Load(n int, kv func(int, []byte) ([]byte, []byte)) error {
	wb := e.db.NewWriteBatch()
	defer wb.Cancel()
	for i := range n {
		// The batch keeps the slices until it is flushed.
		k, v := kv(i, nil)
		if err := wb.Set(k, append([]byte(nil), v...)); err != nil {
			return err
		}
	}
	return wb.Flush()
}
