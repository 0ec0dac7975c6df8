package kv

import "time"

// observeCompaction reports, from outside, a compaction the writer runs:
// Started when its new log, wal.log.compact, appears; Progress as that file
// grows towards the live bytes of the log, which is about what it will
// hold; Finished when the log is replaced, with the sizes before and
// after; Failed when the file goes away and the log stays. A replacement of
// the log seen without its file (a compaction too quick to catch, or a
// repair) is reported as a compaction that started and finished.
//
// tmpSize is the size of wal.log.compact, or -1 when it is missing;
// switched says whether the log was replaced; before is the log as it
// was. The caller holds wmu.
func (db *DB) observeCompaction(tmpSize int64, switched bool, before counters) {
	o := &db.follow.outside
	switch {
	case switched:
		if !o.running {
			db.outsideStarted(before)
		}
		db.outsideFinished()
	case tmpSize >= 0 && !o.running:
		db.outsideStarted(before)
		db.outsideProgress(tmpSize)
	case tmpSize >= 0:
		db.outsideProgress(tmpSize)
	case o.running:
		db.outsideEnded(errOutsideCompaction)
		db.events.publish(CompactionEvent{Kind: CompactionFailed, Err: errOutsideCompaction})
	}
}

func (db *DB) outsideStarted(before counters) {
	o := &db.follow.outside
	o.running, o.start, o.before, o.done = true, time.Now(), before, 0
	o.total = before.size - before.stale // the header and the live records
	db.cmu.Lock()
	db.cmu.running = &compaction{done: make(chan struct{})}
	db.cmu.Unlock()
	db.events.publish(CompactionEvent{
		Kind: CompactionStarted, LogBytes: before.size, LiveBytes: before.live,
		StaleBytes: before.stale, Total: o.total,
	})
}

func (db *DB) outsideProgress(tmpSize int64) {
	o := &db.follow.outside
	// The file may be larger than what it holds (space reserved ahead of
	// the copy), and writes during the compaction add to it: cap the
	// figure so that Done never passes Total nor goes back.
	done := max(o.done, min(tmpSize, o.total))
	if done == o.done {
		return
	}
	o.done = done
	db.events.publish(CompactionEvent{Kind: CompactionProgress, Done: done, Total: o.total})
}

func (db *DB) outsideFinished() {
	o := &db.follow.outside
	took := time.Since(o.start)
	after, keys := db.mu.c, db.mu.index.count // only this goroutine changes them
	db.outsideEnded(nil)
	db.cmu.Lock()
	db.cmu.done++
	db.cmu.lastTook = took
	db.cmu.reclaimed += max(0, o.before.size-after.size)
	db.cmu.Unlock()
	db.events.publish(CompactionEvent{
		Kind: CompactionFinished, OldSize: o.before.size, NewSize: after.size,
		Duration: took, Kept: keys, Done: o.total, Total: o.total,
	})
}

// outsideEnded clears the running compaction, recording err as the last
// failure (nil after a success).
func (db *DB) outsideEnded(err error) {
	db.follow.outside.running = false
	db.cmu.Lock()
	if c := db.cmu.running; c != nil {
		c.err = err
		close(c.done)
	}
	db.cmu.running = nil
	db.cmu.lastFailure = err
	db.cmu.lastEnd = time.Now()
	db.cmu.Unlock()
}
