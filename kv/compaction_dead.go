package kv

import "sync/atomic"

// deadSet marks the records below a compaction's end that die while it
// copies the log: overwritten or deleted after its snapshot of the live
// records. Their newer records, or the tombstones, lie past end, where the
// compaction's catch-up copies them, so the copy leaves the old ones out.
// Copied, they would be stale in the new log from the start: after a
// compaction beside a writer that overwrites every key, the new log would
// be half as large again as its live records.
//
// The set also covers up to as much again past end: the records writers
// append while the compaction runs, which its catch-up copies (tailCopy).
// One that has died by then is left out, and one that has not needs no
// lookup in the index to know it (see tailCollect).
//
// Writers mark a record as they publish what replaces it, under mu; the
// copy looks a record up without a lock. A record marked after the copy
// has passed it was copied, and the catch-up counts it stale in the new
// log, as before. One bit per 16 bytes of the log: a record, even a batch
// operation, is longer than that (walfmt.RecordHeaderSize and a key), so
// no two share a bit. That is a 128th of the log below end, and as much
// of its tail, up to as long again, for as long as the compaction runs; the
// whole set takes no more memory than the snapshot's own 8 bytes a live
// record (watchDeaths). A log so stale that even its part below end would
// take more gets no set, and its compaction copies the records that die
// during it, as before.
type deadSet struct {
	end int64 // the compaction's end
	// watched is the log's end when the marks began: a record between end
	// and watched may have died unmarked.
	watched int64
	limit   int64 // the records marked are those below limit, at most 2×end
	bits    []atomic.Uint64
}

// deadGrain is the bytes of log one bit of a deadSet stands for.
const deadGrain = 16

func newDeadSet(end, limit int64) *deadSet {
	return &deadSet{end: end, limit: limit, bits: make([]atomic.Uint64, limit/deadGrain/64+1)}
}

// mark records that the record at off has died. Records past limit, and
// calls on a nil set, are ignored.
func (d *deadSet) mark(off int64) {
	if d == nil || off >= d.limit {
		return
	}
	i := off / deadGrain
	d.bits[i/64].Or(1 << (i % 64))
}

// live is the compact.Live of a copy: whether the record at off below end
// has not been marked dead.
func (d *deadSet) live(_ []byte, off int64) (bool, error) {
	return !d.marked(off), nil
}

// marked reports whether the record at off, below limit, has been marked.
func (d *deadSet) marked(off int64) bool {
	i := off / deadGrain
	return d.bits[i/64].Load()&(1<<(i%64)) != 0
}

// covers reports whether a record at off that is not marked is known to be
// alive: one below end that a compaction found live, or one written after
// the marks began, below limit.
func (d *deadSet) covers(off int64) bool {
	return d != nil && (off < d.end || off >= d.watched) && off < d.limit
}

// watchDeaths has writers mark the records that die from now on, below
// end and in the tail past it, and returns the set they mark, or nil where
// a set would take more memory than the snapshot of keys live records
// (see deadSet).
func (db *DB) watchDeaths(end int64, keys int) *deadSet {
	// The bytes of log that as much memory covers, a bit per grain.
	budget := int64(keys) * 8 * 8 * deadGrain
	if end > budget {
		return nil
	}
	d := newDeadSet(end, end+min(end, budget-end))
	db.lockMu()
	db.mu.c.dead = d
	d.watched = db.mu.c.size
	db.unlockMu()
	return d
}

// unwatchDeaths stops the marking into d, unless the counters have been
// replaced since (a swap installs the new log's, which mark nothing).
func (db *DB) unwatchDeaths(d *deadSet) {
	if d == nil {
		return
	}
	db.lockMu()
	if db.mu.c.dead == d {
		db.mu.c.dead = nil
	}
	db.unlockMu()
}
