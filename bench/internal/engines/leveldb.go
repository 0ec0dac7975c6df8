package engines

import (
	"errors"
	"fmt"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

func init() { register("leveldb", func() Engine { return &levelEngine{} }) }

// levelEngine is goleveldb with default options; Sync in the write options
// syncs the journal per Put.
type levelEngine struct {
	db *leveldb.DB
	wo *opt.WriteOptions
}

func (e *levelEngine) Settings(sync bool) string {
	return fmt.Sprintf("goleveldb %s, default options (4 MiB write buffer, 8 MiB block cache, Snappy, no bloom filter); db.Put with WriteOptions{Sync: %v}, db.Get per Get", moduleVersion("github.com/syndtr/goleveldb"), sync)
}

func (e *levelEngine) Open(dir string, sync bool) error {
	db, err := leveldb.OpenFile(dir, nil)
	if err != nil {
		return err
	}
	e.db = db
	e.wo = &opt.WriteOptions{Sync: sync}
	return nil
}

func (e *levelEngine) Put(key, value []byte) error { return e.db.Put(key, value, e.wo) }

func (e *levelEngine) Get(key []byte) ([]byte, error) {
	v, err := e.db.Get(key, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, ErrNotFound
	}
	return v, err
}

func (e *levelEngine) Close() error { return e.db.Close() }

// WriteBatch writes a leveldb.Batch with the write options of every Put
// (Sync with sync).
func (e *levelEngine) WriteBatch(lo, hi int, kv func(int, []byte) ([]byte, []byte)) error {
	b := new(leveldb.Batch)
	var buf []byte
	for i := lo; i < hi; i++ {
		var v []byte
		buf, v = kv(i, buf[:0])
		b.Put(buf, v) // Put copies key and value into the batch
	}
	return e.db.Write(b, e.wo)
}

func (e *levelEngine) Load(n int, kv func(int, []byte) ([]byte, []byte)) error {
	var buf []byte
	for lo := 0; lo < n; lo += loadChunk {
		b := new(leveldb.Batch)
		for i := lo; i < min(lo+loadChunk, n); i++ {
			var v []byte
			buf, v = kv(i, buf[:0])
			// Put copies key and value into the batch.
			b.Put(buf, v)
		}
		if err := e.db.Write(b, &opt.WriteOptions{Sync: false}); err != nil {
			return err
		}
	}
	return nil
}
