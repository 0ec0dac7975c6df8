package kv

// View calls fn with key's value where it lies, without copying it, or
// returns ErrNotFound; it returns fn's error. The record's checksum is
// verified first, as Get does: damage is reported, never passed to fn.
//
// The value is valid only while fn runs and must not be modified: it is
// the store's memory map of its log for a small record, or a buffer the
// next read reuses for a large one (see largeRecord) and where there is no
// map. It stays valid for all of fn, whatever the writers
// and a compaction do meanwhile: View holds the readers' lock, shared,
// until fn returns, and the log's map is only replaced or released — by
// a remap as the log grows, or by a compaction's swap to the new log —
// under that lock held exclusively. A slice of it kept after fn returns
// may read another record's bytes, or fault once the map is released;
// copy what must outlive fn. For the same reason fn must be short and
// must not call any method of the DB: writers wait for it to publish, and
// a call that takes the lock again can deadlock against a waiting writer.
//
// A value stored encoded (see Codec) is decoded into a buffer first, so
// View saves nothing on it. On a follower (a ReadOnly DB) fn gets a copy
// too, made from the follower's map under its fault guard: another
// process may cut the log under that map, and a read of the cut part,
// which faults, must become an error rather than end the program, which
// no guard could promise while fn runs (see followFile).
//
// For large values up to a mebibyte (recordPoolMax), View saves Get's
// allocation: the record is read with one pread into a pooled buffer, key
// check included, and checksummed there; a larger one is read into a
// buffer of its own. Small records are read where they lie in the map,
// which is left with the kernel's default readahead, as they share pages
// anyway.
func (db *DB) View(key []byte, fn func(value []byte) error) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return err
	}
	r := getReader(db.viewMuLocked(), maxRecord, false)
	defer putReader(r)
	s, _, err := db.liveViaMuLocked(key, r)
	if err != nil {
		return err
	}
	v := db.viewMuLocked()
	b := r.held(s)
	if b == nil {
		if b, err = v.recordBytes(s, r.bp); err != nil {
			return err
		}
	}
	// An encoded value is decoded into a buffer of its own: only a raw
	// one can be read where it lies.
	val, err := v.heldValue(b, int64(s.off))
	if err != nil {
		return err
	}
	return fn(val)
}
