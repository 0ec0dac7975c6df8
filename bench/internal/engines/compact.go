package engines

import (
	"bytes"
	"context"

	"github.com/syndtr/goleveldb/leveldb/util"
)

// Compacter is implemented by every engine: a full compaction on demand,
// each engine's own, which leaves the store laid out as its background
// work would eventually leave it. The workloads "after compaction" run it,
// untimed, so that every engine is measured at its settled layout rather
// than at whatever point its background work had reached.
type Compacter interface {
	CompactAll() error
}

// CompactAll rewrites the log; in a store that has been scanned, the new
// log holds its records in key order. It then closes and reopens the
// store: Compact returns before the old log is freed, which a goroutine
// does (a second or more of truncations at 10M keys, beside whatever is
// measured next) and Close waits for.
func (e *crabEngine) CompactAll() error {
	if err := e.db.Compact(); err != nil {
		return err
	}
	if err := e.db.Close(); err != nil {
		return err
	}
	return e.Open(e.dir, e.sync)
}

// CompactAll compacts the whole key space (all 16-hex-digit keys sort
// below 0xff), in parallel where pebble can.
func (e *pebbleEngine) CompactAll() error {
	return e.db.Compact(context.Background(), []byte{0}, bytes.Repeat([]byte{0xff}, 32), true)
}

// CompactAll compacts the whole key space.
func (e *levelEngine) CompactAll() error { return e.db.CompactRange(util.Range{}) }

// CompactAll flattens the LSM tree into one level, with two workers.
func (e *badgerEngine) CompactAll() error { return e.db.Flatten(2) }

// CompactAll does nothing: a B+tree keeps its keys in order as it goes,
// and has nothing to rewrite for a scan.
func (e *boltEngine) CompactAll() error { return nil }
