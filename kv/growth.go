package kv

import (
	"runtime"
	"time"
)

// A growth of the index (index.go) moves migrateStep slots of the old table
// with each write, and ends once every slot is passed. A store whose writes
// stop in the middle of one would keep both tables for as long as it stays
// idle: the old table's memory held, and every lookup that misses probing
// both (a read-random of absent keys ran at 0.73 of its pace with a
// growth left unfinished by the fill before it). So a goroutine watches
// each growth, and once a look finds that no write has moved it since the
// last, finishes it a batch at a time, each batch under an exclusive hold
// of mu of its own, while no write comes: a writer's or a follower's
// alike, and one a replay left at Open. It leaves the growth alone while a
// compaction runs, whose snapshot of the index would start again at every
// batch, and whose new index replaces this one; and it stops when the
// store closes (Close finishes a growth before it writes the hint).

const (
	// growthIdle is how often the helper looks whether writes have
	// moved the growth on since its last look.
	growthIdle = 2 * time.Millisecond
	// growthBatch is how many slots of the old table the helper moves
	// under one hold of mu: at most that many inserts into a table
	// faulted in ahead (see grow), tens of microseconds, well within
	// what a Get may wait for a write.
	growthBatch = 1024
)

// helpGrowthMuLocked starts the growth helper if the index is growing and
// no helper runs. The caller holds mu exclusively.
func (db *DB) helpGrowthMuLocked() {
	if x := db.mu.index; x == nil || x.old == nil || db.mu.closed || db.ctx == nil || db.growthHelper.Load() {
		return // (no ctx: Open has not finished; it looks once it has)
	}
	db.cmu.Lock()
	start := !db.cmu.closing
	if start {
		db.wg.Add(1) // under cmu, before Close, which sets closing first, waits
	}
	db.cmu.Unlock()
	if !start {
		return
	}
	db.growthHelper.Store(true)
	go func() {
		defer db.wg.Done()
		db.helpGrowth()
	}()
}

// helpGrowth looks at the growth every growthIdle, and finishes it once
// writes have stopped moving it. It returns when no growth is under way,
// having cleared growthHelper under mu, so that a publish that starts a
// growth later sees it clear and starts another helper; or when the store
// closes, whose Close finishes any growth before it writes the hint.
func (db *DB) helpGrowth() {
	t := time.NewTicker(growthIdle)
	defer t.Stop()
	last := -1
	for {
		select {
		case <-db.ctx.Done():
			return
		case <-t.C:
		}
		db.mu.RLock()
		x := db.mu.index
		growing, next := x != nil && x.old != nil && !db.mu.closed, -1
		if growing {
			next = x.next
		} else {
			db.growthHelper.Store(false)
		}
		db.mu.RUnlock()
		switch {
		case !growing:
			return
		case next != last:
			last = next // writes are moving it on
		case db.compacting():
			// A compaction takes its snapshot of the index's offsets a
			// piece at a time, and starts again whenever slots move
			// (see index.collect); its swap replaces the index anyway.
		default:
			last = db.migrateIdle(next)
		}
	}
}

// compacting reports whether a compaction is running.
func (db *DB) compacting() bool {
	db.cmu.Lock()
	defer db.cmu.Unlock()
	return db.cmu.running != nil
}

// migrateIdle moves the growth on a batch at a time, from next, as long as
// no write moves it meanwhile, and returns where it left it: -1 once it
// has ended.
func (db *DB) migrateIdle(next int) int {
	for {
		if db.ctx.Err() != nil {
			return -1 // Close finishes it where it writes a hint
		}
		db.lockMu()
		x := db.mu.index
		if db.mu.closed || x == nil || x.old == nil || x.next != next {
			n := -1
			if x != nil && x.old != nil {
				n = x.next
			}
			db.unlockMu()
			return n
		}
		x.migrateSlots(growthBatch)
		next = x.next
		ended := x.old == nil
		db.unlockMu()
		if ended {
			return -1
		}
		runtime.Gosched() // let the readers that waited for mu in first
	}
}
