package kv

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"sort"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
)

// Scan calls fn with each key in [start, end), in byte order, and its
// value, until fn returns false. A nil start means from the first key, a
// nil end to the last. The key and value passed to fn are valid only
// during the call; fn may call any method of the DB.
//
// The scan reads the store as it was when it started, expiries included
// (a key that expires while it runs is still seen): a key written or
// deleted while it runs is seen as it was before the change, never half
// of it (a batch's keys all before it). The scan holds the readers' lock
// for one chunk of keys at a time, copying them out, and calls fn outside
// it: writers and compactions wait at most for one chunk. If a compaction
// replaces the log meanwhile, the scan carries on in the new log after
// the last key it read, as of that moment. A damaged record stops the scan with an error
// that wraps walfmt.ErrCorrupt and names the file and offset.
func (db *DB) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	it := db.NewIterator(start, end)
	for it.Next() {
		// The rest of the chunk Next has read, without a call per key.
		for {
			e := &it.ents[it.pos-1]
			if !fn(it.buf[e.k:e.k+e.kn], it.buf[e.v:e.v+e.vn]) {
				return it.Close()
			}
			if it.pos == len(it.ents) {
				break
			}
			it.pos++
		}
	}
	return it.Close()
}

// Iterator walks the keys of a range in byte order, with their values,
// forwards with Next or backwards with Prev. It reads the store a chunk at
// a time, as Scan does and with its guarantees. An Iterator is not safe
// for concurrent use; it must be closed.
//
// An iterator is either on a key, the one Next or Prev last read, or in a
// gap between keys: before the first key when new, before the key Seek
// names after a Seek, after the last key after SeekEnd, and past the end
// it walked off after Next or Prev returned false. Next reads the key
// after its place and Prev the key before it, so Prev after a Next that
// read k reads the key before k, and Prev after Seek(k) the last key
// before k.
//
//	it := db.NewIterator([]byte("user:"), []byte("user;"))
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Close(); err != nil { … }
type Iterator struct {
	db       *DB
	lo, hi   []byte // the range: [lo, hi), nil for unbounded
	keysOnly bool   // read no values (Keys, Ascend)
	// skipDamage makes a damaged record be skipped and remembered in
	// damaged instead of stopping the walk (CheckedKeys).
	skipDamage bool
	damaged    error

	snap   *orderSnap
	ri, oi int // next run and overlay positions in snap
	// touched and lined are the run positions up to which touchAhead has
	// touched the records ahead, their first byte and their other lines.
	touched, lined int
	placed         bool   // ri and oi are positioned in snap
	rev            bool   // the buffer is read backwards, by Prev
	last           []byte // the last key read into the buffer; nil before the first
	seeked         []byte // where the next fill starts when last is nil
	atEnd          bool   // with last nil: the gap is after the last key, not at seeked
	done           bool   // no key is left in the range, in the buffer's direction
	chunk          int    // keys the last fill read at most; 0 after a seek
	err            error

	sink byte        // what touchAhead reads, kept so it is not optimized away
	bufs *scanBufs   // where buf and ents come from and go back to at Close
	buf  []byte      // keys and values of the chunk
	ents []scanEntry // the chunk's entries, in buf
	pos  int         // the current entry, 1-based; 0 before the first
	now  int64       // the instant the snapshot was taken at, for expiries
	// plain is set by nextCandidate and prevCandidate when the record they
	// return is one of the run's whose header they read and found without
	// an expiry: emit need not read its expiry.
	plain bool
}

// scanEntry locates a key and its value in an Iterator's buffer.
type scanEntry struct{ k, kn, v, vn int }

// scanBufs are an Iterator's buffers, kept in a pool between iterators:
// a scan that reads a hundred keys would otherwise spend as long growing
// them as reading the keys.
type scanBufs struct {
	buf  []byte
	ents []scanEntry
}

var scanBufPool = sync.Pool{New: func() any { return new(scanBufs) }}

// Chunks: a fill reads up to chunk keys or scanChunkBytes bytes of keys
// and values, whichever comes first, under one hold of mu. The first fill
// after a seek reads scanFirstChunk keys, and each fill after it twice as
// many as the last, up to scanChunk: a short range, or a walk its caller
// stops early, reads little more than it uses.
const (
	scanFirstChunk = 16
	scanChunk      = 256
	scanChunkBytes = 256 << 10
)

// NewIterator returns an iterator over the keys in [start, end) (nil:
// unbounded), positioned before the first.
func (db *DB) NewIterator(start, end []byte) *Iterator {
	it := &Iterator{db: db, lo: bytes.Clone(start), hi: bytes.Clone(end)}
	it.seeked = it.lo
	return it
}

// Seek moves the iterator before the first key at or after key (and at or
// after the range's start); Next then reads it. It reports whether the
// iterator can continue, which it cannot after an error or Close.
func (it *Iterator) Seek(key []byte) bool {
	if it.err != nil {
		return false
	}
	it.seeked = bytes.Clone(key)
	if it.lo != nil && bytes.Compare(it.seeked, it.lo) < 0 {
		it.seeked = it.lo
	}
	it.atEnd = false
	it.reset()
	return true
}

// SeekEnd moves the iterator after the last key of the range; Prev then
// reads it. It reports whether the iterator can continue, as Seek does.
func (it *Iterator) SeekEnd() bool {
	if it.err != nil {
		return false
	}
	it.seeked, it.atEnd = nil, true
	it.reset()
	return true
}

// reset forgets the buffer and the last key read, so that the next fill
// starts at the gap seeked and atEnd describe, in a new snapshot.
func (it *Iterator) reset() {
	it.last, it.snap, it.done, it.chunk = nil, nil, false, 0
	it.ents, it.pos = it.ents[:0], 0
}

// Next moves to the next key, and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.rev {
		it.turn(false)
	}
	return it.advance()
}

// Prev moves to the key before the current one, or before the gap the
// iterator is in, and reports whether there is one.
func (it *Iterator) Prev() bool {
	if !it.rev {
		it.turn(true)
	}
	return it.advance()
}

// turn makes the buffer be read in the other direction, rev, from the
// iterator's place: strictly beyond the current key, or from the gap it
// is in. The snapshot is kept, so a walk that turns reads the same state.
func (it *Iterator) turn(rev bool) {
	switch {
	case it.pos > 0: // on a key
		it.last = append([]byte(nil), it.Key()...)
	case it.last != nil: // walked off the end it was reading towards
		it.last = nil
		it.seeked, it.atEnd = it.lo, rev
	}
	it.rev, it.placed, it.done, it.chunk = rev, false, false, 0
	it.ents, it.pos = it.ents[:0], 0
}

// advance reads the next key of the buffer in its direction, filling it
// when it is used up.
func (it *Iterator) advance() bool {
	if it.pos < len(it.ents) {
		it.pos++
		return true
	}
	it.ents, it.pos = it.ents[:0], 0 // off the key: in the gap past it
	if it.err != nil || it.done {
		return false
	}
	it.fill()
	if len(it.ents) == 0 {
		return false
	}
	it.pos = 1
	return true
}

// Key returns the current key, valid until the next call of Next, Prev,
// a seek or Close.
func (it *Iterator) Key() []byte {
	e := it.ents[it.pos-1]
	return it.buf[e.k : e.k+e.kn]
}

// Value returns the current key's value, valid until the next call of
// Next, Prev, a seek or Close.
func (it *Iterator) Value() []byte {
	e := it.ents[it.pos-1]
	return it.buf[e.v : e.v+e.vn]
}

// Err returns the error that stopped the iterator, if any.
func (it *Iterator) Err() error {
	if it.err == errIteratorClosed {
		return nil
	}
	return it.err
}

// Close releases the iterator and returns Err. Later calls of Next
// return false.
func (it *Iterator) Close() error {
	err := it.Err()
	if it.err == nil {
		it.err = errIteratorClosed
	}
	if b := it.bufs; b != nil && cap(it.buf) <= 2*scanChunkBytes {
		b.buf, b.ents = it.buf[:0], it.ents[:0]
		scanBufPool.Put(b)
	}
	it.ents, it.buf, it.snap, it.bufs = nil, nil, nil, nil
	return err
}

// All returns the rest of the iterator's keys and values as a sequence,
// for a range loop; the pairs are valid only during one round of it.
// Check Err after the loop.
func (it *Iterator) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for it.Next() {
			if !yield(it.Key(), it.Value()) {
				return
			}
		}
	}
}

// fill reads the next chunk of keys into the buffer.
func (it *Iterator) fill() {
	if it.bufs == nil {
		it.bufs = scanBufPool.Get().(*scanBufs)
		it.buf, it.ents = it.bufs.buf, it.bufs.ents
	}
	it.ents, it.buf = it.ents[:0], it.buf[:0]
	db := it.db
	for range 8 { // a round fails only when a compaction swaps the log
		if it.snap == nil {
			s, err := db.orderSnapshot()
			if err != nil {
				it.err = err
				return
			}
			// Expiry is judged at one instant per snapshot, as everything
			// else the snapshot holds: keys that expire together (a
			// batch's) are seen together, or not at all.
			it.snap, it.now = s, db.now()
			it.placed = false
		}
		db.mu.RLock()
		if err := db.readableMuLocked(); err != nil {
			db.mu.RUnlock()
			it.err = err
			return
		}
		if db.mu.index != it.snap.idx {
			// A compaction replaced the log: take its order and carry
			// on after the last key read.
			db.mu.RUnlock()
			it.snap = nil
			continue
		}
		it.fillMuLocked()
		db.mu.RUnlock()
		return
	}
	it.err = errLogSwapped
}

// fillMuLocked reads a chunk from it.snap, positioning the iterator in it
// first if needed. The caller holds mu.
func (it *Iterator) fillMuLocked() {
	v := it.db.viewMuLocked()
	if !it.placed {
		if it.rev {
			it.positionRev(v)
		} else {
			it.position(v)
		}
		it.placed = true
		it.touched, it.lined = it.ri, it.ri
	}
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	it.chunk = min(max(2*it.chunk, scanFirstChunk), scanChunk)
	// last is the last key read, valid while mu is held: it.last keeps
	// a copy for the next fill, made once a chunk.
	var last []byte
	defer func() {
		if last != nil {
			it.last = append(it.last[:0], last...)
		}
	}()
	fast := !it.rev && !it.keysOnly && v.m != nil
	for len(it.ents) < it.chunk && len(it.buf) < scanChunkBytes {
		if fast {
			n, end := it.readPlainRun(v, &last)
			if end {
				it.done = true
				return
			}
			if n > 0 {
				continue
			}
		}
		key, off, size, del, ok := it.candidate(v)
		if !ok {
			it.done = true
			return
		}
		if key == nil { // the run's record cannot be read
			if !it.damage(v.checkOrKeyErr(off)) {
				return
			}
			continue
		}
		if it.outside(key) {
			// A key past the range's end ends the walk only if its record
			// is sound, as far as a key inside the range would be checked:
			// a damaged key would end it early, dropping the keys before
			// the end without a word.
			if err := it.checkEnd(v, off, size, bp); err != nil {
				if !it.damage(err) {
					return
				}
				continue
			}
			it.done = true
			return
		}
		last = key
		if !del && !it.emit(v, key, off, size, bp) {
			return
		}
	}
}

// readPlainRun reads run records forwards into the chunk for as long as
// each is a plain put in the map (no expiry, so it cannot have expired;
// no codec; not large), its checksum holds, and it comes before the
// overlay's next key: what a scan of a compacted store reads nearly all
// the time, here without the general path's decisions per record. It
// stops at the first record that is anything else, which the general
// path then reads (and a damaged one reports). It returns how many
// records it read, and whether the range's end was reached. last is set
// to the last key read, as the general path sets it. The caller holds mu.
func (it *Iterator) readPlainRun(v *logView, last *[]byte) (n int, end bool) {
	s := it.snap
	run := s.run
	data := v.m.data[:min(v.end, int64(len(v.m.data)))]
	var ovlKey string
	haveOvl := it.oi < len(s.ovl)
	if haveOvl {
		ovlKey = s.ovl[it.oi].key
	}
	for it.ri < len(run) && len(it.ents) < it.chunk && len(it.buf) < scanChunkBytes {
		if it.touched-it.ri < scanTouchAhead-scanAhead || it.lined > it.touched {
			it.touchAhead(v) // else it would touch nothing
		}
		off := run[it.ri]
		if uint64(len(data)) < walfmt.RecordHeaderSize || off > uint64(len(data))-walfmt.RecordHeaderSize {
			return n, false
		}
		h := (*[walfmt.RecordHeaderSize]byte)(data[off:])
		kl, vl, plain := walfmt.PlainPut(h)
		size := uint64(walfmt.RecordHeaderSize + kl + vl)
		if !plain || size >= largeRecord || size > uint64(len(data))-off {
			return n, false
		}
		rec := data[off : off+size]
		key := rec[walfmt.RecordHeaderSize : walfmt.RecordHeaderSize+kl]
		if haveOvl && string(key) >= ovlKey {
			return n, false // the overlay's key comes first, or replaces this one
		}
		if !walfmt.ChecksumMatches(rec) {
			return n, false
		}
		if it.hi != nil && bytes.Compare(key, it.hi) >= 0 {
			return n, true
		}
		*last = key
		it.ri++
		// Key and value lie side by side in the record: one copy.
		it.ents = append(it.ents, scanEntry{k: len(it.buf), kn: kl, v: len(it.buf) + kl, vn: vl})
		it.buf = append(it.buf, rec[walfmt.RecordHeaderSize:]...)
		n++
	}
	return n, false
}

// candidate returns the next key of the snapshot in the buffer's
// direction, as nextCandidate and prevCandidate do.
func (it *Iterator) candidate(v *logView) (key []byte, off uint64, size int, del, ok bool) {
	it.touchAhead(v)
	if it.rev {
		return it.prevCandidate(v)
	}
	return it.nextCandidate(v)
}

// outside reports whether key is past the range's end in the buffer's
// direction: at or after hi forwards, before lo backwards.
func (it *Iterator) outside(key []byte) bool {
	if it.rev {
		return it.lo != nil && bytes.Compare(key, it.lo) < 0
	}
	return it.hi != nil && bytes.Compare(key, it.hi) >= 0
}

// The run's records lie scattered across the log in write order, so
// reading each is a cache miss, and a record of more than a few dozen
// bytes spans more than one cache line. Loads issued together, in a loop
// that does nothing else, let the processor wait for all of them at once,
// where the work between two records' reads would have it wait for each in
// turn. So the iterator keeps the records ahead of it touched, in two
// stages a burst of scanAhead records at a time:
//
//   - the first byte of each record up to scanTouchAhead records ahead,
//     which brings in its header (and, for short keys, the key);
//   - for the records touched a burst earlier, whose headers have arrived
//     by then, every further cache line of the record, up to
//     scanLineBytes of it (beyond that, the hardware's own prefetcher
//     follows the copy).
const (
	scanAhead      = 16
	scanTouchAhead = 3 * scanAhead
	scanLineBytes  = 1 << 10
)

// touchAhead keeps the records of the run ahead of the iterator, in its
// direction, touched, as described above, but none past what the chunk
// being read will take: a short scan reads no more than it uses.
func (it *Iterator) touchAhead(v *logView) {
	run := it.snap.run
	if v.m == nil {
		return
	}
	dir := 1
	if it.rev {
		dir = -1
	}
	// ahead(i) is how far run index i lies ahead of the iterator.
	ahead := func(i int) int { return (i - it.ri) * dir }
	if ahead(it.touched) < 0 || ahead(it.lined) > ahead(it.touched) {
		it.touched, it.lined = it.ri, it.ri
	}
	if ahead(it.lined) < 0 {
		it.lined = it.ri // the records behind were read already
	}
	if ahead(it.touched) >= scanTouchAhead-scanAhead {
		return
	}
	want := min(scanTouchAhead, it.chunk-len(it.ents))
	if it.clustered(run, want, dir) {
		// The records ahead lie side by side, as a compaction in key order
		// leaves them: the processor's own prefetcher follows them.
		it.touched = it.ri + (want-1)*dir
		it.lined = it.touched
		return
	}
	data := v.m.data[:v.end]
	var sum byte
	// The lines after the first, of the records whose first byte was
	// touched before.
	for ; ahead(it.lined) < ahead(it.touched); it.lined += dir {
		if it.lined < 0 || it.lined >= len(run) {
			continue
		}
		off := run[it.lined]
		if off >= uint64(len(data)) || uint64(len(data))-off < walfmt.RecordHeaderSize {
			continue
		}
		n := recordSize(data[off : off+walfmt.RecordHeaderSize])
		if n <= 0 {
			continue // damage: the read reports it
		}
		size := min(uint64(n), scanLineBytes, uint64(len(data))-off)
		for l := uint64(64) - off%64; l < size; l += 64 {
			sum += data[off+l]
		}
	}
	// The first byte of the next records.
	for ; ahead(it.touched) < want; it.touched += dir {
		if it.touched < 0 || it.touched >= len(run) {
			break
		}
		if off := run[it.touched]; off < uint64(len(data)) {
			sum += data[off]
		}
	}
	it.sink += sum
}

// clusteredSpan is the most bytes a record of a clustered stretch of the
// run takes on average (see clustered): a few cache lines, past which the
// hardware prefetcher may not keep up with a copy that skips.
const clusteredSpan = 512

// clustered reports whether the next want records of the run, in the
// direction dir, lie close to each other — the first and the last within
// clusteredSpan bytes a record on average — as in a stretch of a log
// written in key order. Only the two ends are looked at: a stretch it
// takes for clustered that is not goes untouched, which costs time, never
// a wrong answer.
func (it *Iterator) clustered(run []uint64, want, dir int) bool {
	first, last := it.ri, it.ri+(want-1)*dir
	if want < 2 || min(first, last) < 0 || max(first, last) >= len(run) {
		return false
	}
	lo, hi := run[min(first, last)], run[max(first, last)]
	return lo < hi && hi-lo <= uint64(want)*clusteredSpan
}

// nextCandidate returns the next key of the snapshot's merge of run and
// overlay, with the offset of its record, the record's size if it read
// its header (a run's record; else 0) and whether it is a delete, and
// advances past it. A key both hold is returned once, with the overlay's
// (later) operation. key is nil, and ok true, for a run record whose key
// cannot be read.
func (it *Iterator) nextCandidate(v *logView) (key []byte, off uint64, size int, del, ok bool) {
	s := it.snap
	var rk []byte
	var rn int
	var rexp bool
	it.plain = false
	haveRun := it.ri < len(s.run)
	if haveRun {
		k, n, expiring, err := v.keyAndSize(int64(s.run[it.ri]))
		if err != nil {
			off = s.run[it.ri]
			it.ri++
			return nil, off, 0, false, true
		}
		rk, rn, rexp = k, n, expiring
	}
	haveOvl := it.oi < len(s.ovl)
	switch {
	case !haveRun && !haveOvl:
		return nil, 0, 0, false, false
	case haveRun && (!haveOvl || string(rk) < s.ovl[it.oi].key):
		off = s.run[it.ri]
		it.ri++
		it.plain = !rexp
		return rk, off, rn, false, true
	}
	e := s.ovl[it.oi]
	it.oi++
	if haveRun && string(rk) == e.key {
		it.ri++
	}
	return []byte(e.key), e.off, 0, e.del, true
}

// prevCandidate is nextCandidate backwards: it returns the greatest key
// of the snapshot's merge of run and overlay at or below the positions,
// and moves below it.
func (it *Iterator) prevCandidate(v *logView) (key []byte, off uint64, size int, del, ok bool) {
	s := it.snap
	var rk []byte
	var rn int
	var rexp bool
	it.plain = false
	haveRun := it.ri >= 0
	if haveRun {
		k, n, expiring, err := v.keyAndSize(int64(s.run[it.ri]))
		if err != nil {
			off = s.run[it.ri]
			it.ri--
			return nil, off, 0, false, true
		}
		rk, rn, rexp = k, n, expiring
	}
	haveOvl := it.oi >= 0
	switch {
	case !haveRun && !haveOvl:
		return nil, 0, 0, false, false
	case haveRun && (!haveOvl || string(rk) > s.ovl[it.oi].key):
		off = s.run[it.ri]
		it.ri--
		it.plain = !rexp
		return rk, off, rn, false, true
	}
	e := s.ovl[it.oi]
	it.oi--
	if haveRun && string(rk) == e.key {
		it.ri--
	}
	return []byte(e.key), e.off, 0, e.del, true
}

// emit adds key and the value of its record at off to the chunk; n is the
// record's size if the caller has read it from its header, else 0. It
// returns false when the iterator must stop.
func (it *Iterator) emit(v *logView, key []byte, off uint64, n int, bp *[]byte) bool {
	n, err := v.sizeAt(off, n)
	if err != nil {
		return it.damage(err)
	}
	at, known := it.db.mu.c.exp.lookup(off)
	if known && at <= it.now {
		return true // absent from the instant it expires
	}
	// The expiry table forgets a record's expiry once a later write
	// replaces the record, which the snapshot may still name: where the
	// table has no entry, the record's own expiry field says it. A value
	// is read with its record, whose field is at hand; a keys-only scan
	// reads the field only of a record whose header, read for its key,
	// did not show it without one (it.plain).
	sl := slot{off: off, size: uint32(n)}
	var val []byte
	var codec uint8
	if it.keysOnly {
		// A key from a record no checksum has covered yet could be
		// damaged into a key that was never written.
		if err := v.checkRecord(int64(off), n); err != nil {
			return it.damage(err)
		}
		if !known && !it.plain {
			at, err := v.expiryAt(off, n)
			if err != nil {
				return it.damage(err)
			}
			if at != 0 && at <= it.now {
				return true
			}
		}
	} else {
		b, err := v.recordBytes(sl, bp)
		if err == nil {
			val, err = walfmt.Value(b)
			err = locateCorruption(err, v.path, int64(off))
			codec = walfmt.ValueCodec(b)
		}
		if err != nil {
			return it.damage(err)
		}
		if at := walfmt.Expiry(b); !known && at != 0 && at <= it.now {
			return true
		}
	}
	if codec == 0 {
		it.addEntry(key, val)
		return true
	}
	e := scanEntry{k: len(it.buf), kn: len(key)}
	it.buf = append(it.buf, key...)
	e.v = len(it.buf)
	out, err := decodeValue(it.buf, codec, val)
	if err != nil {
		it.buf = it.buf[:e.k]
		return it.damage(v.codecError(err, int64(off)))
	}
	it.buf = out
	e.vn = len(it.buf) - e.v
	it.ents = append(it.ents, e)
	return true
}

// expiryAt returns the expiry of the record of n bytes at off (Unix
// nanoseconds), or 0 if it has none, from the record itself: its flags,
// and the field after its header, read together. A record too short to
// hold the field and a key has none. The caller has checked the record's
// checksum.
func (v *logView) expiryAt(off uint64, n int) (int64, error) {
	var b [walfmt.RecordHeaderSize + walfmt.ExpirySize]byte
	if n <= len(b) {
		return 0, nil
	}
	if _, err := v.readAt(b[:], int64(off)); err != nil {
		return 0, fmt.Errorf("kv: read expiry at offset %d: %w", off, err)
	}
	return walfmt.Expiry(b[:]), nil
}

// addEntry adds key and its value, stored as it is, to the chunk.
func (it *Iterator) addEntry(key, val []byte) {
	e := scanEntry{k: len(it.buf), kn: len(key)}
	it.buf = append(it.buf, key...)
	e.v = len(it.buf)
	it.buf = append(it.buf, val...)
	e.vn = len(val)
	it.ents = append(it.ents, e)
}

// damage records a damaged record: the iterator stops, unless it skips
// damage, when it remembers the first. It returns whether to go on.
func (it *Iterator) damage(err error) bool {
	if it.skipDamage {
		if it.damaged == nil {
			it.damaged = err
		}
		return true
	}
	it.err = err
	return false
}

// errIteratorClosed marks a closed Iterator.
var errIteratorClosed = errors.New("kv: iterator closed")

// sizeAt returns the size of the record at off: n, if the caller has read
// it from the header (n > 0), else from the header, read now.
func (v *logView) sizeAt(off uint64, n int) (int, error) {
	if n > 0 {
		return n, nil
	}
	h, err := v.header(int64(off))
	if err != nil {
		return 0, err
	}
	if n = recordSize(h[:]); n <= 0 {
		return 0, locateCorruption(&walfmt.CorruptionError{Reason: "not a record header"}, v.path, int64(off))
	}
	return n, nil
}

// checkEnd verifies the record at off, of size n if read (else 0), whose
// key is past the range's end, as emit would verify it inside the range:
// a keys-only walk checks a record no checksum has covered yet (a large
// value is not read to end a walk of keys), a walk with values every one.
func (it *Iterator) checkEnd(v *logView, off uint64, n int, bp *[]byte) error {
	if !it.keysOnly {
		return v.checkWhole(off, n, bp)
	}
	n, err := v.sizeAt(off, n)
	if err != nil {
		return err
	}
	return v.checkRecord(int64(off), n)
}

// checkWhole verifies the checksum of the record at off, of size n if the
// caller has read it (else 0), whether or not a replay or an earlier read
// has verified it before.
func (v *logView) checkWhole(off uint64, n int, bp *[]byte) error {
	n, err := v.sizeAt(off, n)
	if err != nil {
		return err
	}
	b, err := v.recordBytes(slot{off: off, size: uint32(n)}, bp)
	if err == nil && !walfmt.ChecksumMatches(b) {
		err = locateCorruption(&walfmt.CorruptionError{Reason: "checksum mismatch"}, v.path, int64(off))
	}
	return err
}

// checkOrKeyErr returns why the key of the record at off cannot be read.
func (v *logView) checkOrKeyErr(off uint64) error {
	_, err := v.keyAt(int64(off))
	return err
}

// position finds, in it.snap, the first run and overlay entries past the
// last key read, or at or after the seek key. The caller holds mu.
func (it *Iterator) position(v *logView) {
	s := it.snap
	target, after := it.seeked, false
	if it.last != nil {
		target, after = it.last, true
	}
	switch {
	case it.last == nil && it.atEnd:
		it.ri, it.oi = len(s.run), len(s.ovl)
		return
	case target == nil:
		it.ri, it.oi = 0, 0
		return
	}
	past := func(k []byte) bool {
		c := bytes.Compare(k, target)
		return c > 0 || (c == 0 && !after)
	}
	it.ri = it.searchRun(v, target, after)
	it.oi = sort.Search(len(s.ovl), func(i int) bool { return past([]byte(s.ovl[i].key)) })
}

// positionRev finds, in it.snap, the last run and overlay entries before
// the last key read, or before the gap seeked or atEnd describes, and
// before the range's end. The caller holds mu.
func (it *Iterator) positionRev(v *logView) {
	s := it.snap
	var target []byte // nil: the end
	switch {
	case it.last != nil:
		target = it.last
	case !it.atEnd && it.seeked == nil: // the gap before the first key
		it.ri, it.oi = -1, -1
		return
	case !it.atEnd:
		target = it.seeked
	}
	if it.hi != nil && (target == nil || bytes.Compare(target, it.hi) > 0) {
		target = it.hi
	}
	if target == nil {
		it.ri, it.oi = len(s.run)-1, len(s.ovl)-1
		return
	}
	before := func(k []byte) bool { return bytes.Compare(k, target) >= 0 }
	it.ri = it.searchRun(v, target, false) - 1
	it.oi = sort.Search(len(s.ovl), func(i int) bool { return before([]byte(s.ovl[i].key)) }) - 1
}
