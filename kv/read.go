package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/crabkv/crabkv/walfmt"
)

// Get returns a copy of key's value, or ErrNotFound. The record's checksum
// is verified on every read: damage on disk is reported, never returned as
// data. It does not wait for writers, nor they for it, unless a writer is
// changing the index at that very moment (see getFast).
func (db *DB) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	if val, found, ok := db.getFastRetrying(key); ok {
		if !found {
			return nil, ErrNotFound
		}
		return val, nil
	}
	return db.getLocked(key)
}

// getLocked is Get under mu, shared.
func (db *DB) getLocked(key []byte) ([]byte, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return nil, err
	}
	// A large record is read whole, into a buffer of its own, when its
	// key is compared: its value is returned from there, not copied.
	r := getReader(db.viewMuLocked(), maxRecord, true)
	defer putReader(r)
	s, _, err := db.liveViaMuLocked(key, r)
	if err != nil {
		return nil, err
	}
	v := db.viewMuLocked() // after the lookup, which may let mu go
	if rec := r.held(s); rec != nil {
		return v.heldValue(rec, int64(s.off))
	}
	return v.value(s)
}

// Entry describes where a key's live record sits in the log. For a key a
// batch wrote, the record is the batch's operation for it, inside the batch
// record (see "Batches" in walfmt's package doc).
type Entry struct {
	// Offset is the record's byte offset in the log.
	Offset int64
	// RecordSize is the encoded size of the record.
	RecordSize int
	// ValueSize is the size of the value, as Get returns it.
	ValueSize int
	// StoredValueSize is the size of the value as stored: smaller than
	// ValueSize when it is stored encoded.
	StoredValueSize int
	// Codec names the codec the value is stored with: "raw", "s2",
	// "zstd", a registered codec's name, or "codec N" for one this
	// program does not know.
	Codec string
	// Expires is when the key expires; the zero time if it never does.
	Expires time.Time
}

// Entry returns where key's record is, or ErrNotFound.
func (db *DB) Entry(key []byte) (Entry, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return Entry{}, err
	}
	s, _, err := db.liveMuLocked(key)
	if err != nil {
		return Entry{}, err
	}
	v := db.viewMuLocked() // after the lookup, which may let mu go
	// A header no checksum has covered yet could report a false size.
	if err := v.checkRecord(int64(s.off), int(s.size)); err != nil {
		return Entry{}, err
	}
	h, err := v.headerOf(s)
	if err != nil {
		return Entry{}, err
	}
	vs := int(binary.LittleEndian.Uint32(h[12:16]))
	e := Entry{Offset: int64(s.off), RecordSize: int(s.size), ValueSize: vs, StoredValueSize: vs, Codec: "raw"}
	if at, ok := db.mu.c.exp.lookup(s.off); ok {
		e.Expires = time.Unix(0, at)
	}
	if id := walfmt.ValueCodec(h[:]); id != 0 {
		e.ValueSize += int(recordGrowth(v, s))
		e.Codec = fmt.Sprintf("codec %d", id)
		if c, err := codecByID(id); err == nil {
			e.Codec = c.Name()
		}
	}
	return e, nil
}

// Keys returns, in byte order, a copy of the keys that start with prefix
// (all keys for an empty prefix). It reads them as Scan does: a key
// written or deleted meanwhile is listed as it was before or after the
// change. A key whose record is damaged is left out; CheckedKeys reports
// it.
func (db *DB) Keys(prefix []byte) []string {
	keys, _ := db.CheckedKeys(prefix)
	return keys
}

// CheckedKeys is Keys that also reports the first damaged record it met,
// with its file and offset (the error wraps walfmt.ErrCorrupt). The keys
// it returns are those it could prove.
func (db *DB) CheckedKeys(prefix []byte) ([]string, error) {
	it := db.prefixIterator(prefix)
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Key()))
	}
	err := it.Close()
	if err == nil {
		err = it.damaged
	}
	return keys, err
}

// prefixIterator returns an iterator over the keys that start with prefix,
// without values, that skips damaged records and remembers the first.
func (db *DB) prefixIterator(prefix []byte) *Iterator {
	it := db.NewIterator(prefix, prefixEnd(prefix))
	it.keysOnly, it.skipDamage = true, true
	return it
}

// prefixEnd returns the first key after every key that starts with
// prefix, or nil when there is none (an empty prefix, or one of 0xFF
// bytes only).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// readableMuLocked returns why the index cannot answer, if it cannot. The
// caller holds mu.
func (db *DB) readableMuLocked() error {
	if db.mu.closed {
		return ErrClosed
	}
	if db.mu.broken != nil {
		return fmt.Errorf("kv: %w", db.mu.broken)
	}
	return nil
}

// Ascend calls fn with each key that starts with prefix, in byte order,
// until fn returns false. It reads the keys a chunk at a time, as Scan
// does, and calls fn outside every lock, so fn may call any method of the
// DB; a key written or deleted meanwhile is seen before or after the
// change. The key passed to fn must not be modified or kept.
func (db *DB) Ascend(prefix []byte, fn func(key []byte) bool) {
	it := db.prefixIterator(prefix)
	for it.Next() {
		if !fn(it.Key()) {
			break
		}
	}
	_ = it.Close() // Ascend reports no errors; CheckedKeys does
}

// ReadValueAt copies the bytes of key's value from offset off into p, and
// returns how many it copied and the size of the whole value. It reads
// the value where it lies in the log rather than copying it whole, so
// that a large value can be read in pieces, yet verifies the record's
// checksum on every call as Get does: damage is reported (the error wraps
// walfmt.ErrCorrupt), never returned as data. The error is ErrNotFound for
// a missing key, and io.EOF when fewer than len(p) bytes remain past off,
// including none at all; p's contents are unspecified when n is 0 and
// the error is not io.EOF.
func (db *DB) ReadValueAt(key []byte, p []byte, off int64) (n int, size int, err error) {
	if len(key) == 0 {
		return 0, 0, ErrEmptyKey
	}
	if off < 0 {
		return 0, 0, errors.New("kv: ReadValueAt: negative offset")
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return 0, 0, err
	}
	r := getReader(db.viewMuLocked(), recordPoolMax, false)
	defer putReader(r)
	s, _, err := db.liveViaMuLocked(key, r)
	if err != nil {
		return 0, 0, err
	}
	v := db.viewMuLocked()
	if rec := r.held(s); rec != nil {
		n, size, err = v.heldValueAt(rec, int64(s.off), p, off)
	} else {
		n, size, err = v.valueAt(s, p, off)
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, size, err
}

// NewKeyIterator returns an iterator over the keys in [start, end) (nil:
// unbounded) that reads no values: Value returns nothing. A browser that
// shows keys a screen at a time reads them with it without touching the
// values. Like Keys, it leaves out a key whose record is damaged.
func (db *DB) NewKeyIterator(start, end []byte) *Iterator {
	it := db.NewIterator(start, end)
	it.keysOnly, it.skipDamage = true, true
	return it
}
