package kv

import (
	"errors"
	"slices"
)

// liveSnapshot is the offsets of the records the index pointed to below a
// compaction's end, in order: what the rewrite copies. The rewrite meets
// the records in log order, so answering is a walk along the offsets, with
// no hashing, no probe of the index and no read lock per record.
//
// A record can only die after it is seen live, never come alive:
// everything written later lies past end. A record that dies after it was
// seen is left out of the copy if it died before the copy reached it (see
// deadSet); if after, the compaction's catch-up, which applies the later
// records to the new index, counts it stale there. Each key has one offset in
// the index, and offsets are unique, so a record whose offset was not seen
// is dead — if the snapshot is complete: it is taken in pieces, letting
// mu go between them so that writers are not held up for a whole pass
// over a large table, and a key that moved meanwhile (a growth, a delete's
// backward shift) may have been passed over. When anything moved, an
// offset not seen is checked against the index itself (db.live).
type liveSnapshot struct {
	db   *DB
	offs []int64
	// mem is the map offs was taken from, if it was: see release.
	mem      []byte
	i        int
	complete bool
	// start is the offset of the log's first record, past its header.
	start int64
}

// snapshotPiece is how many slots the snapshot reads per hold of mu:
// 1 MiB of table, well under a millisecond.
const snapshotPiece = 1 << 16

// snapshotLive takes the snapshot of the records below end, with room for
// keys offsets, in the arena a if there is one.
//
// The offsets are held outside the Go heap once they are many (see
// radixSort): the caller must release the snapshot, and use nothing of it
// after.
func (db *DB) snapshotLive(end int64, keys int, a *compactArena) (*liveSnapshot, error) {
	snap := &liveSnapshot{db: db, complete: true}
	if snap.offs = a.offsets(); snap.offs == nil {
		snap.offs, snap.mem = scratchArray[int64](keys)
		snap.offs = snap.offs[:0]
	}
	var first *index
	var moves uint64
	for pos := 0; pos >= 0; {
		db.mu.RLock()
		if err := db.readableMuLocked(); err != nil {
			db.mu.RUnlock()
			snap.release()
			return nil, err
		}
		x := db.mu.index
		if first == nil {
			first, moves = x, x.moves
			snap.start = x.hdr.Size()
		}
		var err error
		snap.offs, pos, err = x.collect(snap.offs, pos, snapshotPiece, end)
		if errors.Is(err, errHintDamaged) {
			snap.complete = false
			err = db.rebuildDamagedRLocked()
		}
		if db.mu.index != first || db.mu.index.moves != moves {
			snap.complete = false
		}
		db.mu.RUnlock()
		if err != nil {
			snap.release()
			return nil, err
		}
	}
	sortOffsets(snap.offs, a.sortScratch())
	return snap, nil
}

// release frees the snapshot's offsets, which nothing may read after.
func (l *liveSnapshot) release() {
	// Nothing else holds the map; an unmap fails only as mapping.unmap
	// can, harmlessly.
	_ = unmapSlots(l.mem)
	l.offs, l.mem = nil, nil
}

// sortOffsets sorts offs, offsets in a log, in increasing order: by radix,
// which takes a fraction of the time a comparison sort takes over the
// million offsets of a million keys, with buf as its scratch if it is long
// enough.
func sortOffsets(offs, buf []int64) {
	if len(offs) < 1<<12 {
		slices.Sort(offs)
		return
	}
	radixSortWith(offs, buf)
}

// live reports whether the record at off is key's current value, as far
// as a compaction needs to know: true for a record seen live. Calls must
// come in increasing order of off.
func (l *liveSnapshot) live(key []byte, off int64) (bool, error) {
	for l.i < len(l.offs) && l.offs[l.i] < off {
		l.i++
	}
	if l.i < len(l.offs) && l.offs[l.i] == off {
		return true, nil
	}
	if l.complete {
		return false, nil
	}
	return l.db.live(key, off)
}
