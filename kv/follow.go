package kv

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/crabkv/crabkv/walfmt"
)

// A read-only DB is a follower: it takes no lock, never writes a byte in
// the directory, and keeps its private index in step with the log as
// another process — a writer — appends to it, compacts it and closes it.
//
// One goroutine, started by Open and stopped by Close, does the following.
// It wakes when the directory changes (fsnotify, where the system has it)
// and at least every Options.FollowPoll (appends a NoSync writer copies
// into its memory map raise no file event), and then, holding wmu:
//
//   - if wal.log is another file than the one it reads — another inode, or
//     the same file with another header, or cut below what it has read —
//     it opens the new log, builds a fresh index for it (from wal.hint
//     when the hint names this log, else by replaying it) and swaps log,
//     index and counters in at once under mu: a reader sees the old log or
//     the new, never a mix. The old file is closed after the swap, when no
//     reader can hold it (readers hold mu while they use the log);
//   - else it reads the records appended after the last one it applied and
//     publishes them under mu, a chunk at a time. It stops at zeros (the
//     writer's reserved space) and at an invalid record, which at the tail
//     of a live log is a record still being written: it tries again from
//     there on the next wake-up, and never cuts or reports it. A follower
//     far behind a writer that appends without pause may find no zeros for
//     a long while, so one step reads at most followStepBytes, and the
//     goroutine steps again at once while more is waiting;
//   - it watches wal.log.compact to report the writer's compactions in
//     Stats and as events (see observeCompaction).
//
// A follower reads its log through a read-only shared memory map of the
// bytes it has applied, mapped afresh as the log grows past it, and the
// records past those with ReadAt (see followFile). The map belongs to the
// log's file: a switch to a new log swaps it in with the file, under mu,
// and releases the old one with the old file. The writer may cut the file
// under the map (a torn tail at its Open, a repair), and touching a page of
// a map past the end of its file faults: every copy out of the map runs
// with the runtime's fault guard (debug.SetPanicOnFault), so such a read
// fails with an error that wraps ErrLogReplaced, and the next step reads
// the cut log afresh. No slice of the map leaves followFile: a follower's
// zero-copy View hands its callback a copy.
//
// Close cancels db.ctx, and every loop that reads the log — a catch-up, the
// replay of a new log — stops between chunks once it is done (errStepEnd),
// however much is left: Close waits for the goroutine, and for a Refresh
// in progress (it takes wmu), for one chunk at most.

// Follower defaults.
const (
	// DefaultFollowPoll is how often a follower looks at the log when no
	// file event wakes it.
	DefaultFollowPoll = 20 * time.Millisecond
	// followMinStep spaces the follower's look-ups when file events come
	// fast (a synced writer raises one per append): a batch then costs
	// one look-up, and the writer's cores are left to it.
	followMinStep = 2 * time.Millisecond
	// followChunk is how much of the log a follower reads at once, and
	// how many records it publishes under one hold of mu.
	followChunk = 1 << 20
	// followStepBytes bounds what one step of the follow goroutine reads
	// of the records appended, so that wmu is let go now and then for a
	// Refresh, and the compaction's file looked at, while a follower
	// catches up with a large backlog.
	followStepBytes = 16 * followChunk
)

// errStepEnd ends a follower's reading of the log between two chunks:
// Close has begun (db.ctx is done), or the step has read its share. What
// was published stays; the next step goes on from there. It is not damage.
var errStepEnd = errors.New("kv: the follower's step ends here")

// errOutsideCompaction is what a follower reports when the writer's
// compaction ended without replacing the log: the writer failed it, was
// stopped, or died.
var errOutsideCompaction = errors.New("kv: the writer's compaction ended without replacing the log")

// follower is the state of a read-only DB's follow goroutine. Only that
// goroutine uses it, holding wmu.
type follower struct {
	wake chan struct{} // capacity 1: the directory changed
	buf  []byte        // read buffer, reused

	// outside is a compaction the writer runs, as seen from here.
	outside struct {
		running bool
		start   time.Time
		before  counters // the log when it was first seen
		total   int64    // the size the new log is expected to reach
		done    int64    // the new log's size last reported
	}
}

// startFollowing starts the follow goroutine of a read-only DB. Close
// stops it through db.ctx and waits for it.
func (db *DB) startFollowing() {
	db.follow.wake = make(chan struct{}, 1)
	w := watchDir(db.dir, db.follow.wake, &db.wg)
	db.wg.Add(1)
	go func() {
		defer db.wg.Done()
		// The watcher only wakes the follower; nothing is lost if it fails to close.
		defer func() { _ = w.Close() }()
		db.followMapped()
		tick := time.NewTicker(db.opts.FollowPoll)
		defer tick.Stop()
		for {
			last := time.Now()
			more := db.followStep(followStepBytes)
			// After a long step Close, a tick and a wake-up may all be
			// ready, and select picks at random: Close comes first.
			if db.ctx.Err() != nil {
				return
			}
			if more {
				continue
			}
			select {
			case <-db.ctx.Done():
				return
			case <-tick.C:
			case <-db.follow.wake:
				time.Sleep(followMinStep - time.Since(last))
			}
		}
	}()
}

// followMapped lets the follower's map serve reads up to what it has
// applied (see followFile). Open mapped the log as it was when the replay
// began.
func (db *DB) followMapped() {
	db.mu.RLock()
	ff, end := db.followFileMuLocked(), db.mu.c.size
	db.mu.RUnlock()
	if ff != nil {
		ff.advance(end)
	}
}

// followStep brings the index up to date with the log once, reading at
// most limit bytes of the records appended (no bound if limit <= 0), and
// reports whether it stopped at that bound with more to read.
func (db *DB) followStep(limit int64) (more bool) {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if db.mu.closed { // Close sets it holding wmu
		return false
	}
	// The compaction's file is looked at before the log: a compaction
	// ends by renaming its file over the log, so if the file is gone now
	// and the log is the same after, the compaction failed.
	tmp, terr := db.fs.Stat(filepath.Join(db.dir, tempName))
	before := db.mu.c
	switched := db.logReplacedLocked() && db.switchLogLocked()
	if !switched {
		more = db.catchUpLocked(limit)
	}
	if db.ctx.Err() != nil {
		// Close stopped the step part way: a switch left undone would
		// read as a compaction that failed.
		return false
	}
	var tmpSize int64 = -1
	if terr == nil && db.writerHolds() {
		// (Where no writer holds the store, the file is what one that
		// died in a compaction left, for the next writer's Open to
		// remove: no compaction runs.)
		tmpSize = tmp.Size()
	}
	db.observeCompaction(tmpSize, switched, before)
	return more
}

// logReplacedLocked reports whether wal.log is no longer the log the
// follower reads. The caller holds wmu.
func (db *DB) logReplacedLocked() bool {
	fi, err := db.fs.Stat(db.path)
	if err != nil {
		return false // missing for a moment, or for good: keep the last state
	}
	cur := db.mu.view.f
	if cur == nil {
		return true // the store had no log when it was opened
	}
	ci, err := cur.Stat()
	if err != nil {
		return false
	}
	// Identities compare only for the operating system's files; in
	// tests' file systems the header alone tells logs apart.
	if os.SameFile(fi, fi) && !os.SameFile(fi, ci) {
		return true
	}
	if ci.Size() < db.mu.c.size {
		return true // cut below what was read: read it afresh
	}
	hdr, err := readLogHeader(cur, ci.Size())
	return err == nil && hdr != db.mu.index.hdr
}

// switchLogLocked opens wal.log anew, builds its index privately and swaps
// it in. It reports false, leaving the old log in use, when the new one
// cannot be read yet (its header is not written) or Close stopped the
// replay. The caller holds wmu.
func (db *DB) switchLogLocked() bool {
	f, err := db.openFollowed()
	if err != nil {
		return false
	}
	idx, c, v, err := db.indexLog(f)
	if err != nil {
		_ = f.Close() // opened read-only; the follower keeps the old log
		return false
	}
	f.advance(c.size) // the new log is private still: no reader waits
	db.lockMu()
	old, oldIdx := db.mu.view, db.mu.index
	db.mu.view, db.mu.index, db.mu.c = *v, idx, c
	db.mu.broken = nil
	db.unlockMu()
	// No reader holds the old log or index now: each took mu to use them.
	// Releasing them can fail only harmlessly (see mapping.unmap), and a
	// read-only file has nothing to flush on close.
	_ = old.m.unmap()
	_ = oldIdx.close()
	if old.f != nil {
		_ = old.f.Close()
	}
	return true
}

// indexLog builds the index of the log f: from the hint file when it
// names this log and its slots check out, else from the log's records,
// up to where valid records stop. A hint whose slots turn out damaged
// while the records after it are applied is dropped for a full replay.
func (db *DB) indexLog(f File) (*index, counters, *logView, error) {
	var floor expiryFloor
	idx, c, v, err := db.indexLogHinted(f, true, &floor)
	if errors.Is(err, errHintDamaged) {
		return db.indexLogHinted(f, false, &floor) // the hint's expiry floor holds still
	}
	return idx, c, v, err
}

// indexLogHinted is indexLog, with the hint only if useHint. A hint read
// sets *floor to its expiry floor; a replay without one keeps *floor.
func (db *DB) indexLogHinted(f File, useHint bool, floor *expiryFloor) (*index, counters, *logView, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, counters{}, nil, err
	}
	size := fi.Size()
	hdr, err := readLogHeader(f, size)
	if err != nil {
		return nil, counters{}, nil, err
	}
	var idx *index
	var c counters
	hinted := false
	if useHint {
		idx, c, hinted = db.loadHint(f, size, hdr) // its chunks checked as they are touched
	}
	v := &logView{f: f, end: hdr.Size(), path: db.path}
	if hinted {
		v.end, v.unverified = c.size, c.size
		*floor = c.floor
	} else {
		if *floor == (expiryFloor{}) {
			*floor = db.expiryFloorOf(hdr.ID) // the hint could not be read
		}
		idx, c = newIndex(0, hdr), counters{size: hdr.Size(), floor: *floor}
	}
	_, _, err = scanTail(f, c.size, size, &db.follow.buf, func(recs []walfmt.Record, end int64) error {
		if db.ctx.Err() != nil {
			return errStepEnd // Close: the log is replayed at the next Open
		}
		v.end = end
		return applyAll(idx, &c, v, recs)
	})
	if err != nil {
		_ = idx.close() // the scan error is the one to report
		return nil, counters{}, nil, err
	}
	return idx, c, v, nil
}

// catchUpLocked publishes the records appended to the log since the last
// look, up to the end of the file as it is now, and reports whether it
// stopped with more to read: after limit bytes (no bound if limit <= 0).
// Close stops it between chunks. The caller holds wmu.
func (db *DB) catchUpLocked(limit int64) (more bool) {
	f := db.mu.view.f
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() <= db.mu.c.size {
		return false
	}
	ff, _ := f.(*followFile)
	start := db.mu.c.size
	_, _, err = scanTail(f, start, fi.Size(), &db.follow.buf, func(recs []walfmt.Record, end int64) error {
		if db.ctx.Err() != nil {
			return errStepEnd
		}
		// The map serves the chunk's bytes, just read whole from the
		// file, before they are applied: each record whose key is
		// already indexed, most often a few records back in this very
		// chunk, is compared with it there, where a ReadAt each would
		// leave the follower slower than a writer that appends without
		// pause. Outside mu: a remap is a system call. Readers reach no
		// byte past what mu publishes.
		if ff != nil {
			ff.advance(end)
		}
		db.lockMu()
		v := db.viewMuLocked()
		v.end = end
		err := applyAll(db.mu.index, &db.mu.c, v, recs)
		db.unlockMu()
		if err == nil && limit > 0 && end-start >= limit {
			return errStepEnd
		}
		return err
	})
	// Back to what was applied, should a record have failed. Only a
	// holder of wmu changes the counters.
	if ff != nil {
		ff.advance(db.mu.c.size)
	}
	if errors.Is(err, errStepEnd) {
		return db.ctx.Err() == nil
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		// The index could not take a record: a damaged record in the
		// part a hint covered. Reads report it, as they would in the
		// writer.
		db.lockMu()
		db.mu.broken = err
		db.unlockMu()
	}
	return false
}

// applyAll applies records, in log order, to idx and c.
func applyAll(idx *index, c *counters, src keySource, recs []walfmt.Record) error {
	for _, r := range recs {
		if err := c.applyRecord(idx, src, r); err != nil {
			return err
		}
	}
	return nil
}

// scanTail reads the valid records of f from off, a record boundary, up to
// size, and hands them to fn a chunk at a time, with the offset just past
// the last; their keys alias a buffer that is reused after fn returns. It
// stops at zeros, at the end, and at an invalid record — which at the tail
// of a log being written is one not yet complete — and returns where it
// stopped and whether an invalid record stopped it.
func scanTail(f File, off, size int64, buf *[]byte, fn func(recs []walfmt.Record, end int64) error) (int64, bool, error) {
	var recs []walfmt.Record
	need := followChunk // bytes to read at once: more for a large record
	for off < size {
		want := int(min(size-off, int64(need)))
		if cap(*buf) < want {
			*buf = make([]byte, want)
		}
		b := (*buf)[:want]
		n, err := f.ReadAt(b, off)
		if err != nil && err != io.EOF {
			return off, false, err
		}
		if n < want {
			size = off + int64(n) // the file is shorter than it was
		}
		b = b[:n]
		recs = recs[:0]
		p, stop, invalid := 0, false, false
		for !stop {
			rs := recordSize(b[p:])
			switch {
			case rs < 0:
				stop, invalid = true, true
			case rs == 0:
				// Zeros stop the log; a partial header stops this chunk,
				// or the log if it is all there is.
				stop = len(b)-p >= walfmt.RecordHeaderSize || off+int64(len(b)) >= size
			case off+int64(p+rs) > size:
				stop = true // not all written yet
			case rs > len(b)-p:
				need = max(need, rs)
			default:
				rec, err := walfmt.Decode(b[p : p+rs])
				if err != nil {
					stop, invalid = true, true
					break
				}
				rec.Offset, rec.Size = off+int64(p), rs
				recs = append(recs, rec)
				p += rs
				continue
			}
			break
		}
		if len(recs) > 0 {
			if err := fn(recs, off+int64(p)); err != nil {
				return off, false, err
			}
		}
		off += int64(p)
		if stop {
			return off, invalid, nil
		}
	}
	return off, false, nil
}

// recordSize returns the size of the record whose header starts b: 0 when
// b is too short to tell or starts with a zero header (the end of a log
// followed by reserved space), -1 when the header cannot be a record's.
func recordSize(b []byte) int {
	if len(b) < walfmt.RecordHeaderSize {
		return 0
	}
	h := b[:walfmt.RecordHeaderSize]
	if allZero(h) {
		return 0
	}
	kl := int64(binary.LittleEndian.Uint32(h[8:12]))
	vl := int64(binary.LittleEndian.Uint32(h[12:16]))
	batch := walfmt.Kind(h[4]) == walfmt.KindBatch // a batch has no key
	if (kl == 0) != batch || kl > walfmt.MaxKeyLen || vl > walfmt.MaxValueLen {
		return -1
	}
	n := walfmt.RecordHeaderSize + kl + vl
	if h[5]&walfmt.FlagExpiry != 0 {
		n += walfmt.ExpirySize
	}
	return int(n)
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Writer returns the process that has the store open for writing, when a
// process does and the lock file names it (see LockHolder).
func (db *DB) Writer() (Holder, bool) {
	h, held, err := LockHolder(db.dir)
	return h, held && err == nil
}

// writerHolds reports whether a writer holds the store: as Writer says,
// or, where the system refuses to read the lock file because a writer has
// it locked (Windows, where Writer cannot name the holder), yes.
func (db *DB) writerHolds() bool {
	_, held, locked, err := lockHolder(db.dir)
	return err == nil && (held || locked)
}

// Refresh brings a follower (a ReadOnly DB) up to date with the log now,
// without waiting for its next look: a program that has just written
// through a writer of its own calls it before reading back. On a writer it
// does nothing.
//
// It reads up to the end of the file as it is when it looks, however far
// behind the follower is — every record written before the call — and
// stops there: beside a writer that appends without pause it returns all
// the same. Close ends it between two chunks.
func (db *DB) Refresh() {
	if !db.opts.ReadOnly {
		return
	}
	db.cmu.Lock()
	closing := db.cmu.closing
	db.cmu.Unlock()
	if !closing {
		db.followStep(0)
	}
}
