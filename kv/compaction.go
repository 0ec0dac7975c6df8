package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	select {
	case <-db.hintChecked:
	case <-ctx.Done():
		return ctx.Err()
	}
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
		Duration: took, Kept: res.Kept, Dropped: res.Dropped,
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
		tmp.Close()
		for _, name := range []string{tempName, hintNextName} {
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
	idx := newIndex(keys, hdr)
	live := func(key []byte, off int64) (bool, error) {
		db.mu.RLock()
		defer db.mu.RUnlock()
		s, ok, err := db.mu.index.get(key, db.viewLocked())
		return ok && int64(s.off) == off, err
	}
	moved := func(key []byte, off int64, size int) {
		idx.insertNew(idx.hash(key), off, size)
	}
	progress := func(done int64) {
		db.events.publish(CompactionEvent{Kind: CompactionProgress, Done: done, Total: end})
	}
	src := walfmt.NewReader(old, end, db.path)
	res, err := compact.Rewrite(ctx, io.NewOffsetWriter(tmp, 0), src, hdr, live, moved, progress)
	if err != nil {
		return swapResult{Result: res}, err
	}
	c := counters{size: res.Bytes, live: res.Bytes - walfmt.HeaderSize}
	// The new index is still private: write it as the new log's hint now,
	// outside every lock. A failure only costs the next Open a full replay.
	hinted := db.saveHint(idx, c, tmp, hintNextName) == nil
	return db.swap(tmp, old, idx, c, end, res, hinted)
}

// catchUpSlack is how much of the old log's tail may be left for the final
// swap, when writers are held out: the swap's pause depends on it, not on
// the size of the log or on how busy the writers were during the rewrite.
const catchUpSlack = 64 << 10

// maxCatchUpRounds bounds the copying that runs beside the writers.
const maxCatchUpRounds = 8

// swap copies what writers appended since the rewrite began, in rounds
// while they keep writing, then holds them out for the last few records,
// makes the new log durable and puts it in place of the old one.
func (db *DB) swap(tmp, old File, idx *index, c counters, end int64, res compact.Result, hinted bool) (swapResult, error) {
	fail := func(err error) (swapResult, error) { return swapResult{Result: res}, err }
	var tmpAlloc int64 // end of the space reserved in the new log
	// A few rounds: writers faster than the copy would otherwise keep it
	// running forever; then the lock stops them.
	for range maxCatchUpRounds {
		db.mu.RLock()
		size := db.mu.c.size
		db.mu.RUnlock()
		if size-end <= catchUpSlack {
			break
		}
		if err := copyTail(old, tmp, end, size, db.path, idx, &c); err != nil {
			return fail(err)
		}
		end = size
	}
	// Reserve room for the records still to come, and flush the bulk of
	// the new log, before writers are held out: the sync under the lock
	// then has only the last few records to write, and no file size to
	// change.
	if preallocate(tmp, c.size, 4*catchUpSlack) {
		tmpAlloc = c.size + 4*catchUpSlack
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	// The old log's hint goes before the rename, durably, so that no crash
	// and no file system that reorders directory operations can pair it
	// with the new log. Without it a crash costs the next Open a replay,
	// nothing more, so the writers need not wait for this.
	if err := removeHint(db.fs, db.dir); err != nil {
		return fail(err)
	}
	if err := db.fs.SyncDir(db.dir); err != nil {
		return fail(err)
	}
	db.wmu.Lock()
	out, replaced, err := db.swapLocked(tmp, old, idx, c, end, res, hinted, tmpAlloc)
	db.wmu.Unlock()
	db.releaseRetired()
	if replaced && err == nil && db.opts.NoSync {
		err = db.syncDirAfterSwap()
	}
	if replaced {
		// Closing the old log frees its blocks, which takes a while for a
		// large file: do it after the writers are let go.
		if cerr := old.Close(); err == nil {
			err = cerr
		}
	}
	return out, err
}

// swapLocked finishes the new log and renames it over the old one, holding
// the writers out. replaced reports whether the old log is out of use and
// still open.
func (db *DB) swapLocked(tmp, old File, idx *index, c counters, end int64, res compact.Result, hinted bool, tmpAlloc int64) (out swapResult, replaced bool, err error) {
	out = swapResult{Result: res}
	db.hintCovered = 0 // swap removed the hint
	if err := db.writableLocked(); err != nil {
		return out, false, err
	}
	if err := db.drainSyncs(); err != nil {
		return out, false, err
	}
	out.oldSize = db.mu.c.size
	if err := copyTail(old, tmp, end, out.oldSize, db.path, idx, &c); err != nil {
		return out, false, err
	}
	if err := tmp.Sync(); err != nil {
		return out, false, err
	}
	out.newSize = c.size
	if !renameOpenFiles {
		if err := db.swapClosed(tmp, old, idx, c); err != nil {
			return out, false, err
		}
		out.installed = true
		db.installHint(hinted, res.Bytes)
		return out, false, nil
	}
	if err := db.fs.Rename(filepath.Join(db.dir, tempName), db.path); err != nil {
		return out, false, err
	}
	// From here on wal.log is the new file: writers must go to it whatever
	// happens, or their records would land in an unlinked file.
	db.publishLog(tmp, idx, c)
	db.alloc = max(db.alloc, tmpAlloc) // the rest of the reserve is the new log's
	out.installed = true
	db.installHint(hinted, res.Bytes)
	// With sync on, the rename must be durable before any write to the new
	// log is acknowledged, or a power loss could bring back the old log
	// without it. NoSync writes promise only to survive the process, so
	// their writers need not wait: swap syncs the directory after letting
	// them go, before the compaction reports success.
	if !db.opts.NoSync {
		if err := db.fs.SyncDir(db.dir); err != nil {
			db.failed = fmt.Errorf("sync directory after compaction: %w", err)
			return out, true, db.failed
		}
	}
	return out, true, nil
}

// syncDirAfterSwap makes a NoSync compaction's rename durable, outside wmu.
// A failure fails the store as it would under the lock.
func (db *DB) syncDirAfterSwap() error {
	err := db.fs.SyncDir(db.dir)
	if err == nil {
		return nil
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	db.failed = fmt.Errorf("sync directory after compaction: %w", err)
	return db.failed
}

// swapClosed replaces the log where an open file cannot be renamed over
// (Windows): it closes both handles, renames, and reopens, with readers held
// out while no log is open. If the rename fails, the old log is reopened and
// stays in use.
func (db *DB) swapClosed(tmp, old File, idx *index, c counters) error {
	if err := tmp.Close(); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
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
	if renameErr != nil {
		return renameErr
	}
	db.mu.index, db.mu.c = idx, c
	db.setTailLocked(c.size)
	return nil
}

// installHint puts the hint written for the new log in place, once the
// log is. The caller holds wmu.
func (db *DB) installHint(hinted bool, covered int64) {
	if hinted && db.fs.Rename(filepath.Join(db.dir, hintNextName), filepath.Join(db.dir, hintName)) == nil {
		db.hintCovered = covered
	}
}

// publishLog makes the new log, index and counters the ones readers and
// writers use. The caller holds wmu, and no write waits for a sync.
func (db *DB) publishLog(f File, idx *index, c counters) {
	m := mapLog(f, c.size, !db.opts.ReadOnly)
	db.mu.Lock()
	db.retiredMap, db.retiredIdx = db.mu.view.m, db.mu.index
	db.mu.view = logView{f: f, m: m, end: c.size, path: db.path}
	db.mu.index, db.mu.c = idx, c
	db.mu.Unlock()
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
	m.unmap()
	x.close()
}

// setTailLocked moves the append position to a new log's end. The caller
// holds wmu, and has drained the syncs.
func (db *DB) setTailLocked(size int64) { db.tail, db.alloc = size, size }

// copyTail appends the records of old between from and to — the writes that
// arrived during the rewrite — to dst after c.size, and applies them to idx
// and c.
func copyTail(old, dst File, from, to int64, name string, idx *index, c *counters) error {
	r := walfmt.NewReader(old, to, name)
	r.StartAt(from)
	src := &logView{f: dst, path: name + ".compact"}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		off := c.size
		if _, err := dst.WriteAt(rec.Raw, off); err != nil {
			return err
		}
		if err := c.apply(idx, src, rec.Kind, rec.Key, off, rec.Size); err != nil {
			return err
		}
	}
}
