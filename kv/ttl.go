package kv

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// Expiring keys.
//
// A key written with PutTTL (or Batch.PutTTL, or given a TTL by Expire)
// carries an absolute expiry time in its record. From that instant on —
// at it exactly, not a moment after — the key is absent: Get, Entry,
// ReadValueAt, TTL, Keys, Ascend and Stats.Keys leave it out, and its
// record's bytes count as stale in Stats and for the automatic compaction
// policy. No background sweep is needed for any of that: each read
// compares the record's expiry with the clock. A compaction drops expired
// records; until one does, their bytes stay in the log.
//
// Time is Options.Clock (time.Now by default), never allowed to run
// backwards: the store judges expiry by the latest instant its clock has
// shown, so once a key has been reported absent because it expired, it
// stays absent for as long as the DB is open, whatever the clock does
// later. Across a reopen the guarantee holds when the DB was closed
// cleanly (the latest instant is saved with the hint file, and the next
// Open takes every key that had expired by then as expired, without
// moving its clock up to it: see expiryhint.go) or a compaction has
// dropped the record; after a crash, a
// clock set back to before a key's expiry shows the key again until the
// clock passes it once more.

// ErrInvalidTTL is returned for a TTL of zero or less where a key must
// live for a while: PutTTL and Batch.PutTTL.
var ErrInvalidTTL = errors.New("kv: TTL must be positive")

// NoExpiry is what TTL returns for a key that never expires: a negative
// duration, as Redis's TTL command returns -1.
const NoExpiry time.Duration = -1

// now returns the store's time in Unix nanoseconds: the clock's, or the
// latest instant it has shown if it has since gone back.
func (db *DB) now() int64 {
	t := db.opts.Clock().UnixNano()
	for {
		seen := db.clockMax.Load()
		if t <= seen {
			return seen
		}
		if db.clockMax.CompareAndSwap(seen, t) {
			return t
		}
	}
}

// expiryAfter returns the expiry, in Unix ns, of a key written now with
// the given positive ttl. One too far to represent is the latest there is.
func (db *DB) expiryAfter(ttl time.Duration) int64 {
	now := db.now()
	if now > math.MaxInt64-int64(ttl) {
		return math.MaxInt64
	}
	return now + int64(ttl)
}

// PutTTL sets key to value for ttl: the key is absent from the instant
// ttl has passed (see "Expiring keys" above). ttl must be positive. Like
// Put, it returns once the record is durable; it does not allocate beyond
// what Put does.
func (db *DB) PutTTL(key, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: %s", ErrInvalidTTL, ttl)
	}
	if err := db.checkKey(key); err != nil {
		return err
	}
	if len(value) > db.opts.MaxValueSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), db.opts.MaxValueSize)
	}
	return db.write(walfmt.KindPut, key, value, db.expiryAfter(ttl))
}

// PutTTL adds a put of key to value that expires ttl after this call (not
// after Write). ttl must be positive. The batch copies key and value.
func (b *Batch) PutTTL(key, value []byte, ttl time.Duration) {
	if b.err == nil && ttl <= 0 {
		b.fail(fmt.Errorf("%w: %s", ErrInvalidTTL, ttl))
	}
	if b.err == nil && len(value) > b.db.opts.MaxValueSize {
		b.fail(fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), b.db.opts.MaxValueSize))
	}
	if b.err != nil {
		return
	}
	b.add(walfmt.KindPut, key, value, b.db.expiryAfter(ttl))
}

// TTL returns how long key has left before it expires: a positive
// duration, or NoExpiry (-1) for a key that never expires. The error is
// ErrNotFound for a key that is absent, expired included.
func (db *DB) TTL(key []byte) (time.Duration, error) {
	at, err := db.ExpiresAt(key)
	if err != nil {
		return 0, err
	}
	if at.IsZero() {
		return NoExpiry, nil
	}
	// Read once more through the store's clock, which never goes back:
	// ExpiresAt found the key alive, so this is at least 1ns.
	return max(time.Duration(at.UnixNano()-db.now()), 1), nil
}

// ExpiresAt returns the instant key expires, or the zero time for a key
// that never does. The error is ErrNotFound for a key that is absent,
// expired included.
func (db *DB) ExpiresAt(key []byte) (time.Time, error) {
	if len(key) == 0 {
		return time.Time{}, ErrEmptyKey
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return time.Time{}, err
	}
	s, ok, err := db.liveMuLocked(key)
	if err != nil || !ok {
		return time.Time{}, err
	}
	at, has := db.mu.c.exp.lookup(s.off)
	if !has {
		return time.Time{}, nil
	}
	return time.Unix(0, at), nil
}

// liveMuLocked returns key's slot if key is present and has not expired;
// ErrNotFound when it is absent. The caller holds mu shared, which
// lookupMuLocked may let go and take again.
func (db *DB) liveMuLocked(key []byte) (slot, bool, error) {
	return db.liveViaMuLocked(key, db.viewMuLocked())
}

// liveViaMuLocked is liveMuLocked reading keys through src, a reader of
// the store's log view (see recordReader).
func (db *DB) liveViaMuLocked(key []byte, src keySource) (slot, bool, error) {
	s, ok, err := db.lookupViaMuLocked(key, src)
	if err != nil {
		return slot{}, false, err
	}
	if !ok || db.expiredMuLocked(s.off) {
		return slot{}, false, ErrNotFound
	}
	return s, true, nil
}

// expiredMuLocked reports whether the record at off has expired. It reads
// the clock only for a record that expires: a lookup of any other, the
// common case, costs no clock read and no write to db.clockMax, which
// every reader would otherwise contend on. The caller holds mu.
func (db *DB) expiredMuLocked(off uint64) bool {
	at, ok := db.mu.c.exp.lookup(off)
	return ok && at <= db.now()
}

// Expire makes key expire ttl from now, rewriting its record with the new
// expiry (the value is copied as it is in the log; the caller does not
// supply it). A ttl of zero or less deletes the key, as Redis's EXPIRE
// does. The error is ErrNotFound for an absent key.
func (db *DB) Expire(key []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return db.rewriteExpiry(key, -1)
	}
	return db.rewriteExpiry(key, db.expiryAfter(ttl))
}

// ExpireAt makes key expire at t, as Expire does; a t not after now
// deletes the key. A t after 2262-04-11, the last instant an expiry holds
// (walfmt.ExpiryOf), is that instant.
func (db *DB) ExpireAt(key []byte, t time.Time) error {
	at := walfmt.ExpiryOf(t)
	if at <= db.now() {
		at = -1
	}
	return db.rewriteExpiry(key, at)
}

// Persist removes key's expiry, rewriting its record without one. A key
// that has none is left as it is; an absent key gives ErrNotFound.
func (db *DB) Persist(key []byte) error { return db.rewriteExpiry(key, 0) }

// rewriteExpiry appends a new record of key with its current value and
// the expiry at (0: none; -1: delete the key instead).
func (db *DB) rewriteExpiry(key []byte, at int64) error {
	if err := db.checkKey(key); err != nil {
		return err
	}
	db.wmu.Lock()
	if err := db.writableLocked(); err != nil {
		db.wmu.Unlock()
		return err
	}
	kind, m, write, err := db.encodeExpiryLocked(key, at)
	if err != nil || !write {
		db.wmu.Unlock()
		return err
	}
	return db.commitLocked(pendingWrite{kind: kind, key: key, meta: m}, db.buf)
}

// encodeExpiryLocked encodes into db.buf the record that gives key the
// expiry at, as rewriteExpiry describes, and reports whether there is one
// to write. The value is copied as it is stored, codec and all, while mu
// is held: the map it lies in may be replaced as soon as mu is let go.
// The caller holds wmu.
func (db *DB) encodeExpiryLocked(key []byte, at int64) (walfmt.Kind, recMeta, bool, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s, _, err := db.liveMuLocked(key)
	if err != nil {
		return 0, recMeta{}, false, err
	}
	if at < 0 {
		db.buf = walfmt.AppendDelete(db.buf[:0], key)
		return walfmt.KindDelete, recMeta{}, true, nil
	}
	x, _ := db.mu.c.exp.entry(s.off)
	if at == 0 && x.at == 0 {
		return 0, recMeta{}, false, nil // Persist of a key without an expiry
	}
	v := db.viewMuLocked()
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	b, err := v.recordBytes(s, bp)
	if err != nil {
		return 0, recMeta{}, false, err
	}
	val, err := walfmt.Value(b)
	if err != nil {
		return 0, recMeta{}, false, locateCorruption(err, v.path, int64(s.off))
	}
	db.buf = walfmt.AppendPutCodec(db.buf[:0], key, val, walfmt.ValueCodec(b), at)
	return walfmt.KindPut, recMeta{expiry: at, grow: db.growthMuLocked(s)}, true, nil
}

// growthMuLocked returns how much the value of the live record s points
// to grows when decoded. The caller holds mu.
func (db *DB) growthMuLocked(s slot) int32 {
	if x, ok := db.mu.c.exp.entry(s.off); ok {
		return x.grow
	}
	if e := db.mu.c.exp; e == nil || e.encoded == 0 {
		return 0
	}
	return recordGrowth(db.viewMuLocked(), s)
}

// expiryCopy gathers a compaction's expiry table for the new log: live
// notes the expiry of each record it accepts, and moved files it under
// the record's new offset, which compact.Rewrite reports right after.
type expiryCopy struct {
	table *expiries
	last  recMeta
}

// expiryCopier returns a compaction's expiry table in the making, and the
// liveness test that feeds it: DB.live, which leaves out expired records.
func (db *DB) expiryCopier() (*expiryCopy, compact.Live) {
	e := &expiryCopy{table: newExpiries()}
	return e, func(key []byte, off int64) (bool, error) {
		db.mu.RLock()
		defer db.mu.RUnlock()
		s, ok, err := db.mu.index.get(key, db.viewMuLocked())
		e.last = recMeta{}
		if err != nil || !ok || int64(s.off) != off {
			return false, err
		}
		x, has := db.mu.c.exp.entry(s.off)
		if has && x.at <= db.now() {
			return false, nil
		}
		e.last = recMeta{expiry: x.at, grow: db.growthMuLocked(s)}
		return true, nil
	}
}

// moved files the record just copied to off, if the table keeps it.
func (e *expiryCopy) moved(off int64, size int) {
	if e.last.any() {
		e.table.add(uint64(off), e.last, size)
	}
}

// expiryStatsMuLocked fills s's expiry counts and moves the bytes of
// expired records from live to stale. The caller holds mu.
func (db *DB) expiryStatsMuLocked(s *Stats) {
	keys, bytes := db.mu.c.exp.settle(db.now())
	s.Keys -= keys
	s.LiveBytes -= bytes
	s.StaleBytes += bytes
	s.ExpiringKeys = db.mu.c.exp.len() - keys
	s.ExpiredKeys = keys
	s.ExpiredBytes = bytes
	live, expired, stale := db.mu.c.exp.growthOf()
	s.LogicalLiveBytes = s.LiveBytes + live
	s.LogicalStaleBytes = s.StaleBytes + expired + stale
}

// PutExpiresAt adds a put of key to value that expires at t, an absolute
// time: how a program restores keys with the expiries they had (crabkv
// import does). A t not after the store's clock when Write runs leaves the
// key absent, as if it had expired then; one before 1970 is an error. A t
// after 2262-04-11, the last instant an expiry holds (walfmt.ExpiryOf), is
// that instant. The batch copies key and value.
func (b *Batch) PutExpiresAt(key, value []byte, t time.Time) {
	at := walfmt.ExpiryOf(t)
	if b.err == nil && at <= 0 {
		b.fail(fmt.Errorf("%w: expiry %s is not after 1970", ErrInvalidTTL, t))
	}
	if b.err == nil && len(value) > b.db.opts.MaxValueSize {
		b.fail(fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), b.db.opts.MaxValueSize))
	}
	if b.err != nil {
		return
	}
	b.add(walfmt.KindPut, key, value, at)
}
