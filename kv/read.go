package kv

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"slices"
)

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
	v := db.viewLocked()
	s, ok, err := db.mu.index.get(key, v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return v.value(s, db.path)
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
	v := db.viewLocked()
	s, ok, err := db.mu.index.get(key, v)
	if err != nil {
		return Entry{}, err
	}
	if !ok {
		return Entry{}, ErrNotFound
	}
	h, err := v.header(int64(s.off))
	if err != nil {
		return Entry{}, err
	}
	vs := int(binary.LittleEndian.Uint32(h[12:16]))
	return Entry{Offset: int64(s.off), RecordSize: int(s.size), ValueSize: vs}, nil
}

// Keys returns, in byte order, a copy of the keys that start with prefix
// (all keys for an empty prefix), taken at one moment.
func (db *DB) Keys(prefix []byte) []string {
	keys := db.keysUnsorted(prefix)
	sortStrings(keys)
	return keys
}

// parallelSortMin is the number of keys from which Keys sorts the two
// halves of its snapshot on two goroutines and merges them: a million keys
// sort in about half the time on two cores.
const parallelSortMin = 1 << 16

// sortStrings sorts keys in byte order.
func sortStrings(keys []string) {
	if len(keys) < parallelSortMin || runtime.GOMAXPROCS(0) < 2 {
		slices.Sort(keys)
		return
	}
	mid := len(keys) / 2
	a, b := keys[:mid], keys[mid:]
	done := make(chan struct{})
	go func() {
		slices.Sort(a)
		close(done)
	}()
	slices.Sort(b)
	<-done
	merged := make([]string, 0, len(keys))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if b[j] < a[i] {
			merged = append(merged, b[j])
			j++
		} else {
			merged = append(merged, a[i])
			i++
		}
	}
	merged = append(append(merged, a[i:]...), b[j:]...)
	copy(keys, merged)
}

func (db *DB) keysUnsorted(prefix []byte) []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mu.closed {
		return nil
	}
	// Read the keys in log order: a sequential pass over the log is many
	// times faster than one in hash order, which jumps across it.
	offs := make([]uint64, 0, max(0, db.mu.index.count))
	db.mu.index.each(func(s slot) bool {
		offs = append(offs, s.off)
		return true
	})
	slices.Sort(offs)
	v := db.viewLocked()
	var keys []string
	if len(prefix) == 0 {
		keys = make([]string, 0, len(offs))
	}
	for _, off := range offs {
		k, err := v.keyAt(int64(off))
		if err == nil && bytes.HasPrefix(k, prefix) {
			keys = append(keys, string(k))
		}
	}
	return keys
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
