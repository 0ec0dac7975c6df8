package kv

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/crabkv/crabkv/walfmt"
)

// ErrLogReplaced is returned by History and VersionValue when the log they
// read is no longer the store's: a compaction replaced it, and with it
// every record it had not copied — the older versions of each key.
var ErrLogReplaced = errors.New("kv: the log was replaced by a compaction")

// Version is one record of a key in the log: a value the key held, or its
// deletion. The log keeps every record until a compaction drops the stale
// ones, so until then a key's older values can still be read.
type Version struct {
	// Offset is the record's offset in the log. For an operation of a
	// batch it is the operation's own offset, inside the batch record.
	Offset int64
	// RecordSize is the record's encoded size: what it takes in the log.
	RecordSize int
	// ValueSize is the value's size as Get would return it (decoded);
	// StoredValueSize, as stored, smaller when it is encoded. Both are 0
	// for a delete.
	ValueSize, StoredValueSize int
	// Codec names the codec the value is stored with, as Entry.Codec
	// does; empty for a delete.
	Codec string
	// Expires is when the value expires (or expired); the zero time if
	// it never does.
	Expires time.Time
	// Tombstone is true for a delete.
	Tombstone bool
	// Batch is true for an operation of a batch.
	Batch bool
	// Current is true for the record the index held for the key when
	// History began: the key's value, unless it has expired. A key whose
	// last record is a delete has no current version.
	Current bool

	log   [16]byte // ID of the log that holds the record
	codec uint8
}

// Expired reports whether the version's expiry is at or before now.
func (v Version) Expired(now time.Time) bool {
	return !v.Expires.IsZero() && !v.Expires.After(now)
}

// History calls fn with each record of key still in the log, oldest first,
// until fn returns false: the puts that wrote its values, the deletes, and
// the operations of batches that did either. Values are not read: pass a
// Version to VersionValue for its value.
//
// History walks the log as it stands when it begins, up to its end then,
// verifying every record's checksum; records of other keys are checked
// and passed over, their values never decoded. It holds the readers' lock only for each read of
// the log, and calls fn outside it: fn may call any method of the DB. A
// damaged record stops the walk with an error that wraps walfmt.ErrCorrupt
// and names the file and offset. If a compaction replaces the log before
// the walk ends, History stops with an error wrapping ErrLogReplaced: the
// versions not reached are gone, and a new History walks the new log,
// which holds the current version only.
func (db *DB) History(key []byte, fn func(v Version) bool) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	pin, err := db.pinLog(key)
	if err != nil || pin.end == 0 {
		return err
	}
	r := walfmt.NewReader(pinnedLog{db: db, id: pin.id}, pin.end, pin.path)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("kv: history of %q: %w", key, asCorrupt(err))
		}
		if !pin.visit(rec, fn) {
			return nil
		}
	}
}

// asCorrupt returns err with a torn tail reported as corruption: History
// reads only up to the log's published end, which every record before it
// was written whole to reach, so an invalid record there is damage.
func asCorrupt(err error) error {
	var ce *walfmt.CorruptionError
	if !errors.As(err, &ce) || !ce.Torn {
		return err
	}
	c := *ce
	c.Torn = false
	return &c
}

// logPin is what History reads: the log current when it began.
type logPin struct {
	key  []byte
	id   [16]byte // the log's ID
	end  int64    // the log's end when History began; 0: no log
	path string
	cur  int64 // offset of the key's current record; -1: none
}

// pinLog notes the log History is to read and where key's current record
// is in it.
func (db *DB) pinLog(key []byte) (logPin, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return logPin{}, err
	}
	id := db.mu.index.hdr.ID
	s, ok, err := db.lookupMuLocked(key) // may let mu go: read the rest after it
	if err != nil {
		return logPin{}, err
	}
	if db.mu.index.hdr.ID != id { // a compaction swapped the log meanwhile
		return logPin{}, ErrLogReplaced
	}
	p := logPin{key: key, id: id, path: db.path, cur: -1}
	if ok {
		p.cur = int64(s.off)
	}
	if db.mu.view.f != nil { // a read-only store of a log not yet created has none
		p.end = db.mu.c.size
	}
	return p, nil
}

// visit calls fn with each version of the pinned key that rec holds: rec
// itself, or operations of a batch. It returns false when fn does.
func (p *logPin) visit(rec walfmt.Record, fn func(Version) bool) bool {
	if rec.Kind != walfmt.KindBatch {
		return string(rec.Key) != string(p.key) || fn(p.version(rec, false))
	}
	stop := errors.New("stop")
	// The reader checked the batch: its operations decode.
	err := walfmt.ForEachOp(rec, func(op walfmt.Record) error {
		if string(op.Key) == string(p.key) && !fn(p.version(op, true)) {
			return stop
		}
		return nil
	})
	return err == nil
}

// version describes rec, a record or batch operation of the pinned key.
func (p *logPin) version(rec walfmt.Record, batch bool) Version {
	v := Version{
		Offset:     rec.Offset,
		RecordSize: rec.Size,
		Tombstone:  rec.Kind == walfmt.KindDelete,
		Batch:      batch,
		Current:    rec.Offset == p.cur,
		log:        p.id,
		codec:      rec.Codec,
	}
	if rec.Expiry != 0 {
		v.Expires = time.Unix(0, rec.Expiry)
	}
	if v.Tombstone {
		return v
	}
	v.StoredValueSize = len(rec.Value)
	v.ValueSize = logicalSize(rec.Codec, rec.Value)
	v.Codec = codecName(rec.Codec)
	return v
}

// codecName names the codec with ID id as Entry.Codec does.
func codecName(id uint8) string {
	c, err := codecByID(id)
	if err != nil {
		return fmt.Sprintf("codec %d", id)
	}
	return c.Name()
}

// VersionValue returns a copy of the value a version History reported
// holds, decoded, after verifying its record's checksum, whether or not it
// is current or has expired. The error is ErrNotFound for a delete, and
// wraps ErrLogReplaced once a compaction has replaced the log that held
// it.
func (db *DB) VersionValue(v Version) ([]byte, error) {
	if v.Tombstone {
		return nil, ErrNotFound
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return nil, err
	}
	if db.mu.index.hdr.ID != v.log || db.mu.view.f == nil {
		return nil, fmt.Errorf("kv: version at offset %d: %w", v.Offset, ErrLogReplaced)
	}
	return db.viewMuLocked().value(slot{off: uint64(v.Offset), size: uint32(v.RecordSize)})
}

// pinnedLog reads the log a History walks, as long as it is the store's:
// each read holds mu shared and fails with ErrLogReplaced once a
// compaction has put another log in its place.
type pinnedLog struct {
	db *DB
	id [16]byte
}

func (p pinnedLog) ReadAt(b []byte, off int64) (int, error) {
	p.db.mu.RLock()
	defer p.db.mu.RUnlock()
	if err := p.db.readableMuLocked(); err != nil {
		return 0, err
	}
	if p.db.mu.index.hdr.ID != p.id || p.db.mu.view.f == nil {
		return 0, ErrLogReplaced
	}
	return p.db.viewMuLocked().readAt(b, off)
}
