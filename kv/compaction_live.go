package kv

import (
	"slices"
)

// liveSnapshot is the offsets of the records the index pointed to below a
// compaction's end, in order, taken at one moment: what the rewrite
// copies. The rewrite meets the records in log order, so answering is a
// walk along the offsets, with no hashing, no probe of the index and no
// read lock per record.
//
// A record can only die after the snapshot, never come alive: everything
// written later lies past end. A record that dies meanwhile is copied
// anyway, and the compaction's catch-up, which applies the later records
// to the new index, counts it stale there, as it does for the records that
// die after they are copied. A record not in the snapshot is dead: each
// key has one offset in the index, and offsets are unique.
type liveSnapshot struct {
	offs []int64
	i    int
}

// snapshotLive takes the snapshot of the records below end. It holds mu
// shared for one pass over the index table, at the speed of memory.
func (db *DB) snapshotLive(end int64) (*liveSnapshot, error) {
	db.mu.RLock()
	if err := db.readableMuLocked(); err != nil {
		db.mu.RUnlock()
		return nil, err
	}
	recs, err := db.slotsMuLocked()
	db.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	offs := make([]int64, 0, len(recs))
	for _, s := range recs {
		if int64(s.off) < end {
			offs = append(offs, int64(s.off))
		}
	}
	slices.Sort(offs)
	return &liveSnapshot{offs: offs}, nil
}

// live reports whether the record at off was live at the snapshot. Calls
// must come in increasing order of off.
func (l *liveSnapshot) live(_ []byte, off int64) (bool, error) {
	for l.i < len(l.offs) && l.offs[l.i] < off {
		l.i++
	}
	return l.i < len(l.offs) && l.offs[l.i] == off, nil
}
