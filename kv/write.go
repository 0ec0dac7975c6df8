package kv

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// Put sets key to value. Unless Options.NoSync is set, the record is on
// stable storage when Put returns. Put does not keep key or value.
func (db *DB) Put(key, value []byte) error {
	if err := db.checkKey(key); err != nil {
		return err
	}
	if len(value) > db.opts.MaxValueSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), db.opts.MaxValueSize)
	}
	return db.write(walfmt.KindPut, key, value, 0)
}

// Delete removes key. Deleting a key that is not there is not an error and
// writes nothing.
func (db *DB) Delete(key []byte) error {
	if err := db.checkKey(key); err != nil {
		return err
	}
	return db.write(walfmt.KindDelete, key, nil, 0)
}

func (db *DB) checkKey(key []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > db.opts.MaxKeySize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrKeyTooLarge, len(key), db.opts.MaxKeySize)
	}
	return nil
}

// write appends one record, makes it durable as the options ask, and then
// publishes it to readers: a reader never sees a value that a crash could
// still take back. Synced writers that arrive together share one fsync
// (group commit): each appends under wmu, then waits outside it for a sync
// that covers its record. A put expires at expiry (Unix ns) unless it is 0.
// Its value is encoded with Options.Codec first, outside the lock, so
// writers compress in parallel.
func (db *DB) write(kind walfmt.Kind, key, value []byte, expiry int64) error {
	var codec uint8
	m := recMeta{expiry: expiry}
	if kind == walfmt.KindPut && db.opts.Codec.ID() != 0 {
		bp := encodeBufs.Get().(*[]byte)
		defer encodeBufs.Put(bp)
		n := len(value)
		value, codec = encodeValue(db.opts.Codec, value, bp)
		m.grow = int32(n - len(value))
	}
	db.wmu.Lock()
	if err := db.writableLocked(); err != nil {
		db.wmu.Unlock()
		return err
	}
	// A delete of an absent key writes nothing. Where the index holds
	// records whose checksums are unread, a put looks first too: a damaged
	// record on its key's probe is reported to the caller here, before
	// anything is written, instead of failing the store when the record
	// is published.
	if kind == walfmt.KindDelete || db.mu.view.unverified > 0 {
		found, err := db.has(key)
		if err != nil {
			db.wmu.Unlock()
			return err
		}
		if kind == walfmt.KindDelete && !found {
			db.wmu.Unlock()
			return nil
		}
	}
	if kind == walfmt.KindPut {
		db.buf = walfmt.AppendPutCodec(db.buf[:0], key, value, codec, expiry)
	} else {
		db.buf = walfmt.AppendDelete(db.buf[:0], key)
	}
	return db.commitLocked(pendingWrite{kind: kind, key: key, meta: m}, db.buf)
}

// commitLocked appends rec, the encoding of w, makes it durable as the
// options ask, publishes it, and releases wmu, which the caller holds.
func (db *DB) commitLocked(w pendingWrite, rec []byte) error {
	seq, err := db.appendLockedUnlock(w, rec)
	if err != nil || seq == 0 {
		return err
	}
	return Commit{db, seq}.Wait()
}

// appendLockedUnlock appends rec, the encoding of w, and releases wmu,
// which the caller holds. A synced store's write is then pending: its
// number is returned, and syncThrough makes it durable and publishes it. A
// NoSync store's is published already, and the number is 0.
func (db *DB) appendLockedUnlock(w pendingWrite, rec []byte) (uint64, error) {
	if err := db.makeRoomLocked(int64(len(rec))); err != nil {
		db.wmu.Unlock()
		return 0, err
	}
	off := db.tail
	err := db.appendLocked(rec, off)
	if cap(db.buf) > maxKeptBuf {
		// The record is in the file (or failed); a large value's copy
		// is not kept for the next write.
		db.buf = nil
	}
	if err != nil {
		db.wmu.Unlock()
		return 0, err
	}
	w.off, w.size = off, len(rec)
	if db.opts.NoSync {
		st, err := db.publish([]pendingWrite{w})
		if err != nil {
			db.failed = err
		}
		db.wmu.Unlock()
		if err != nil {
			return 0, err
		}
		db.maybeCompact(st)
		return 0, nil
	}
	db.seq++
	w.seq = db.seq
	db.sync.mu.Lock()
	db.sync.pending = append(db.sync.pending, w)
	db.sync.unsynced += int64(w.size)
	db.sync.mu.Unlock()
	db.wmu.Unlock()
	return w.seq, nil
}

// makeRoomLocked keeps the sync window (walfmt.SyncWindow): a synced
// writer about to append n bytes that would leave more than walfmt.SyncWindow
// bytes of records unsynced first waits for the running sync, whose batch
// then no longer counts, and if that leaves too little room, syncs what is
// pending itself. A record is appended at once when nothing is in flight,
// however large, so a record larger than the window is alone in flight.
// The caller holds wmu, so that nothing is appended meanwhile; the writers
// behind it wait for it, as they would for room in the window.
func (db *DB) makeRoomLocked(n int64) error {
	if db.opts.NoSync {
		return nil
	}
	s := &db.sync
	s.mu.Lock()
	full := func() bool { return s.unsynced > 0 && s.unsynced+n > walfmt.SyncWindow }
	for full() && s.running && s.err == nil {
		s.cond.Wait()
	}
	room := !full()
	s.mu.Unlock()
	if room {
		return nil
	}
	return db.drainSyncs()
}

// maxKeptBuf is the largest encode buffer (DB.buf) a write leaves to the
// next. A larger one held a large value's record: keeping it would pin as
// much heap as the largest value ever written, for as long as the store is
// open, to save an allocation that costs little beside the copy of such a
// value.
const maxKeptBuf = 256 << 10

// pendingWrite is a record in the log that waits for a sync before readers
// may see it. key and batch belong to the writer, who waits until it is
// published.
type pendingWrite struct {
	kind walfmt.Kind
	key  []byte
	// batch is the encoded record of a batch (kind walfmt.KindBatch),
	// whose operations are published together.
	batch []byte
	meta  recMeta // a put's expiry and growth (see expiries.go)
	off   int64
	size  int
	seq   uint64 // the write's place in the order of synced writes
}

// publish applies written records to the index and the counters, in log
// order, and returns the state the compaction policy looks at.
func (db *DB) publish(ws []pendingWrite) (compact.State, error) {
	end := ws[len(ws)-1].off + int64(ws[len(ws)-1].size)
	db.mu.Lock()
	// A quiet publish leaves seq alone, which lock-free Gets read (see
	// quietMuLocked); any other takes mu as lockMu does.
	quiet := db.quietMuLocked(ws, end)
	if !quiet {
		db.mu.seq.Add(1)
	}
	defer func() {
		db.helpGrowthMuLocked() // on every path: a write may have begun a growth
		if !quiet {
			db.mu.seq.Add(1)
		}
		db.mu.Unlock()
	}()
	if db.mu.view.m != nil && end > int64(len(db.mu.view.m.data)) {
		db.remapMuLocked(end)
	}
	v := db.viewMuLocked()
	v.end = end // the batch is in the file: its keys may be read through the map
	for _, w := range ws {
		var err error
		if w.kind == walfmt.KindBatch {
			rec := walfmt.Record{Kind: w.kind, Offset: w.off, Size: w.size, Value: w.batch[walfmt.RecordHeaderSize:]}
			err = db.mu.c.applyRecord(db.mu.index, v, rec)
		} else {
			err = db.mu.c.apply(db.mu.index, v, w.kind, w.key, w.off, w.size, w.meta)
		}
		if errors.Is(err, errHintDamaged) {
			if quiet {
				// The rebuild replaces the index: lock-free Gets must
				// see seq move.
				db.mu.seq.Add(1)
				quiet = false
			}
			// The replay covers this and the rest of ws.
			if err := db.rebuildIndexMuLocked(end); err != nil {
				return compact.State{}, err
			}
			break
		} else if err != nil {
			return compact.State{}, err
		}
	}
	db.maybeCheckpointMuLocked()
	return db.stateMuLocked(), nil
}

// remapMuLocked maps the log again, larger, once appends have outgrown the
// map. The caller holds mu exclusively, so no reader uses the old map,
// and none can once mu is released: every reader takes mu and finds the
// new one. The old map is torn down on a goroutine: dropping the pages of
// a large log's map takes time in proportion to them, which neither the
// readers waiting for mu nor the writer holding wmu should wait for.
// Close waits for it.
func (db *DB) remapMuLocked(end int64) {
	m := mapLog(db.mu.view.f, end, !db.opts.ReadOnly)
	if old := db.mu.view.m; old != nil {
		db.unmaps.Go(func() { _ = old.unmap() }) // harmless: see mapping.unmap
	}
	db.mu.view.m = m // nil if mapping failed: reads fall back to ReadAt
}

// syncThrough returns once the synced write numbered seq, and every one
// before it, is on stable storage and published. The first waiter to find
// no sync running leads: it takes every pending record, syncs once for all
// of them, and publishes them; the others wait for a sync that covers them.
// Writes are counted rather than located by offset, because a compaction
// moves every record.
func (db *DB) syncThrough(seq uint64) (compact.State, error) {
	s := &db.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.done < seq {
		if s.err != nil {
			return compact.State{}, s.err
		}
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		// Let writers that are ready to append do so before the batch is
		// cut, for as long as more keep arriving: a writer released by the
		// last sync is usually back within microseconds, and joining now
		// saves it a whole sync of waiting. A lone writer, whose last sync
		// carried its write alone, has no one to wait for: on a busy
		// machine its yield can hand the thread to the operating system's
		// queue for milliseconds, several times the sync it saves.
		for n := len(s.pending); s.lastBatch > 1; n = len(s.pending) {
			s.mu.Unlock()
			runtime.Gosched()
			s.mu.Lock()
			if len(s.pending) == n || len(s.pending) >= maxYieldBatch {
				break
			}
		}
		batch := s.pending
		s.pending = nil
		s.mu.Unlock()
		err := db.mu.view.f.Sync() // only a compaction's swap replaces the log, and it drains us first
		var st compact.State
		if err == nil && len(batch) > 0 {
			st, err = db.publish(batch)
		}
		s.mu.Lock()
		s.running = false
		s.cond.Broadcast()
		if err != nil {
			s.err = fmt.Errorf("kv: sync %s: %w", db.path, err)
			return compact.State{}, s.err
		}
		if n := len(batch); n > 0 {
			s.done = batch[n-1].seq
		}
		s.lastBatch = len(batch)
		for _, w := range batch {
			s.unsynced -= int64(w.size)
		}
		if s.done >= seq {
			return st, nil
		}
	}
	// Synced by another leader; a later failure is not this write's.
	return db.policyState(), nil
}

// Sync makes every write acknowledged so far durable. Without NoSync each
// write already is when it returns, and Sync has nothing to do; with it,
// Sync is how a bulk load makes its data safe from a machine crash. Close
// syncs too.
func (db *DB) Sync() error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if db.opts.ReadOnly {
		return nil
	}
	if err := db.writableLocked(); err != nil {
		return err
	}
	return db.syncNoSyncLocked()
}

// syncNoSyncLocked fdatasyncs a NoSync log and, if a compaction has renamed
// it into place since the directory was last synced, the directory: until
// then a power loss would bring back the old log. The caller holds wmu.
//
// A failed store cannot make its acknowledged writes durable any more, so
// it returns the failure: Close must not report success then.
func (db *DB) syncNoSyncLocked() error {
	if !db.opts.NoSync || db.opts.ReadOnly || db.mu.closed || db.mu.view.f == nil {
		return nil
	}
	db.adoptLogSyncFailureLocked()
	if db.failed != nil {
		return fmt.Errorf("kv: store failed earlier; writes not yet synced may be lost: %w", db.failed)
	}
	if err := db.syncNoSyncLog(db.mu.view.f); err != nil {
		db.failed = err
		return fmt.Errorf("kv: sync %s: %w", db.path, err)
	}
	if db.dirSynced < db.renames {
		if err := db.fs.SyncDir(db.dir); err != nil {
			db.failed = fmt.Errorf("sync directory after compaction: %w", err)
			return fmt.Errorf("kv: sync %s: %w", db.dir, err)
		}
		db.dirSynced = db.renames
	}
	return nil
}

// drainSyncs waits until every appended record is synced and published, so
// the caller, holding wmu, sees a log whose published size is its tail.
func (db *DB) drainSyncs() error {
	if db.opts.NoSync {
		return nil
	}
	_, err := db.syncThrough(db.seq)
	return err
}

// policyState returns what the compaction policy looks at.
func (db *DB) policyState() compact.State {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.stateMuLocked()
}

// stateMuLocked returns what the compaction policy looks at: expired
// records count as stale. The caller holds mu.
func (db *DB) stateMuLocked() compact.State {
	var expired int64
	if db.mu.c.exp.len() > 0 { // else no clock read on the write path
		_, expired = db.mu.c.exp.settle(db.now())
	}
	return compact.State{LogBytes: db.mu.c.size, StaleBytes: db.mu.c.stale + expired}
}

// writableLocked returns why the DB cannot take a write, if it cannot.
func (db *DB) writableLocked() error {
	db.adoptLogSyncFailureLocked()
	switch {
	case db.opts.ReadOnly:
		return ErrReadOnly
	case db.failed != nil:
		return fmt.Errorf("kv: store failed earlier and takes no more writes (reopen it): %w", db.failed)
	}
	if err := db.syncErr(); err != nil {
		return fmt.Errorf("kv: store failed earlier and takes no more writes (reopen it): %w", err)
	}
	if db.mu.closed { // Close sets it holding wmu, which we hold
		return ErrClosed
	}
	return nil
}

// has reports whether key is in the index. The caller holds wmu.
func (db *DB) has(key []byte) (bool, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	_, ok, err := db.lookupMuLocked(key)
	return ok, err
}

// appendLocked writes rec at off, the log's tail. A failed write is cut
// back so the log ends at a record boundary again; if even that fails, the
// store takes no more writes.
func (db *DB) appendLocked(rec []byte, off int64) error {
	log := db.mu.view.f
	end := off + int64(len(rec))
	if end > db.alloc-db.reserveStep()/2 {
		db.reserveLocked(end)
	}
	// A small NoSync append into reserved space is a copy into the shared
	// map: the kernel owns those pages, so the record survives a crash of
	// the process as a written one would, without a system call. Only
	// NoSync writers may: they publish, and so remap, under wmu, which we
	// hold. A large record is written with pwrite, which leaves nothing
	// mapped into the process, and readers take it with pread (see
	// largeRecord).
	if m := db.mu.view.m; db.opts.NoSync && len(rec) < largeRecord && m != nil && m.writable && end <= db.alloc && end <= int64(len(m.data)) {
		copy(m.data[off:end], rec)
		db.tail = end
		m.releaseWritten(end, cmp.Or(db.keepWritten, keepWritten))
		m.populateAhead(end, db.alloc)
		return nil
	}
	if _, err := log.WriteAt(rec, off); err != nil {
		if terr := log.Truncate(off); terr != nil {
			db.failed = terr
		}
		db.alloc = off
		db.zeroed = min(db.zeroed, off)
		return fmt.Errorf("kv: append to %s: %w", db.path, err)
	}
	db.tail = end
	db.alloc = max(db.alloc, end)
	if !db.opts.NoSync && db.zeroed < end+zeroAhead-zeroStep && db.alloc > end {
		db.zeroAheadLocked(end)
	}
	return nil
}

// Pages written through the map (see appendLocked) stay mapped into the
// process, and count in its resident memory, until they are unmapped: a
// fill of tens of GB would show as a process of tens of GB, the first the
// kernel's out-of-memory killer picks. So a NoSync writer releases the
// pages it has written, all but the last keepWritten bytes, releaseStep at
// a time (mapping.releaseWritten). The pages stay in the page cache; only
// the process's mapping of them goes. Pages a reader maps stay mapped, as
// in any store read through a map: this bounds what writing maps, not what
// reading does.
//
// The window is large because mapping a page again is dear: a reader's
// first touch of a released page is a page fault (the kernel maps 16 pages
// around it), 45 µs on the virtual machine it was measured on, against a
// read of 1.5 µs from a mapped page. Reads of up to the last 256 MiB
// written, the ones a fill's readers most often want, keep the cheaper
// cost (a remap, when the log outgrows its map, starts a map with no page
// mapped). Each release runs on a goroutine beside the writers: 0.4–2 ms
// for 16 MiB on that machine.
const (
	keepWritten = 256 << 20
	releaseStep = 16 << 20
)

// A synced store keeps the reserved space from its tail to zeroAhead past
// it written with zeros, zeroStep or more at a time.
//
// fallocate leaves unwritten extents on ext4 and XFS: the first append
// into one converts it, and the fdatasync after that append then commits a
// journal transaction as well as the data. Over zeros already written, an
// append is a plain overwrite and its fdatasync writes only the data; on
// this kind of disk that is several times fewer milliseconds a sync. The
// zeros cost one page-cache copy and are written back by the next group
// commit's sync, a zeroStep at a time, so no append waits for more than
// that. The format reads zeros after the last record as the end of the
// log, so writing them changes nothing a reader or a recovery sees.
const (
	zeroAhead = 1 << 20
	zeroStep  = 256 << 10
)

var zeroBlock [zeroStep]byte

// zeroAheadLocked writes zeros over the reserved space from end, the tail,
// to zeroAhead past it. Nothing lies past the tail but reserved space, so
// the zeros cannot land on a record. A failed write is left for the next
// append to try again: the space still reads as zeros, and only the sync
// of appends into it costs more. The caller holds wmu.
func (db *DB) zeroAheadLocked(end int64) {
	from, to := max(db.zeroed, end), min(db.alloc, end+zeroAhead)
	for from < to {
		n := min(to-from, zeroStep)
		if _, err := db.mu.view.f.WriteAt(zeroBlock[:n], from); err != nil {
			return
		}
		from += n
		db.zeroed = from
	}
}

// Reserved space ahead of the log: an eighth of the log, between these.
const (
	minReserve = 1 << 20
	maxReserve = 64 << 20
)

// reserveStep is how much the log file is extended by at a time.
func (db *DB) reserveStep() int64 { return min(max(db.alloc/8, minReserve), maxReserve) }

// reserveLocked extends the log file with zeros by a step past end, the
// tail after an append, or past the space reserved so far, whichever is
// further, so that the appends that follow do not change its size: see
// walfmt's "Reserved space". Where the system cannot, appends extend the
// file one at a time.
//
// The writer calls it once it is within half a step of the reserved
// end, not past it, so that reserved space always lies ahead of the
// tail, and with it the pages a NoSync writer has faulted in ahead of it
// (populateAhead stops at the reserved end). Reserved only once the
// tail reached it, the first pages past it were left to the append that
// crossed it, each a page fault into space just reserved, which took the
// writer, holding wmu, 1 to 5 ms on the virtual machine these figures
// come from, at every reservation of a fill.
func (db *DB) reserveLocked(end int64) {
	to := max(end, db.alloc) + db.reserveStep()
	if preallocate(db.mu.view.f, db.alloc, to-db.alloc) {
		db.alloc = to
	}
}

// trimLocked cuts the reserved zeros off the log file, at Close, so a closed
// store's log is exactly its records. The caller holds wmu and mu.
func (db *DB) trimLocked() error {
	if db.opts.ReadOnly || db.failed != nil || db.mu.view.f == nil {
		return nil
	}
	if db.alloc <= db.mu.c.size {
		// A reservation that failed may still have extended the file (a
		// full ext4 disk leaves part of a failed fallocate), past what
		// alloc counts: ask the file.
		fi, err := db.mu.view.f.Stat()
		if err != nil || fi.Size() <= db.mu.c.size {
			// Nothing to cut, or no way to tell: the cut is tidiness
			// only, as the zeros past the records read as the log's end.
			return nil
		}
	}
	if err := db.mu.view.f.Truncate(db.mu.c.size); err != nil {
		return fmt.Errorf("kv: trim %s: %w", db.path, err)
	}
	db.alloc = db.mu.c.size
	db.zeroed = min(db.zeroed, db.alloc)
	return nil
}

func (db *DB) syncErr() error {
	db.sync.mu.Lock()
	defer db.sync.mu.Unlock()
	return db.sync.err
}

// maxYieldBatch stops a leader waiting for more writers to join its sync.
const maxYieldBatch = 64

// failureBackoff is how long automatic compaction waits after a failure.
const failureBackoff = time.Minute

// maybeCompact starts a background compaction when the policy says one is
// due. The writer does not wait for it.
func (db *DB) maybeCompact(st compact.State) {
	p := db.opts.Compaction
	st.SinceLast = time.Duration(math.MaxInt64)
	if !p.Due(st) { // the common case, decided without a lock
		return
	}
	db.cmu.Lock()
	st.SinceLast = time.Since(db.cmu.lastEnd)
	due := db.cmu.running == nil && !db.cmu.closing && p.Due(st)
	if db.cmu.lastFailure != nil && st.SinceLast < failureBackoff {
		due = false // a failing compaction is not retried on every write
	}
	db.cmu.Unlock()
	if due {
		db.startCompaction()
	}
}

// quietPublishes says whether this system may publish a single put
// without moving mu.seq (see quietMuLocked): where stores become visible
// in the order they are made (x86), and a slot's 8-byte offset is read
// and written whole.
const quietPublishes = runtime.GOARCH == "amd64"

// quietMuLocked reports whether publishing ws, whose records end at end,
// changes no more of what a lock-free Get reads (getfast.go) than one slot
// of the index: ws is one put, the index neither grows nor migrates, and
// the log's map is big enough. (A chunk of a hint's table that fails its
// check on the way makes publish rebuild the index, and move seq first.)
// Such a publish need not move mu.seq, and must not: seq's cache line
// then stays shared between the writer and the readers instead of moving
// between their cores twice a write, which cost a NoSync writer beside
// one reader more than half its pace (1.6 against 3.6 us a Put). A
// lock-free Get that reads the slot meanwhile sees it before or after:
// a new key's slot is written offset last, after its record is in the
// log; an overwrite changes the offset and the size, each read whole,
// and one read from before with one from after frame either a record of
// a different size, whose checksum and lengths do not hold, so that the
// Get reads again under mu, or, where the two records are the same size,
// the old record whole, an answer from before. The caller holds mu
// exclusively.
func (db *DB) quietMuLocked(ws []pendingWrite, end int64) bool {
	if !quietPublishes || len(ws) != 1 || ws[0].kind != walfmt.KindPut {
		return false
	}
	if m := db.mu.view.m; m == nil || end > int64(len(m.data)) {
		return false // a remap replaces the map
	}
	x := db.mu.index
	return x.old == nil && !x.bad.Load() && !x.full()
}
