package kv

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
)

// recordBufs holds buffers for reading whole records, so a Get allocates
// only the value it returns.
var recordBufs = sync.Pool{New: func() any { return new([]byte) }}

// Get returns a copy of key's value, or ErrNotFound. The record's checksum
// is verified on every read: damage on disk is reported, never returned as
// data.
func (db *DB) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mu.closed {
		return nil, ErrClosed
	}
	e, ok := db.mu.index[string(key)]
	if !ok {
		return nil, ErrNotFound
	}
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	if cap(*bp) < int(e.size) {
		*bp = make([]byte, e.size)
	}
	b := (*bp)[:e.size]
	if _, err := db.mu.log.ReadAt(b, e.off); err != nil {
		return nil, fmt.Errorf("kv: read %s at offset %d: %w", db.path, e.off, err)
	}
	rec, err := walfmt.Decode(b)
	if err == nil && !bytes.Equal(rec.Key, key) {
		err = fmt.Errorf("%w: record holds another key", walfmt.ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("kv: %s at offset %d: %w", db.path, e.off, err)
	}
	return bytes.Clone(rec.Value), nil
}

// Entry describes where a key's live record sits in the log.
type Entry struct {
	// Offset is the record's byte offset in the log.
	Offset int64
	// RecordSize is the encoded size of the record.
	RecordSize int
	// ValueSize is the size of the value.
	ValueSize int
}

// Entry returns where key's record is, or ErrNotFound.
func (db *DB) Entry(key []byte) (Entry, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mu.closed {
		return Entry{}, ErrClosed
	}
	e, ok := db.mu.index[string(key)]
	if !ok {
		return Entry{}, ErrNotFound
	}
	vs := int(e.size) - walfmt.ValueOffset(len(key))
	return Entry{Offset: e.off, RecordSize: int(e.size), ValueSize: vs}, nil
}

// Keys returns, in byte order, a snapshot of the keys that start with
// prefix (all keys for an empty prefix). The strings share memory with the
// index, so the cost is the sort, not a copy of the keys.
func (db *DB) Keys(prefix []byte) []string {
	db.mu.RLock()
	keys := make([]string, 0, db.keysHint(prefix))
	for k := range db.mu.index {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	db.mu.RUnlock()
	slices.Sort(keys)
	return keys
}

func (db *DB) keysHint(prefix []byte) int {
	if len(prefix) == 0 {
		return len(db.mu.index)
	}
	return 0
}

// Ascend calls fn with each key that starts with prefix, in byte order,
// until fn returns false. It walks a snapshot taken when it starts, so fn
// may call any method of the DB. The key passed to fn must not be modified
// or kept.
func (db *DB) Ascend(prefix []byte, fn func(key []byte) bool) {
	for _, k := range db.Keys(prefix) {
		if !fn([]byte(k)) {
			return
		}
	}
}
