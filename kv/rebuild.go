package kv

import (
	"errors"
	"math"
)

// rebuildIndexMuLocked replaces an index that has met a damaged chunk of
// its hint file with one replayed from the log, up to end, the end of the
// records published so far; the counters are recounted with it. Every
// record is read through its checksum, as at an Open without a hint. The
// caller holds mu exclusively: readers wait for the replay, which happens
// once, and only for a hint damaged at rest.
func (db *DB) rebuildIndexMuLocked(end int64) error {
	v := db.viewMuLocked()
	old := db.mu.index
	// A running compaction's marks of dead records (deadSet) go on into
	// the new counters: every death before the rebuild is marked in the
	// set already, and every one after it is marked there too.
	idx, c := newIndex(old.count, old.hdr), counters{size: old.hdr.Size(), dead: db.mu.c.dead, floor: db.mu.c.floor}
	src := &logView{f: v.f, m: v.m, end: end, path: v.path}
	if err := db.replayFrom(v.f, src, idx, &c, 0, end, math.MaxInt64); err != nil {
		_ = idx.close() // the replay's error is the one to report
		return err
	}
	db.mu.index, db.mu.c = idx, c
	v.unverified = 0
	return old.close()
}

// rebuildDamagedRLocked is called with mu held shared by a reader whose
// lookup returned errHintDamaged: it lets mu go, takes it exclusively to
// rebuild the index (unless another caller has meanwhile), and takes it
// shared again, then returns why the index cannot answer, if it cannot.
func (db *DB) rebuildDamagedRLocked() error {
	db.mu.RUnlock()
	db.lockMu()
	var err error
	if !db.mu.closed && db.mu.index.bad.Load() {
		err = db.rebuildIndexMuLocked(db.mu.view.end)
	}
	db.unlockMu()
	db.mu.RLock()
	if err != nil {
		return err
	}
	return db.readableMuLocked()
}

// lookupMuLocked returns key's slot, having the index rebuilt first if it
// finds its hint damaged. The caller holds mu shared; it is let go and
// taken again during a rebuild.
func (db *DB) lookupMuLocked(key []byte) (slot, bool, error) {
	return db.lookupViaMuLocked(key, db.viewMuLocked())
}

// lookupViaMuLocked is lookupMuLocked reading keys through src, a reader
// of the store's log view.
func (db *DB) lookupViaMuLocked(key []byte, src keySource) (slot, bool, error) {
	s, ok, err := db.mu.index.get(key, src)
	if errors.Is(err, errHintDamaged) {
		if err := db.rebuildDamagedRLocked(); err != nil {
			return slot{}, false, err
		}
		s, ok, err = db.mu.index.get(key, src)
	}
	return s, ok, err
}
