package kv

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/crabkv/crabkv/walfmt"
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
	if err := db.readableMuLocked(); err != nil {
		return nil, err
	}
	s, _, err := db.liveMuLocked(key)
	if err != nil {
		return nil, err
	}
	return db.viewMuLocked().value(s)
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
	h, err := v.header(int64(s.off))
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
// (all keys for an empty prefix), taken at one moment. A key whose record
// is damaged is left out; CheckedKeys reports it.
func (db *DB) Keys(prefix []byte) []string {
	keys, _ := db.CheckedKeys(prefix)
	return keys
}

// CheckedKeys is Keys that also reports the first damaged record it met,
// with its file and offset (the error wraps walfmt.ErrCorrupt). The keys
// it returns are those it could prove.
func (db *DB) CheckedKeys(prefix []byte) ([]string, error) {
	keys, err := db.keysUnsorted(prefix)
	sortStrings(keys)
	return keys, err
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

func (db *DB) keysUnsorted(prefix []byte) ([]string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return nil, err
	}
	// Read the keys in log order: a sequential pass over the log is many
	// times faster than one in hash order, which jumps across it.
	recs, err := db.slotsMuLocked()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b slot) int { return cmp.Compare(a.off, b.off) })
	v := db.viewMuLocked()
	var keys []string
	if len(prefix) == 0 {
		keys = make([]string, 0, len(recs))
	}
	var first error
	for _, s := range recs {
		k, err := v.keyAt(int64(s.off))
		if err == nil && bytes.HasPrefix(k, prefix) {
			// A key from a record no checksum has covered yet could be
			// damaged into a key that was never written.
			err = v.checkRecord(int64(s.off), int(s.size))
			if err == nil {
				keys = append(keys, string(k))
			}
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return keys, first
}

// slotsMuLocked returns the slot of every key that has not expired, having
// the index rebuilt first if it finds its hint damaged (see
// lookupMuLocked).
func (db *DB) slotsMuLocked() ([]slot, error) {
	recs := make([]slot, 0, max(0, db.mu.index.count))
	now := db.now()
	collect := func(s slot) bool {
		// db.mu.c is read each time: a rebuild replaces it.
		if !db.mu.c.exp.expired(s.off, now) {
			recs = append(recs, s)
		}
		return true
	}
	err := db.mu.index.each(collect)
	if errors.Is(err, errHintDamaged) {
		if err = db.rebuildDamagedRLocked(); err == nil {
			recs = recs[:0]
			err = db.mu.index.each(collect)
		}
	}
	return recs, err
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
	s, _, err := db.liveMuLocked(key)
	if err != nil {
		return 0, 0, err
	}
	n, size, err = db.viewMuLocked().valueAt(s, p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, size, err
}
