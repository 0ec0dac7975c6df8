package kv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"
)

// A checkpoint writes the hint while the store runs.
//
// Close and each compaction write a hint (hint.go), and after a crash Open
// maps it and replays only the records appended after it. But a store that
// only grows seldom compacts, and one that is not closed cleanly would
// replay everything written since its last hint: its whole log. So once
// the log has grown past its last hint by Options.CheckpointBytes (by
// default the larger of 256 MiB and eight times the index's size), a
// goroutine writes the index out as a new hint beside the writers: a crash
// then replays at most about twice that much (a checkpoint that a crash
// cuts short leaves the one before it).
//
// Each checkpoint writes the whole index, so the default keeps the bytes
// they write to an eighth of the log's at most. The stores checkpoints
// spare most are those whose log is large beside their index: large
// values, where a crash would otherwise replay gigabytes for an index of
// megabytes. Where the index is a fifth of the log, as with 100-byte
// values, a replay of a tail the size of the index costs about what a
// replay of the whole log does (the hint must be read and checked whole),
// and a fill of such a store never reaches eight times its index: the
// default leaves it to the hints of Close and compactions.
//
// A NoSync store has none unless Options.CheckpointBytes asks: a hint
// must not describe records the disk may not have, so its checkpoint
// syncs the log, the write-out a NoSync bulk load otherwise leaves to the
// kernel. Measured on a NoSync fill of 2M values of 1 KiB (2 GiB of log,
// four to six checkpoints), the fill took 3.9-4.5 s where it took 1.9-3.1
// without, and its longest Put 74-152 ms where 2-17. A synced store's
// writers pay a pause at each checkpoint instead: the new hint's
// write-out, and the freeing of the one it replaces, share the disk and
// the file system's journal with their syncs (57-64 ms at worst beside
// checkpoints of a 128 MiB index, where 4.5-5.5 ms without). The replaced
// hint cannot be freed a step at a time, as a compaction's old log is:
// a follower may have it mapped.
//
// The expiry table is copied whole at the start, under mu shared, at about
// 70 ns an entry: a store with more than checkpointExpiriesMax keys that
// expire has no checkpoints.
//
// A hint is the table as it was at one instant, with the counters of that
// instant, and writers change the table in place. So a checkpoint copies
// on write, a chunk of the hint (4 KiB, its unit of checksum) at a time. At
// its start, holding DB.mu shared so that no writer publishes, it notes the
// counters and the expiry table and marks every chunk unsaved. It then
// saves the chunks in order, a batch at a time: under mu shared it copies
// the batch's unsaved chunks and marks them saved, and writes the copy
// after letting mu go. A writer about to change a slot of an unsaved chunk
// (holding mu exclusively, as every change to the index does) saves the
// chunk first: it copies it aside, for the checkpoint to write with its
// next batch, or, once checkpointPending bytes wait, writes it to the file
// itself. Every chunk reaches the file as it was at the start, and a
// writer pays at most a 4 KiB copy (or write) for it.
//
// A growth, which moves every key into a new table, abandons the
// checkpoint; so do a rebuild and a compaction's swap, which replace the
// index, a compaction running when it would be installed, Close, and any
// failed write. The new hint replaces the one on disk only once it is
// whole and synced, and (for a NoSync store) the log is synced up to the
// end the hint covers: the hint never describes records the disk may not
// have. It is renamed into place holding wmu, and only if the index it
// describes is still the store's.

// File names of a checkpoint's hint and expiry sidecar while they are
// written. Open removes leftovers.
const (
	checkpointTemp    = "wal.hint.ckpt.tmp"
	checkpointExpTemp = "wal.hint.exp.ckpt.tmp"
)

const (
	// checkpointMin is the least log growth past the hint that makes a
	// checkpoint due, and checkpointRatio how many times the index's size
	// it is at least: a checkpoint writes the whole index, so it writes
	// at most one byte for every checkpointRatio bytes of log.
	checkpointMin   = 256 << 20
	checkpointRatio = 8
	// checkpointBatch is how many chunks a checkpoint copies under one
	// shared hold of mu: 128 KiB, a few microseconds of copying.
	checkpointBatch = 32
	// checkpointPending bounds the chunks writers copy aside for a
	// checkpoint to write; past it, a writer writes the chunk itself.
	checkpointPending = 2 << 20
)

// errCheckpointAbandoned is why a checkpoint stopped when the store no
// longer wanted it: not a failure, and not reported. errCheckpointGrowth
// is the same, for a growth of the index: the next write after the growth
// is done tries again.
var (
	errCheckpointAbandoned = errors.New("kv: checkpoint abandoned")
	errCheckpointGrowth    = fmt.Errorf("%w: the index grows", errCheckpointAbandoned)
)

// checkpointExpiriesMax is the largest expiry table a checkpoint copies:
// it copies it whole at its start, holding DB.mu shared, which takes
// about 70 ns an entry. A store with more keys that expire is left to the
// hints of Close and compactions.
const checkpointExpiriesMax = 1 << 14

// checkpoint is one checkpoint under way.
type checkpoint struct {
	x     *index
	table []slot   // x.slots at the start
	f     File     // the hint being written, checkpointTemp
	at    int64    // where the slots start in it
	meta  hintMeta // at the start; the chunk sums are filled in as chunks are written
	exp   []byte   // the expiry sidecar, at the start

	// Guarded by DB.mu: changed by writers holding it exclusively and by
	// the checkpoint's goroutine holding it shared, never both at once.
	saved []uint64 // a bit per chunk: copied, or written
	// aside holds the chunks writers copied, in the order of their
	// numbers in asideN, for the goroutine to write; spare is the buffer
	// it swaps in when it takes them.
	aside, spare   []byte
	asideN, spareN []uint32
	abandoned      bool
	grown          bool  // abandoned by a growth of the index
	err            error // a writer's failed write of a chunk

	closed bool // f is closed (by the checkpoint's goroutine)
}

// abandonForGrowth stops p (nil allowed), whose index starts to grow. The
// caller holds DB.mu exclusively.
func (p *checkpoint) abandonForGrowth() {
	if p != nil {
		p.abandoned, p.grown = true, true
	}
}

// chunk returns the bytes of chunk n of the table.
func (p *checkpoint) chunk(n uint32) []byte {
	start := int(n) * chunkSlots
	return slotBytes(p.table[start:min(start+chunkSlots, len(p.table))])
}

func (p *checkpoint) isSaved(n uint32) bool { return p.saved[n/64]&(1<<(n%64)) != 0 }
func (p *checkpoint) markSaved(n uint32)    { p.saved[n/64] |= 1 << (n % 64) }

// saveChunk saves chunk n before a writer changes it. The caller holds
// DB.mu exclusively.
func (p *checkpoint) saveChunk(n uint32) {
	if p.abandoned || p.isSaved(n) {
		return
	}
	p.markSaved(n)
	b := p.chunk(n)
	if len(p.aside)+len(b) <= cap(p.aside) {
		p.aside = append(p.aside, b...)
		p.asideN = append(p.asideN, n)
		return
	}
	if err := p.write(n, b); err != nil {
		p.err, p.abandoned = err, true
	}
}

// write writes b, chunk n as it was at the start, to the file, and notes
// its sum. Each chunk is written once, by one goroutine.
func (p *checkpoint) write(n uint32, b []byte) error {
	p.meta.chunks[n] = sumChunk(unsafe.Slice((*slot)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(slot{}))))
	_, err := p.f.WriteAt(b, p.at+int64(n)*chunkSlots*int64(unsafe.Sizeof(slot{})))
	return err
}

// checkpointEvery returns how far the log may grow past its hint before a
// checkpoint is due, for the index x, or a negative number if checkpoints
// are off.
func (db *DB) checkpointEvery(x *index) int64 {
	switch n := db.opts.CheckpointBytes; {
	case n != 0:
		return n
	case db.opts.NoSync:
		return -1
	}
	return max(checkpointMin, checkpointRatio*int64(len(x.slots))*int64(unsafe.Sizeof(slot{})))
}

// maybeCheckpointMuLocked starts a checkpoint if one is due. The caller
// holds mu exclusively, having just published.
func (db *DB) maybeCheckpointMuLocked() {
	every := db.checkpointEvery(db.mu.index)
	if every < 0 || db.mu.c.size-db.mu.ckptAt < every || db.opts.ReadOnly || !hintsSupported || db.ckptRunning.Load() ||
		db.mu.index.old != nil || db.mu.c.exp.len() > checkpointExpiriesMax {
		return // (a growth under way: the write after it tries again)
	}
	// The next one is due a step further on, whether or not this one
	// starts or lands: a failing checkpoint is not retried on every write.
	// One that a growth abandons is: see below.
	prev, at := db.mu.ckptAt, db.mu.c.size
	db.mu.ckptAt = at
	db.cmu.Lock()
	start := !db.cmu.closing && db.cmu.running == nil
	if start {
		db.wg.Add(1) // under cmu, before Close, which sets closing first, waits
	}
	db.cmu.Unlock()
	if !start {
		return // a compaction writes a hint of its own
	}
	db.ckptRunning.Store(true)
	go func() {
		defer db.wg.Done()
		err := db.checkpoint(db.ctx)
		if errors.Is(err, errCheckpointGrowth) {
			// Writers, which alone read ckptAt, hold mu exclusively.
			db.mu.RLock()
			if db.mu.ckptAt == at { // no compaction has reset it since
				db.mu.ckptAt = prev
			}
			db.mu.RUnlock()
		}
		db.cmu.Lock()
		switch {
		case err == nil:
			db.cmu.checkpoints++
			db.cmu.checkpointErr = nil
		case !errors.Is(err, errCheckpointAbandoned) && db.ctx.Err() == nil:
			db.cmu.checkpointErr = err
		}
		db.cmu.Unlock()
		db.ckptRunning.Store(false)
	}()
}

// checkpoint writes the index out as a new hint and puts it in place,
// unless the store abandons it first.
func (db *DB) checkpoint(ctx context.Context) (err error) {
	tmp := filepath.Join(db.dir, checkpointTemp)
	expTmp := filepath.Join(db.dir, checkpointExpTemp)
	f, err := db.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("kv: checkpoint: %w", err)
	}
	p, err := db.beginCheckpoint(f)
	defer func() {
		if p != nil {
			db.endCheckpoint(p)
		}
		if p == nil || !p.closed {
			_ = f.Close() // err says what went wrong
		}
		if err != nil {
			// The next Open removes them too.
			_ = db.fs.Remove(tmp)
			_ = db.fs.Remove(expTmp)
		}
	}()
	if err != nil {
		return err
	}
	if hook := db.testHookCheckpoint; hook != nil {
		hook(0)
	}
	wb := newWriteback(f, p.at)
	batch := make([]byte, 0, checkpointBatch*chunkSlots*int(unsafe.Sizeof(slot{})))
	var batchN []uint32
	chunks := uint32(len(p.meta.chunks))
	for next := uint32(0); ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(next+checkpointBatch, chunks)
		db.mu.RLock()
		err := db.checkpointLiveMuLocked(p)
		if err == nil {
			batch, batchN, err = p.copyChunksMuLocked(next, end, batch[:0], batchN[:0])
		}
		aside, asideN := p.aside, p.asideN
		p.aside, p.asideN = p.spare[:0], p.spareN[:0]
		db.mu.RUnlock()
		if err != nil {
			return err
		}
		size := chunkSlots * int(unsafe.Sizeof(slot{}))
		for i, n := range batchN {
			if err := p.write(n, batch[i*size:min((i+1)*size, len(batch))]); err != nil {
				return fmt.Errorf("kv: checkpoint: %w", err)
			}
		}
		for i, n := range asideN {
			if err := p.write(n, aside[i*size:min((i+1)*size, len(aside))]); err != nil {
				return fmt.Errorf("kv: checkpoint: %w", err)
			}
		}
		p.spare, p.spareN = aside, asideN
		if next == chunks {
			break // the last round took what writers had copied aside
		}
		next = end
		if err := wb.written(p.at + int64(next)*int64(size)); err != nil {
			return fmt.Errorf("kv: checkpoint: %w", err)
		}
		if hook := db.testHookCheckpoint; hook != nil {
			hook(int(next))
		}
	}
	db.mu.RLock()
	err = db.checkpointLiveMuLocked(p)
	p.x.ckpt = nil // every chunk is written: writers need not save any more
	db.mu.RUnlock()
	if err != nil {
		return err
	}
	return db.finishCheckpoint(p, f)
}

// copyChunksMuLocked appends the chunks in [from, to) that are not saved
// yet to batch, and their numbers to batchN, and marks them saved. The
// caller holds DB.mu shared.
func (p *checkpoint) copyChunksMuLocked(from, to uint32, batch []byte, batchN []uint32) ([]byte, []uint32, error) {
	for n := from; n < to; n++ {
		if p.isSaved(n) {
			continue
		}
		if p.x.chk.covers(p.table) && !p.x.chk.check(n*chunkSlots) {
			// A damaged chunk of the hint the table was loaded from:
			// the index is about to be replayed, and a new checksum
			// must not launder the damage.
			return batch, batchN, errCheckpointAbandoned
		}
		p.markSaved(n)
		batch = append(batch, p.chunk(n)...)
		batchN = append(batchN, n)
	}
	return batch, batchN, nil
}

// beginCheckpoint starts a checkpoint of the index into f: it notes what
// the hint will say, and has writers save chunks before they change them.
// It fails if the index cannot be written out now: while it grows (a hint
// is one table), when it is damaged, or when its expiry table is too
// large to copy at once.
func (db *DB) beginCheckpoint(f File) (*checkpoint, error) {
	// The buffers are made before mu is taken: zeroing them takes time.
	db.mu.RLock()
	n := len(db.mu.index.slots)
	db.mu.RUnlock()
	chunks := (n + chunkSlots - 1) / chunkSlots
	pend := min(checkpointPending, n*int(unsafe.Sizeof(slot{})))
	if db.ckptAside != 0 {
		pend = db.ckptAside
	}
	p := &checkpoint{
		f: f, at: slotsAt(uint64(n)),
		meta:  hintMeta{slots: uint64(n), chunks: make([]chunkSum, chunks)},
		saved: make([]uint64, (chunks+63)/64),
		aside: make([]byte, 0, pend),
		spare: make([]byte, 0, pend),
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	x, c := db.mu.index, db.mu.c
	switch {
	case x.old != nil || len(x.slots) != n:
		return nil, errCheckpointGrowth
	case db.mu.closed || x.bad.Load() || x.hdr.Version < 2 || db.mu.view.f == nil || x.ckpt != nil ||
		c.exp.len() > checkpointExpiriesMax:
		return nil, errCheckpointAbandoned
	}
	p.x, p.table = x, x.slots
	p.meta.keys, p.meta.covered, p.meta.live, p.meta.stale, p.meta.logID = uint64(x.count), c.size, c.live, c.stale, x.hdr.ID
	p.exp = db.encodeExpiries(c, x.hdr.ID)
	// Writers read x.ckpt holding mu exclusively; this shared hold keeps
	// them out until it is set, with nothing changed since c was read.
	x.ckpt = p
	return p, nil
}

// checkpointLiveMuLocked returns why p cannot go on, if it cannot. The
// caller holds mu.
func (db *DB) checkpointLiveMuLocked(p *checkpoint) error {
	switch {
	case p.err != nil:
		return fmt.Errorf("kv: checkpoint: %w", p.err)
	case p.grown:
		return errCheckpointGrowth
	case p.abandoned || db.mu.index != p.x || db.mu.closed:
		return errCheckpointAbandoned
	}
	return nil
}

// endCheckpoint stops writers from saving chunks for p.
func (db *DB) endCheckpoint(p *checkpoint) {
	db.mu.RLock()
	p.abandoned = true
	if p.x.ckpt == p {
		p.x.ckpt = nil
	}
	db.mu.RUnlock()
}

// finishCheckpoint completes the hint file f of p, whose slots are all
// written, and puts it and its sidecar in place.
func (db *DB) finishCheckpoint(p *checkpoint, f File) error {
	log := p.logFile(db)
	if log == nil {
		return errCheckpointAbandoned // the log was replaced meanwhile
	}
	tie, err := logTie(log, p.meta.covered)
	if err != nil {
		return errCheckpointAbandoned // closed by a compaction meanwhile
	}
	p.meta.tie = tie
	if _, err := f.WriteAt(p.meta.encode(), 0); err != nil {
		return fmt.Errorf("kv: checkpoint: %w", err)
	}
	err = f.Sync()
	// Closed before the rename, which some systems refuse for open files.
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	p.closed = true
	if err != nil {
		return fmt.Errorf("kv: checkpoint: %w", err)
	}
	expTmp := filepath.Join(db.dir, checkpointExpTemp)
	if err := db.writeExpiries(p.exp, expTmp); err != nil {
		return fmt.Errorf("kv: checkpoint: %w", err)
	}
	if db.opts.NoSync {
		// The hint must not describe records the disk may not have.
		if err := db.syncLogFor(p); err != nil {
			return err
		}
	}
	// The rename unlinks the hint it replaces, and the file system frees
	// its blocks then, unless the file is still open: it is, until wmu is
	// let go, and then it is cut a step at a time where nothing maps it
	// (see releaseOldHint). (Not where an open file cannot be renamed
	// over.)
	if renameOpenFiles {
		if old := openOldHint(db.fs, filepath.Join(db.dir, hintName)); old != nil {
			defer db.releaseOldHint(old)
		}
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	db.mu.RLock()
	err = db.checkpointLiveMuLocked(p)
	db.mu.RUnlock()
	db.cmu.Lock()
	if db.cmu.running != nil || db.cmu.closing { // cmu: a leaf
		// A compaction removes the hint before its swap, and writes one
		// of its own: this one must not come after it.
		err = errCheckpointAbandoned
	}
	db.cmu.Unlock()
	if err == nil && db.failed != nil {
		err = errCheckpointAbandoned
	}
	if err != nil {
		return err
	}
	// The sidecar first: see expiryhint.go.
	if err := db.fs.Rename(expTmp, filepath.Join(db.dir, hintName+expHintSuffix)); err != nil {
		return fmt.Errorf("kv: checkpoint: %w", err)
	}
	if db.testHookInstall != nil {
		db.testHookInstall()
	}
	if err := db.fs.Rename(filepath.Join(db.dir, checkpointTemp), filepath.Join(db.dir, hintName)); err != nil {
		return fmt.Errorf("kv: checkpoint: %w", err)
	}
	db.hintCovered = p.meta.covered
	return nil
}

// adoptCheckpoint finishes the install of a checkpoint that a crash cut
// short between its two renames (see finishCheckpoint): its sidecar is in
// place, and its hint, written, synced and closed, is still under its
// temporary name, while the hint in place pairs with no sidecar. Left so,
// the next Open would replay the whole log. So a writable Open, before it
// removes leftovers, renames that hint into place when the sidecar in
// place names the same log and length as its header: Open then checks it
// as any hint (its size, its tie to the log, its chunk table, each chunk
// as it is read). A hint still being written has a zero header (the
// header is written last), and the sidecar in place is then the old one:
// neither pairs. Read-only opens leave it: the writer that comes next
// does this, and a live writer may be writing the file.
func (db *DB) adoptCheckpoint() {
	tmp := filepath.Join(db.dir, checkpointTemp)
	f, err := db.fs.OpenFile(tmp, os.O_RDONLY, 0)
	if err != nil {
		return
	}
	head := make([]byte, hintMetaSize)
	_, err = f.ReadAt(head, 0)
	_ = f.Close() // read-only
	if err != nil {
		return
	}
	h, err := decodeHint(head)
	if err != nil {
		return
	}
	if _, err := db.loadExpiries(h.logID, h.covered, h.keys); err != nil {
		return
	}
	// If the rename fails, Open removes the file, and replays the log.
	_ = db.fs.Rename(tmp, filepath.Join(db.dir, hintName))
}

// openOldHint opens the hint at path, about to be replaced, for
// releaseOldHint to cut: for writing where it can, else for reading. It
// returns nil if there is none.
func openOldHint(fsys FS, path string) File {
	if f, err := fsys.OpenFile(path, os.O_RDWR, 0); err == nil {
		return f
	}
	if f, err := fsys.OpenFile(path, os.O_RDONLY, 0); err == nil {
		return f
	}
	return nil
}

// releaseOldHint closes old, a hint that a checkpoint has just replaced
// or a compaction removed (or that either failed to), outside wmu.
//
// Closing the last handle of an unlinked file frees its blocks at once,
// and every synced writer's next fdatasync waits for the journal commit
// that does it (see oldlog.go): writers beside checkpoints of a 128 MiB
// table each waited 44–49 ms there, once a checkpoint. So, where it can,
// it cuts the file from its end a freeStep at a time, syncing each cut,
// as a compaction does its old log. It can only once the file has no
// name (the rename or removal is done, and no hard link keeps it) and no
// reader maps it: every reader of a hint holds a shared flock on it for
// as long as its slots are mapped (DB.loadHint), this store's own index
// among them when it was loaded from that hint, and claimLog takes the
// exclusive one without waiting. A reader that opened the file just
// before it lost its name and locks it only after the claim finds it
// gone, and opens wal.hint again (reopenShared). The directory is synced
// first, so that no power loss brings back the name of a file being cut:
// a hint cut short would only cost a replay (its size no longer
// matches), but it is better not to.
func (db *DB) releaseOldHint(old File) {
	if got, _ := claimLog(old); got && db.fs.SyncDir(db.dir) == nil {
		db.cutStepwise(db.ctx, old)
	}
	_ = old.Close() // its error changes nothing: the file is gone
}

// retireHint releases f, the hint file that this store's index was loaded
// from, once the index has let go of its map (a growth's end, a
// compaction's swap, a rebuild, Close): beside the store, it cuts it a
// step at a time where it can (releaseOldHint), which it can only once a
// checkpoint, a compaction or Close has replaced or removed it and no
// other reader maps it. Closed whole instead, it would free the blocks of
// a table of hundreds of mebibytes in one journal commit that synced
// writers wait for. It runs wherever a table is unmapped, under any lock
// but cmu, a leaf, which it takes.
func (db *DB) retireHint(f File) {
	db.cmu.Lock()
	closing := db.cmu.closing
	if !closing {
		db.oldLogs.Add(1) // under cmu, before Close, which sets closing first, waits
	}
	db.cmu.Unlock()
	if closing {
		_ = f.Close() // Close frees what is left whole, as it always has
		return
	}
	go func() {
		defer db.oldLogs.Done()
		db.releaseOldHint(f)
	}()
}

// logFile returns the log p's hint describes, or nil once it is not the
// store's any more.
func (p *checkpoint) logFile(db *DB) File {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mu.index != p.x {
		return nil
	}
	return db.mu.view.f
}

// syncLogFor makes the log durable up to the end p covers, and further. A
// failed sync fails the store, as Sync's does: the kernel may have dropped
// the pages it could not write.
func (db *DB) syncLogFor(p *checkpoint) error {
	log := p.logFile(db)
	if log == nil {
		return errCheckpointAbandoned
	}
	err := db.syncNoSyncLog(log)
	if err == nil {
		return nil
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if log != db.mu.view.f || db.mu.closed {
		return errCheckpointAbandoned // a compaction closed it
	}
	if db.failed == nil {
		db.failed = err
	}
	return fmt.Errorf("kv: checkpoint: sync %s: %w", db.path, err)
}
