package engines

import (
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

func init() { register("bbolt", func() Engine { return &boltEngine{} }) }

var boltBucket = []byte("bench")

// boltEngine runs each Put as its own read-write transaction (db.Update),
// which commits, and with sync fdatasyncs, once per Put.
type boltEngine struct {
	db *bolt.DB
}

func (e *boltEngine) Settings(sync bool) string {
	return fmt.Sprintf("bbolt %s, default options (array freelist, synced with each commit), NoSync=%v; one db.Update transaction per Put, one db.View per Get", moduleVersion("go.etcd.io/bbolt"), !sync)
}

func (e *boltEngine) Open(dir string, sync bool) error {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{
		Timeout: time.Second,
		NoSync:  !sync,
	})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w (close: %v)", err, db.Close())
	}
	e.db = db
	return nil
}

func (e *boltEngine) Put(key, value []byte) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(boltBucket).Put(key, value)
	})
}

func (e *boltEngine) Get(key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(key)
		if v == nil {
			return ErrNotFound
		}
		// v is only valid inside the transaction.
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

func (e *boltEngine) View(key []byte, fn func([]byte) error) error {
	return e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(key)
		if v == nil {
			return ErrNotFound
		}
		return fn(v)
	})
}

func (e *boltEngine) Close() error { return e.db.Close() }

// WriteBatch writes the records in one db.Update transaction: one commit,
// synced with sync.
func (e *boltEngine) WriteBatch(lo, hi int, kv func(int, []byte) ([]byte, []byte)) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for i := lo; i < hi; i++ {
			k, v := kv(i, nil) // bbolt keeps the slices until commit
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltEngine) Load(n int, kv func(int, []byte) ([]byte, []byte)) error {
	for lo := 0; lo < n; lo += loadChunk {
		err := e.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(boltBucket)
			for i := lo; i < min(lo+loadChunk, n); i++ {
				// bbolt keeps the key and value slices until commit, so each
				// record needs its own key memory.
				k, v := kv(i, nil)
				if err := b.Put(k, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
