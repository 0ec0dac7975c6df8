package kv

import (
	"sync"
	"weak"
)

// A follower (or any reader) opening a live store cannot wait for its
// writer's Close to find a wal.order: a store that runs for weeks would
// have every reader that opens it sort all its keys. So the writer saves
// the order whenever it has a fresh run in hand — one it sorted for a
// scan, one it merged an overlay into, one a compaction sorted for its new
// log — in the background: a reader opening the store then loads that run
// and sorts only the overlay, the records appended since.
//
// The file is written by one goroutine at a time, outside wmu, sync.mu
// and mu, from the log's file handle (never its map, which may be
// replaced), to a temporary file renamed into place, as Close writes it.
// A save that a compaction overtakes writes a run for a log that is no
// longer the store's: its log ID ties it to the old log, so it is never
// loaded for the new one, and the new log's own save replaces it.
//
// The file must not describe records the disk may not have, as a hint
// must not (see checkpoint.go): a power loss would drop them and keep the
// file, and Open ties the file to its log only by the log's ID and the 4
// KiB before the end it covers, which records written after the reboot
// can reproduce over different ones. A synced store publishes a record
// once it is on disk, so every run it sorts is of durable records; a
// NoSync store's log is synced up to the run's end before its file is
// written (syncNoSyncLog, whose failure the store's next Sync, Close or
// write reports).

// orderSaver writes wal.order in the background.
type orderSaver struct {
	// mu guards the fields below. It is a leaf: taken with wmu, or
	// ord.build, or wmu and mu held, and nothing is taken under it.
	mu      sync.Mutex
	pending *orderSave // the newest run waiting to be written
	running bool       // a goroutine is writing pending runs
	closed  bool       // Close has begun: nothing more is written
	// done is waited on by Close for the goroutine to finish; added to
	// only under mu while closed is false.
	done sync.WaitGroup
	// saved counts the runs written, for tests.
	saved int
	// onDisk is the snapshot wal.order holds, loaded from it or written
	// to it, so that Close does not write the same run again. It is weak:
	// a snapshot the store has moved past, with its log's index, is not
	// kept for it.
	onDisk weak.Pointer[orderSnap]
}

// markOnDisk records that wal.order holds s.
func (sv *orderSaver) markOnDisk(s *orderSnap) {
	sv.mu.Lock()
	sv.onDisk = weak.Make(s)
	sv.mu.Unlock()
}

// holds reports whether wal.order holds s.
func (sv *orderSaver) holds(s *orderSnap) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.onDisk.Value() == s
}

// orderSave is a run to write, and the handle of the log it orders.
type orderSave struct {
	s   *orderSnap
	log File
}

// saveOrderInBackground has s, a snapshot with no overlay of the log log,
// written to wal.order by the background writer. It does nothing for a
// store opened read-only, or a log of format version 1.
func (db *DB) saveOrderInBackground(s *orderSnap, log File) {
	if db.opts.ReadOnly || log == nil || len(s.ovl) > 0 || s.idx.hdr.Version < 2 {
		return
	}
	sv := &db.ord.saver
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.closed {
		return
	}
	sv.pending = &orderSave{s: s, log: log}
	if sv.running {
		return
	}
	sv.running = true
	sv.done.Add(1)
	go db.writePendingOrders()
}

// writePendingOrders writes the pending runs, the newest each time, until
// none is left or Close begins.
func (db *DB) writePendingOrders() {
	sv := &db.ord.saver
	defer sv.done.Done()
	for {
		sv.mu.Lock()
		p := sv.pending
		sv.pending = nil
		if p == nil || sv.closed {
			sv.running = false
			sv.mu.Unlock()
			return
		}
		sv.mu.Unlock()
		// A run the store has moved past (another log) is not written
		// over the newer one's file.
		if cur := db.ord.cur.Load(); cur != nil && cur.idx != p.s.idx {
			continue
		}
		if db.opts.NoSync && db.syncNoSyncLog(p.log) != nil {
			continue
		}
		// A failure loses nothing: the next Open, or Close, sorts or
		// saves again. A log handle closed by a compaction meanwhile
		// fails the write here.
		if db.writeOrderFile(wholeRun(p.s.run), len(p.s.run), p.s.fence, p.s.runEnd, p.log, p.s.idx.hdr.ID) == nil {
			sv.mu.Lock()
			sv.saved++
			sv.onDisk = weak.Make(p.s)
			sv.mu.Unlock()
		}
	}
}

// stopOrderSaves stops the background writer and waits for the run it is
// writing, if any, so that Close writes the last wal.order and closes the
// log after it. The writer takes none of wmu, sync.mu and mu, which the
// caller may hold.
func (db *DB) stopOrderSaves() {
	sv := &db.ord.saver
	sv.mu.Lock()
	sv.closed = true
	sv.pending = nil
	sv.mu.Unlock()
	sv.done.Wait()
}

// waitOrderSaves waits until the background writer has written every run
// handed to it, and returns how many it has written since Open. Tests use
// it; it must not race with a new save.
func (db *DB) waitOrderSaves() int {
	sv := &db.ord.saver
	sv.done.Wait()
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.saved
}
