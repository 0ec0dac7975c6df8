// Package engines wraps each key-value store behind one small interface so
// the workloads run identical code against all of them. Every adapter does
// one write per Put (no batching); the batched-fill workloads use each
// engine's own atomic batch through BatchWriter.
package engines

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNotFound is returned by Get when the key is absent, whatever the
// engine's own sentinel is.
var ErrNotFound = errors.New("engines: key not found")

// Engine is one store opened in one directory. Implementations are safe for
// concurrent Put and Get between Open and Close, as the underlying stores are.
type Engine interface {
	// Open opens or creates the store in dir. With sync, every Put is
	// durable (fsync or fdatasync) before it returns; without, Puts reach
	// the operating system but are not flushed to the disk.
	Open(dir string, sync bool) error
	Put(key, value []byte) error
	// Get returns a copy of the value, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	Close() error
	// Settings describes, in one line for the results, the options used.
	Settings(sync bool) string
}

// Viewer is implemented by engines with a zero-copy read: fn gets the
// stored value, valid only while it runs. The workloads of large values
// read through it where an engine has it.
type Viewer interface {
	// View calls fn with key's value, or returns ErrNotFound.
	View(key []byte, fn func(value []byte) error) error
}

// factories maps engine names to constructors. Each adapter file adds
// itself in an init function.
var factories = map[string]func() Engine{}

func register(name string, f func() Engine) { factories[name] = f }

// Order is the display order of the engines; CrabKv comes first.
var Order = []string{"crabkv", "crabkv-s2", "crabkv-zstd", "crabkv-zstd-dict", "bbolt", "badger", "pebble", "leveldb"}

// Names returns the registered engines in display order.
func Names() []string {
	var out []string
	for _, n := range Order {
		if _, ok := factories[n]; ok {
			out = append(out, n)
		}
	}
	for n := range factories {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// New returns a fresh, unopened engine by name.
func New(name string) (Engine, error) {
	f, ok := factories[name]
	if !ok {
		return nil, fmt.Errorf("engines: unknown engine %q (have %v)", name, Names())
	}
	return f(), nil
}

// HintDropper is implemented by engines that keep a file only to make the
// next Open faster, which a crash would leave stale or missing: the
// reopen-nohint workload deletes it to time the Open that follows a crash.
type HintDropper interface {
	// DropHint deletes that file from the closed store in dir.
	DropHint(dir string) error
}

// BulkLoader is implemented by engines with a batch write API. The
// workloads use it only for untimed setup (filling the store before timing
// reads, overwrites or a reopen), never for a timed write.
type BulkLoader interface {
	// Load stores records [0, n) without syncing each one. kv appends key i
	// to dst and returns it with value i; both are valid only until the
	// next call.
	Load(n int, kv func(i int, dst []byte) (key, value []byte)) error
}

// BatchWriter is implemented by engines that write several records as one
// atomic batch: the batched-fill workloads time it. Not safe for
// concurrent use: an engine may reuse one batch.
type BatchWriter interface {
	// WriteBatch stores records [lo, hi) in one atomic batch, durable
	// before it returns if the engine was opened with sync. kv is as for
	// Load.
	WriteBatch(lo, hi int, kv func(i int, dst []byte) (key, value []byte)) error
}

// loadChunk is how many records a bulk load puts in one batch.
const loadChunk = 10000
