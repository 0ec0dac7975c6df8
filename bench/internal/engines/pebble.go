package engines

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
)

func init() { register("pebble", func() Engine { return &pebbleEngine{} }) }

// pebbleEngine writes with db.Set, syncing the WAL per Set when sync is on.
type pebbleEngine struct {
	db   *pebble.DB
	opts *pebble.WriteOptions
}

func (e *pebbleEngine) Settings(sync bool) string {
	return fmt.Sprintf("pebble v1.1.5, default Options (4 MiB memtable, 8 MiB block cache, Snappy), logger off; db.Set with pebble.%s per Put, db.Get per Get", syncWord(sync, "Sync", "NoSync"))
}

func syncWord(sync bool, on, off string) string {
	if sync {
		return on
	}
	return off
}

// quietLogger drops pebble's informational messages so that they do not mix
// with the benchmark's output; fatal errors still stop the process.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}

func (e *pebbleEngine) Open(dir string, sync bool) error {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return err
	}
	e.db = db
	e.opts = pebble.NoSync
	if sync {
		e.opts = pebble.Sync
	}
	return nil
}

func (e *pebbleEngine) Put(key, value []byte) error { return e.db.Set(key, value, e.opts) }

func (e *pebbleEngine) Get(key []byte) ([]byte, error) {
	v, closer, err := e.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

func (e *pebbleEngine) Close() error { return e.db.Close() }

func (e *pebbleEngine) Load(n int, kv func(int, []byte) ([]byte, []byte)) error {
	var buf []byte
	for lo := 0; lo < n; lo += loadChunk {
		b := e.db.NewBatch()
		for i := lo; i < min(lo+loadChunk, n); i++ {
			var v []byte
			buf, v = kv(i, buf[:0])
			// Set copies key and value into the batch.
			if err := b.Set(buf, v, nil); err != nil {
				return fmt.Errorf("%w (close: %v)", err, b.Close())
			}
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("%w (close: %v)", err, b.Close())
		}
		if err := b.Close(); err != nil {
			return err
		}
	}
	return nil
}
