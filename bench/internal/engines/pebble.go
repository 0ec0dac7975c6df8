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
