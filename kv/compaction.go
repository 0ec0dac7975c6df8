package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// compaction is one run, shared by every caller that asks for it while it
// is in progress.
type compaction struct {
	done chan struct{}
	err  error
}

// Compact rewrites the live records into a new log that replaces the old
// one, and returns when that is done. If a compaction is already running,
// Compact waits for it and returns its result instead of starting a second.
// Readers are never blocked; writers wait only for the final swap.
//
// The new log holds the live records in the old one's order, or, in a
// store that keeps a key order (one that has been scanned), in key order,
// so that ordered scans of it read the file front to back.
func (db *DB) Compact() error {
	if db.opts.ReadOnly {
		return ErrReadOnly
	}
	c := db.startCompaction()
	if c == nil {
		return ErrClosed
	}
	<-c.done
	return c.err
}

// startCompaction returns the running compaction, starting one in the
// background if none runs. It returns nil once Close has begun.
func (db *DB) startCompaction() *compaction {
	db.cmu.Lock()
	defer db.cmu.Unlock()
	if db.cmu.closing {
		return nil
	}
	if c := db.cmu.running; c != nil {
		return c
	}
	c := &compaction{done: make(chan struct{})}
	db.cmu.running = c
	db.wg.Add(1)
	db.compactPos.Store(0)
	go func() {
		defer db.wg.Done()
		c.err = db.compact(db.ctx)
		db.cmu.Lock()
		db.cmu.running = nil
		db.cmu.lastFailure = c.err
		db.cmu.lastEnd = time.Now()
		db.cmu.Unlock()
		close(c.done)
	}()
	return c
}

// compact runs one compaction and publishes its events.
func (db *DB) compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// At most one replaced log is held: a compaction that follows another
	// closely waits for the last one's to be freed (see swap), which waits
	// a second at most for followers. Only compactions add to oldLogs, one
	// at a time, so this Wait never runs beside an Add from zero.
	db.oldLogs.Wait()
	start := time.Now()
	db.wmu.Lock()
	if err := db.writableLocked(); err != nil {
		db.wmu.Unlock()
		return err
	}
	db.mu.RLock()
	before := db.mu.c
	keys := db.mu.index.count
	db.mu.RUnlock()
	db.wmu.Unlock()

	db.events.publish(CompactionEvent{
		Kind: CompactionStarted, LogBytes: before.size, LiveBytes: before.live,
		StaleBytes: before.stale, Total: before.size,
	})
	res, err := db.rewrite(ctx, before.size, keys)
	if err != nil {
		db.events.publish(CompactionEvent{Kind: CompactionFailed, Err: err})
		return err
	}
	took := time.Since(start)
	db.cmu.Lock()
	db.cmu.done++
	db.cmu.lastTook = took
	db.cmu.reclaimed += res.oldSize - res.newSize
	db.cmu.Unlock()
	db.events.publish(CompactionEvent{
		Kind: CompactionFinished, OldSize: res.oldSize, NewSize: res.newSize,
		Duration: took, Held: res.held, Kept: res.Kept, Dropped: res.Dropped,
		Done: before.size, Total: before.size,
	})
	return nil
}

// swapResult is what a finished rewrite reports.
type swapResult struct {
	compact.Result
	oldSize, newSize int64
	// installed is true once the new log is the store's log, even if a
	// later step failed: its file must then stay open and in place.
	installed bool
	// held is how long the swap held wmu, the writers' lock.
	held time.Duration
}

// rewrite copies the live records of the first end bytes of the log into a
// temporary file, then swaps it in. Until the swap, readers and writers use
// the old log; a failure leaves it in place and removes the temporary file.
func (db *DB) rewrite(ctx context.Context, end int64, keys int) (swapResult, error) {
	tmpPath := filepath.Join(db.dir, tempName)
	tmp, err := db.fs.OpenFile(tmpPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return swapResult{}, fmt.Errorf("kv: compact: create %s: %w", tmpPath, err)
	}
	res, err := db.rewriteInto(ctx, tmp, end, keys)
	if err != nil && !res.installed {
		// Key order: see order.go.
		db.dropCompactionOrder()
		_ = tmp.Close() // the file is removed just below; its contents do not matter
		for _, name := range []string{tempName, hintNextName, hintNextName + expHintSuffix} {
			if rerr := db.fs.Remove(filepath.Join(db.dir, name)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("kv: compact: %w", err)
	}
	return res, nil
}

func (db *DB) rewriteInto(ctx context.Context, tmp File, end int64, keys int) (swapResult, error) {
	old := db.mu.view.f           // only a compaction or Close replaces it, and Close waits for us
	hdr := walfmt.NewFileHeader() // the new log's: a new ID and hash key
	// The new index is built once the copy is done, from the slots
	// gathered here (see newIndexOf), in the arena that holds the
	// compaction's other arrays until then (see compactArena).
	hasher := newIndex(0, hdr)
	arena := newCompactArena(keys)
	defer arena.free()
	// es holds the new log's offsets, or, for a catch-up that collects
	// (see tailCollect), the old log's, where their deaths are marked; the
	// new ones are in order, in the same order. It is held outside the Go
	// heap (see scratchArray), until the new index is built.
	es, esMem := scratchArray[slot](keys)
	es = es[:0]
	// order is the new log's records, for its key order (order.go), where
	// the store keeps one, and for a collection (the new offsets of es).
	// Where only the collection reads it, it is held outside the Go heap
	// too, in orderMem, and freed with es.
	var order []uint64
	var orderMem []byte
	freeEs := func() {
		// Nothing reads es once the index is built, or the rewrite
		// failed, nor order if it is in orderMem; an unmap fails only as
		// mapping.unmap can, harmlessly.
		_ = unmapSlots(esMem)
		es, esMem = nil, nil
		if orderMem != nil {
			_ = unmapSlots(orderMem)
			order, orderMem = nil, nil
		}
	}
	defer freeEs()
	collect := false
	exp, liveMeta := db.expiryCopier()
	// A copy in key order checks that it is one: the new log's order is
	// then not sorted again.
	var prevKey []byte
	inKeyOrder, sorted := false, true
	moved := func(key []byte, from, off int64, size int) {
		at := off
		if collect {
			at = from
		}
		es = append(es, slot{off: uint64(at), hash: hasher.hash(key), size: uint32(size)})
		if order != nil {
			order = append(order, uint64(off))
		}
		exp.moved(off, size)
		if inKeyOrder && sorted {
			sorted = len(es) == 1 || bytes.Compare(prevKey, key) < 0
			prevKey = append(prevKey[:0], key...)
		}
	}
	progress := func(done int64) {
		db.compactPos.Store(done)
		db.events.publish(CompactionEvent{Kind: CompactionProgress, Done: done, Total: end})
	}
	// The store's key order, if it keeps one; end moves up to the end it
	// describes, if that is later (see compactionOrder).
	ord := db.compactionOrder(&end)
	keepOrder := ord != nil || db.ord.cur.Load() != nil
	// Records that die from here on are marked, for the copy to leave out;
	// the marks start before the snapshot, so none is missed.
	dead := db.watchDeaths(end, keys)
	defer db.unwatchDeaths(dead)
	snap, err := db.snapshotLive(end, keys, arena)
	if err != nil {
		return swapResult{}, err
	}
	// Records that expire or are stored encoded carry what the new log's
	// expiry table needs: look each live one up (liveMeta also leaves out
	// the expired and the dead).
	var keep compact.Live
	if dead != nil {
		keep = dead.live
	}
	if db.hasRecordMeta() {
		keep = liveMeta
	} else {
		collect = dead != nil
	}
	switch {
	case keepOrder:
		order = make([]uint64, 0, keys)
	case collect:
		// Written whole, from end to end, and read by the index build
		// alone: from the arena, or a map faulted in at once, where a
		// heap slice's pages faulted in one at a time as the copy reached
		// them (a tenth of a compaction of small records on a virtual
		// machine).
		if order = arena.newOffsets(); order == nil {
			order, orderMem = scratchArray[uint64](keys)
			order = order[:0]
		}
	}
	// The new log goes to the disk as it is written (see writeback).
	wb := newWriteback(tmp, 0)
	dst := &pacedWriter{w: tmp, wb: wb}
	var res compact.Result
	live, m := db.keyOrderedLive(ord, end, snap)
	inKeyOrder = live != nil
	if inKeyOrder {
		start := snap.start
		snap.release() // the copy needs only live
		res, err = db.copyInKeyOrder(ctx, dst, m, live, start, end, hdr, keep, moved, progress)
	} else if snap.complete {
		// The snapshot names every live record: copy them in large reads
		// and writes, leaving the stretches of dead ones unread.
		src := compact.Source{R: old, Name: db.path, Start: snap.start, End: end, Live: snap.offs}
		res, err = compact.Copy(ctx, dst, src, hdr, keep, moved, progress)
	} else {
		live := snap.live
		if keep != nil {
			live = func(key []byte, off int64) (bool, error) {
				if ok, err := snap.live(key, off); err != nil || !ok {
					return false, err
				}
				return keep(key, off)
			}
		}
		res, err = compact.Rewrite(ctx, dst, walfmt.NewReader(old, end, db.path), hdr, live, moved, progress)
	}
	snap.release()
	if err != nil {
		return swapResult{Result: res}, err
	}
	if db.testHookCopied != nil {
		db.testHookCopied()
	}
	// The copy is on its way to the disk; the sync that makes it durable
	// waits for the disk, not the processor, so it runs beside the
	// catch-up and the index build, which need only the processor.
	flushed := syncBeside(tmp)
	// The goroutine ends before the file is let go; its error is taken
	// below, or the compaction has failed already.
	defer func() { _ = flushed() }()
	c := counters{size: res.Bytes, live: res.Bytes - walfmt.HeaderSize, exp: exp.table}
	var tc *tailCopy
	if collect {
		// Copy what the writers appended meanwhile, and build the index
		// of all of it at once (see tailCollect).
		tc = newTailCopy(db, tmp, hdr, nil, newTailCollect(es, order, dead, hasher, arena), &c, wb)
		if end, err = db.catchUp(ctx, tc, end); err != nil {
			tc.close()
			return swapResult{Result: res}, err
		}
	} else {
		tc = newTailCopy(db, tmp, hdr, newIndexOf(es, hdr, arena), nil, &c, wb)
	}
	defer tc.close()
	idx, err := tc.index()
	freeEs()
	arena.free()     // if it is not the new table, nothing reads it any more
	var hinted int64 // the log bytes the new hint covers; 0: none
	if err == nil {
		// The key order and the hint are written while the new log's
		// sync runs: they need the processor and a few mebibytes of
		// disk, it waits for the disk. Neither is used before the swap,
		// which comes after the sync; a compaction that fails removes
		// them.
		hinted = db.writeSidecars(tmp, idx, c, res, order, keepOrder, inKeyOrder && sorted)
	}
	if ferr := flushed(); err == nil {
		// A failed sync fails the compaction, though later syncs may
		// succeed: the pages it could not write may be lost.
		err = ferr
	}
	if err != nil {
		return swapResult{Result: res}, err
	}
	return db.swap(ctx, tc, tmp, old, idx, end, res, hinted)
}

// writeSidecars writes the new log's key order, where the store keeps
// one, and its hint, and returns the log bytes the hint covers, 0 if it
// wrote none. order lists the copy's records in the new log, if keepOrder;
// ordered says they are in key order already.
func (db *DB) writeSidecars(tmp File, idx *index, c counters, res compact.Result, order []uint64, keepOrder, ordered bool) int64 {
	if !keepOrder && db.ord.cur.Load() != nil {
		// The store's first scan came after the copy began: list the
		// rewrite's records from the new index, for orderForCompaction to
		// sort by key.
		order = make([]uint64, 0, idx.count)
		listed := idx.each(func(s slot) bool {
			if int64(s.off) < res.Bytes {
				order = append(order, s.off)
			}
			return true
		})
		keepOrder, ordered = listed == nil, false
	}
	if keepOrder {
		db.orderForCompaction(tmp, idx, res.Bytes, order, ordered) // key order: outside every lock
	}
	// The new index is still private: write it as the new log's hint now,
	// outside every lock. A failure only costs the next Open a full replay.
	// A small log replays in a few milliseconds, less than writing and
	// syncing a hint costs: the frequent compactions of a small, busy
	// store skip it, and Close writes one. So does a compaction that a
	// Close waits for: Close writes the hint of the log as it leaves it.
	if c.size >= minCompactionHint && !db.closing() && db.saveHint(idx, c, tmp, hintNextName) == nil {
		return c.size
	}
	return 0
}

// syncBeside starts f.Sync on a goroutine of its own and returns the
// function that waits for it and returns its result, as often as it is
// called.
func syncBeside(f File) func() error {
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = f.Sync()
	}()
	return func() error {
		<-done
		return err
	}
}

// live reports whether the record at off in the log is key's current
// value, and has not expired: a compaction copies only those.
func (db *DB) live(key []byte, off int64) (bool, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s, ok, err := db.lookupMuLocked(key)
	return ok && int64(s.off) == off && !db.expiredMuLocked(s.off), err
}

// current reports whether the record at off in the log is key's current
// record, expired or not.
func (db *DB) current(key []byte, off int64) (bool, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s, ok, err := db.lookupMuLocked(key)
	return ok && int64(s.off) == off, err
}

// hasRecordMeta reports whether any live record expires or is stored
// encoded, so that a compaction must carry an entry of the expiry table
// over for it. Records published after a compaction has taken its
// snapshot are past its end, and its tail copy's concern.
func (db *DB) hasRecordMeta() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	e := db.mu.c.exp
	return e != nil && (e.expiring > 0 || e.encoded > 0)
}

// minCompactionHint is the smallest new log a compaction writes a hint for.
const minCompactionHint = 4 << 20

// catchUpSlack is how much of the old log's tail may be left for the final
// swap, when writers are held out: the swap's pause depends on it, not on
// the size of the log or on how busy the writers were during the rewrite.
const catchUpSlack = 64 << 10

// maxCatchUpRounds bounds the copying that runs beside the writers.
const maxCatchUpRounds = 8

// swap copies with tc what writers appended since the rewrite began, in
// rounds while they keep writing, then holds them out for the last few
// records, makes the new log durable and puts it in place of the old one.
// hinted is the log bytes the new log's hint covers, 0 if it has none.
func (db *DB) swap(ctx context.Context, tc *tailCopy, tmp, old File, idx *index, end int64, res compact.Result, hinted int64) (swapResult, error) {
	fail := func(err error) (swapResult, error) { return swapResult{Result: res}, err }
	var tmpAlloc int64 // end of the space reserved in the new log
	end, err := db.catchUp(ctx, tc, end)
	if err != nil {
		return fail(err)
	}
	// Reserve room for the records still to come, and flush the bulk of
	// the new log, before writers are held out: the sync under the lock
	// then has only the last few records to write, and no file size to
	// change.
	if size := tc.c.size; preallocate(tmp, size, 4*catchUpSlack) {
		tmpAlloc = size + 4*catchUpSlack
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	// The old log's hint goes before the rename, durably, so that no crash
	// and no file system that reorders directory operations can pair it
	// with the new log. Without it a crash costs the next Open a replay,
	// nothing more, so the writers need not wait for this. Its blocks are
	// freed a step at a time once nothing maps it (see releaseOldHint),
	// where an open file can be removed.
	var oldHint File
	if renameOpenFiles {
		oldHint = openOldHint(db.fs, filepath.Join(db.dir, hintName))
	}
	err = removeHint(db.fs, db.dir)
	db.wmu.Lock()
	db.hintCovered = 0 // whatever follows, Close must write a hint again
	db.wmu.Unlock()
	if err == nil {
		err = db.fs.SyncDir(db.dir)
	}
	if oldHint != nil {
		if err != nil {
			_ = oldHint.Close() // the compaction fails: a replay covers whatever the hint's state
		} else {
			db.oldLogs.Go(func() { db.releaseOldHint(oldHint) }) // Close waits for it
		}
	}
	if err != nil {
		return fail(err)
	}
	// Catch up again with what arrived during the syncs, so that the copy
	// under the lock stays small however long they took.
	if end, err = db.catchUp(ctx, tc, end); err != nil {
		return fail(err)
	}
	db.wmu.Lock()
	locked := time.Now()
	out, replaced, renamed, err := db.swapLocked(ctx, tc, tmp, old, idx, end, res, hinted, tmpAlloc)
	out.held = time.Since(locked)
	db.wmu.Unlock()
	db.releaseRetired()
	if replaced && err == nil && db.opts.NoSync {
		err = db.syncDirAfterSwap(renamed)
	}
	if replaced {
		// The old log is no longer the store's. Freeing its blocks takes
		// tens of milliseconds for a large file, in steps, after readers
		// in other processes have moved to the new log (see oldlog.go):
		// it is done beside what follows, not before the compaction
		// reports, as a file system frees a large deleted file. Close
		// waits for it; once Close has begun, the file is closed whole,
		// beside Close's own work. A failure to close a file that is no
		// longer the store's changes nothing.
		durable, hook := err == nil, db.testHookOldLog
		db.oldLogs.Go(func() {
			if hook != nil {
				hook()
			}
			_ = db.releaseOldLog(db.ctx, old, durable)
		})
	}
	return out, err
}

// catchUp copies, in rounds beside the writers, what they appended to the
// old log after end, and returns where the copy stopped. Each round copies
// the backlog found at its start; a round ends early when ctx is done.
//
// The rounds stop once the backlog is small enough for the final copy
// under wmu, or as soon as it no longer shrinks from one round to the next:
// the writers then append at least as fast as the copy runs, and more
// rounds would only let the backlog grow. The final copy then holds the
// writers out for about one round's backlog at most, a bounded pause,
// where rounds that chased them could run on forever. Slowing every writer
// down while a compaction runs (back-pressure) would bound that pause more
// tightly, but would tax every write of every compaction for the sake of
// the rare one that cannot catch up. It is rare: a copy scans the old log
// in large reads, and writes only the records still live, in large writes,
// while each write pays for its own lock, encoding and index update, so the
// copy outruns even a writer that never pauses, and the rounds converge.
func (db *DB) catchUp(ctx context.Context, tc *tailCopy, end int64) (int64, error) {
	prev := int64(math.MaxInt64)
	for range maxCatchUpRounds {
		if err := ctx.Err(); err != nil {
			return end, err
		}
		db.mu.RLock()
		size := db.mu.c.size
		db.mu.RUnlock()
		backlog := size - end
		if backlog <= catchUpSlack || backlog >= prev {
			break
		}
		if err := tc.copy(ctx, end, size); err != nil {
			return end, err
		}
		end, prev = size, backlog
		db.compactPos.Store(end)
	}
	return end, nil
}

// compactionNearlyDone reports whether the running compaction has at most
// the policy's FinishOnClose of the log left to read: what the rewrite has
// not reached, and what writers appended since it began.
func (db *DB) compactionNearlyDone() bool {
	limit := db.opts.Compaction.FinishOnClose
	if limit < 0 {
		return false
	}
	db.mu.RLock()
	size := db.mu.c.size
	db.mu.RUnlock()
	return size-db.compactPos.Load() <= limit
}

// swapLocked finishes the new log and renames it over the old one, holding
// the writers out. replaced reports whether the old log is out of use and
// still open.
func (db *DB) swapLocked(ctx context.Context, tc *tailCopy, tmp, old File, idx *index, end int64, res compact.Result, hinted int64, tmpAlloc int64) (out swapResult, replaced bool, renamed uint64, err error) {
	out = swapResult{Result: res}
	db.hintCovered = 0 // swap removed the hint
	if err := db.writableLocked(); err != nil {
		return out, false, 0, err
	}
	if err := db.drainSyncs(); err != nil {
		return out, false, 0, err
	}
	out.oldSize = db.mu.c.size
	if err := tc.copy(ctx, end, out.oldSize); err != nil {
		return out, false, 0, err
	}
	if err := tmp.Sync(); err != nil {
		return out, false, 0, err
	}
	c := *tc.c
	out.newSize = c.size
	if !renameOpenFiles {
		if err := db.swapClosed(tmp, old, idx, c); err != nil {
			return out, false, 0, err
		}
		out.installed = true
		db.installHint(hinted)
		return out, false, 0, nil
	}
	if err := db.fs.Rename(filepath.Join(db.dir, tempName), db.path); err != nil {
		return out, false, 0, err
	}
	db.renames++
	// From here on wal.log is the new file: writers must go to it whatever
	// happens, or their records would land in an unlinked file.
	db.publishLog(tmp, idx, c)
	db.alloc = max(db.alloc, tmpAlloc) // the rest of the reserve is the new log's
	out.installed = true
	db.installHint(hinted)
	// With sync on, the rename must be durable before any write to the new
	// log is acknowledged, or a power loss could bring back the old log
	// without it. NoSync writes promise only to survive the process, so
	// their writers need not wait: swap syncs the directory after letting
	// them go, before the compaction reports success, and a Sync or Close
	// in between syncs it first (see syncNoSyncLocked).
	if !db.opts.NoSync {
		if err := db.fs.SyncDir(db.dir); err != nil {
			db.failed = fmt.Errorf("sync directory after compaction: %w", err)
			return out, true, db.renames, db.failed
		}
		db.dirSynced = db.renames
	}
	return out, true, db.renames, nil
}

// syncDirAfterSwap makes a NoSync compaction's rename, the renamed-th,
// durable, outside wmu. A failure fails the store as it would under the
// lock.
func (db *DB) syncDirAfterSwap(renamed uint64) error {
	err := db.fs.SyncDir(db.dir)
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if err != nil {
		db.failed = fmt.Errorf("sync directory after compaction: %w", err)
		return db.failed
	}
	// Only what this sync covered: a later rename may be waiting too.
	db.dirSynced = max(db.dirSynced, renamed)
	return nil
}

// swapClosed replaces the log where an open file cannot be renamed over
// (Windows): it closes both handles, renames, and reopens, with readers held
// out while no log is open. If the rename fails, the old log is reopened and
// stays in use.
func (db *DB) swapClosed(tmp, old File, idx *index, c counters) error {
	if err := tmp.Close(); err != nil {
		return err
	}
	// A failed sync beside the writers is kept for the handle it struck
	// (logsync.go): the handle opened here takes over those of the closed
	// one whose file it opens. After mu, which readers need, is let go:
	// that waits for a sync in progress.
	var closed, opened File
	defer func() {
		if opened != nil {
			db.logSync.reopened(closed, opened)
		}
	}()
	db.lockMu()
	defer db.unlockMu()
	if err := old.Close(); err != nil {
		return err
	}
	renameErr := db.fs.Rename(filepath.Join(db.dir, tempName), db.path)
	f, err := db.fs.OpenFile(db.path, os.O_RDWR, 0o644)
	if err != nil {
		db.failed = fmt.Errorf("reopen log after compaction: %w", err)
		return errors.Join(renameErr, db.failed)
	}
	db.mu.view.f = f
	closed, opened = tmp, f
	if renameErr != nil {
		closed = old
		return renameErr
	}
	db.mu.index, db.mu.c = idx, c
	db.mu.ckptAt = c.size
	db.installOrderLocked(idx) // key order: see order.go
	db.setTailLocked(c.size)
	return nil
}

// installHint puts the hint written for the new log in place, once the
// log is. The caller holds wmu.
func (db *DB) installHint(covered int64) {
	if covered == 0 {
		return
	}
	db.installExpiries() // first: see expiryhint.go
	if db.fs.Rename(filepath.Join(db.dir, hintNextName), filepath.Join(db.dir, hintName)) == nil {
		db.hintCovered = covered
	}
}

// publishLog makes the new log, index and counters the ones readers and
// writers use. The caller holds wmu, and no write waits for a sync.
func (db *DB) publishLog(f File, idx *index, c counters) {
	m := mapLog(f, c.size, !db.opts.ReadOnly)
	db.lockMu()
	db.retiredMap, db.retiredIdx = db.mu.view.m, db.mu.index
	db.mu.view = logView{f: f, m: m, end: c.size, path: db.path}
	db.mu.index, db.mu.c = idx, c
	db.mu.ckptAt = c.size
	db.unlockMu()
	db.installOrderLocked(idx) // key order: see order.go
	db.setTailLocked(c.size)
}

// releaseRetired unmaps the old log's map and the old index once the
// writers are let go: tearing down a large map takes milliseconds. No
// reader can hold them: every reader took mu after the swap.
func (db *DB) releaseRetired() {
	db.wmu.Lock()
	m, x := db.retiredMap, db.retiredIdx
	db.retiredMap, db.retiredIdx = nil, nil
	db.wmu.Unlock()
	// The compaction has succeeded whatever these say: see mapping.unmap.
	_ = m.unmap()
	_ = x.close()
}

// setTailLocked moves the append position to a new log's end. The caller
// holds wmu, and has drained the syncs.
func (db *DB) setTailLocked(size int64) { db.tail, db.alloc, db.zeroed = size, size, size }

// copyChunk is how many bytes of records a tail copy gathers before it
// writes them to the new log in one call, and how many bytes of the old log
// it scans between two checks for cancellation.
const copyChunk = 1 << 20

// tailCopy appends to a compaction's new log the records writers added to
// the old one after the rewrite began and that are still live, and applies
// them to the new index and counters. It reads the old log through its
// memory map and writes the new one a chunk at a time, and it compares keys
// in the new log through a read-only map of it: a copy that paid a system
// call per record would run slower than NoSync writers append, and never
// catch up with them. Only the compaction that made it uses it.
type tailCopy struct {
	db  *DB
	dst File // the new log
	hdr walfmt.FileHeader
	// idx is the new log's index, once there is one: while col collects
	// the records to build it from, nil.
	idx *index
	col *tailCollect
	c   *counters // the new log's accounting; c.size is where the copy appends
	// view reads keys of the new log for the index's comparisons: through
	// its map where there is one, below end, the bytes written so far.
	view logView
	out  []byte       // records gathered for the next write
	recs []pendingRec // the records in out, to apply once written
	wb   *writeback   // the new log's write-out, paced as the copy goes
}

// pendingRec is a record gathered in a tailCopy's buffer.
type pendingRec struct {
	kind   walfmt.Kind
	key    int // offset of the key in the buffer
	keyLen int
	size   int
	meta   recMeta
}

// newTailCopy returns the catch-up of a compaction whose new log dst,
// with header hdr, has the accounting c so far. Its index is idx, or, if
// col is not nil, built from what col collects (see tailCollect).
func newTailCopy(db *DB, dst File, hdr walfmt.FileHeader, idx *index, col *tailCollect, c *counters, wb *writeback) *tailCopy {
	return &tailCopy{
		db: db, dst: dst, hdr: hdr, idx: idx, col: col, c: c, wb: wb,
		out:  make([]byte, 0, copyChunk+copyChunk/4),
		view: logView{f: dst, m: mapLog(dst, c.size, false), end: c.size, path: filepath.Join(db.dir, tempName)},
	}
}

// index returns the new log's index, building it from the records
// collected so far if it has not been built: the records that follow are
// then applied to it one by one.
func (t *tailCopy) index() (*index, error) {
	if t.col == nil {
		return t.idx, nil
	}
	if err := t.write(); err != nil {
		return nil, err
	}
	idx, live, err := t.col.build(t.hdr, &t.view)
	if err != nil {
		return nil, err
	}
	t.col, t.idx = nil, idx
	t.c.live = live
	t.c.stale = t.c.size - walfmt.HeaderSize - live
	return idx, nil
}

// close releases the new log's read-only map, and what a collection that
// never built its index holds.
func (t *tailCopy) close() {
	_ = t.view.m.unmap() // harmless: see mapping.unmap
	t.view.m = nil
	if t.col != nil {
		t.col.release()
		t.col = nil
	}
}

// copy appends the records of the old log between from and to, record
// boundaries below its published end. It stops with ctx's error within a
// chunk of the old log.
func (t *tailCopy) copy(ctx context.Context, from, to int64) error {
	r := walfmt.NewReader(publishedLog{t.db}, to, t.db.path)
	r.StartAt(from)
	checked := from
	y := compact.NewYielder() // as compact.Copy yields, and for its reason
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return t.flush(ctx)
		}
		if err != nil {
			return err
		}
		// Like a rewrite, yield the processor now and then, and notice a
		// cancellation even where every record is dropped.
		done := r.Offset()
		y.Scanned(done)
		if done-checked >= copyChunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			checked = done
		}
		if rec.Kind == walfmt.KindBatch {
			err = walfmt.ForEachOp(rec, t.add)
		} else {
			err = t.add(rec)
		}
		if err != nil {
			return err
		}
		if len(t.out) >= copyChunk {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// add gathers rec, a put or a delete, for the new log if it is still
// live. An operation of a batch is gathered as a plain record, as the
// rewrite copies it (see compact.Rewrite): the batch is committed and
// durable in the old log, and the new log is synced whole before it takes
// the old one's place, so no crash can separate its operations.
func (t *tailCopy) add(rec walfmt.Record) error {
	if t.col != nil && metaOf(rec).any() {
		// The expiry table follows replacements one at a time: build the
		// index now, and apply this record and the rest to it.
		if _, err := t.index(); err != nil {
			return err
		}
	}
	if t.col != nil {
		copied, known := t.col.alive(rec.Kind, rec.Offset)
		if known && !copied {
			return nil
		}
		if known {
			return t.gather(rec)
		}
	}
	if rec.Kind == walfmt.KindPut {
		// A put overwritten or deleted since is dropped, as the
		// rewrite drops it: its successor is published, so it is in
		// this copy or a later one. One that has expired is copied all
		// the same: the rewrite may have copied the key's older record,
		// which it must go on hiding. Tombstones are all copied, which
		// is simpler than proving that the new log has nothing for
		// them to shadow; the next compaction drops them.
		current, err := t.db.current(rec.Key, rec.Offset)
		if err != nil || !current {
			return err
		}
	}
	return t.gather(rec)
}

// gather adds rec to the records for the next write.
func (t *tailCopy) gather(rec walfmt.Record) error {
	start := len(t.out)
	switch {
	case rec.Flags&walfmt.FlagBatchOp == 0:
		t.out = append(t.out, rec.Raw...)
	case rec.Kind == walfmt.KindPut:
		t.out = walfmt.AppendPlain(t.out, rec)
	default:
		t.out = walfmt.AppendDelete(t.out, rec.Key)
	}
	size := len(t.out) - start
	t.recs = append(t.recs, pendingRec{
		kind: rec.Kind, key: start + size - len(rec.Value) - len(rec.Key),
		keyLen: len(rec.Key), size: size, meta: metaOf(rec),
	})
	return nil
}

// flush writes the gathered records at the end of the new log and applies
// them to its index and counters.
func (t *tailCopy) flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.write()
}

// write writes the gathered records at the end of the new log, and
// collects them, or applies them to its index and counters.
func (t *tailCopy) write() error {
	if len(t.out) == 0 {
		return nil
	}
	off := t.c.size
	if _, err := t.dst.WriteAt(t.out, off); err != nil {
		return err
	}
	end := off + int64(len(t.out))
	if err := t.wb.written(end); err != nil {
		return err
	}
	if t.view.m != nil && end > int64(len(t.view.m.data)) {
		_ = t.view.m.unmap() // harmless: see mapping.unmap
		t.view.m = mapLog(t.dst, end, false)
	}
	t.view.end = end
	for _, p := range t.recs {
		key := t.out[p.key : p.key+p.keyLen]
		if t.col != nil {
			t.col.add(p.kind, key, off, p.size)
			t.c.size = off + int64(p.size)
		} else if err := t.c.apply(t.idx, &t.view, p.kind, key, off, p.size, p.meta); err != nil {
			return err
		}
		off += int64(p.size)
	}
	t.out, t.recs = t.out[:0], t.recs[:0]
	return nil
}

// publishedLog reads the store's log below its published end: from the
// memory map where there is one, without a system call, else with ReadAt.
// It holds mu shared for each read, as the map may be replaced by a larger
// one.
type publishedLog struct{ db *DB }

func (p publishedLog) ReadAt(b []byte, off int64) (int, error) {
	p.db.mu.RLock()
	defer p.db.mu.RUnlock()
	return p.db.viewMuLocked().readAt(b, off)
}
