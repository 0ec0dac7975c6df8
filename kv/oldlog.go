package kv

import (
	"cmp"
	"context"
	"errors"
	"time"
)

// Releasing a log a compaction replaced.
//
// Closing the last handle of a large unlinked file frees all its blocks at
// once, and ext4 (with the discard mount option above all) does that in the
// journal commit that the next fdatasync of any file waits for: a 1 GiB
// log freed in one piece held synced writes on the same file system for
// 120–125 ms here. So, when nothing else reads the old log, the compaction
// cuts it from the end a freeStep at a time, syncing after each cut, so
// that no commit carries more than one step's blocks, and only then closes
// it.
//
// Nothing may read the old log past a cut, or the read faults (SIGBUS
// through a map):
//   - In this process, after the swap no reader reaches the old log
//     through mu, and the old map is released (releaseRetired) before the
//     cuts begin. An order build that began before the swap may still read
//     it through a private map: the cuts begin only once ord.build has been
//     free after the swap (a build that takes it later reads the new log).
//   - Other processes (a follower, Verify) take a shared flock on the log
//     they open (shareLog), and the compaction cuts only once it holds an
//     exclusive one on the old log's handle (claimLog), waiting up to
//     claimWait for followers to move to the new log. A reader that opens
//     the old log just before the rename and locks it only after the cuts
//     began finds it locked or unlinked and opens wal.log again. Followers
//     also guard every read of their map against a cut (followFile).
//   - The cuts begin only once the rename is durable: until then a power
//     loss could bring the old log back as wal.log.
//   - A file with other names (a hard link, as a backup made with cp -al
//     has) is never cut: only an unlinked file's blocks are ours to free.
//
// Hints follow the same rules: a reader holds a shared flock on the hint
// file whose slots it maps, for as long as they are mapped (loadHint,
// heldHints), and a hint that a checkpoint replaces or a compaction
// removes is cut only once claimed (releaseOldHint).
//
// Where no flock is possible (another file system, another system, a
// writer whose FS wraps its Files), the old log is closed whole, as before.
// A follower whose FS wraps its Files cannot take the shared lock: the
// writer may cut the old log under it, and its reads fail until its next
// step moves it to the new log.

// freeStep is how much of the old log each cut frees: 16 MiB kept the
// longest fdatasync of a concurrent writer under 9 ms on this machine's
// ext4 with discard, where 64 MiB let it reach 34–53 ms.
const freeStep = 16 << 20

const (
	// claimWait bounds how long a compaction waits for followers to let go
	// of the old log before it closes it whole; claimPoll is how often it
	// looks. A follower moves to the new log at its next step, within
	// DefaultFollowPoll or a file event.
	claimWait = time.Second
	claimPoll = 10 * time.Millisecond
)

// errLogGone is what shareLog reports when the log a reader opened is being
// or has been released by a compaction: the reader opens wal.log again.
var errLogGone = errors.New("kv: the log was replaced while it was opened")

// releaseOldLog closes old, the log a compaction replaced, after freeing its
// blocks a step at a time where nothing else reads it. durable reports
// whether the rename that replaced it is on stable storage.
func (db *DB) releaseOldLog(ctx context.Context, old File, durable bool) error {
	if durable && db.claimOldLog(ctx, old) {
		db.cutStepwise(ctx, old)
	}
	return old.Close()
}

// claimOldLog takes the exclusive flock on old, waiting up to claimWait
// for other processes' shared ones to go, and for an order build that
// began before the swap to end. It gives up when the store is closing,
// whose Close waits for the release (db.oldLogs): the old log is then
// closed whole.
func (db *DB) claimOldLog(ctx context.Context, old File) bool {
	deadline := time.Now().Add(cmp.Or(db.claimWait, claimWait))
	claimed := false
	for {
		if !claimed {
			got, ok := claimLog(old)
			if !ok {
				return false
			}
			claimed = got
		}
		// A build holding ord.build may read the old log through a map of
		// its own; any build that takes it after the swap reads the new
		// log. So once it is free, no build of this process reads the old
		// log, and the cuts need not hold it (every new scan takes it).
		if claimed && db.ord.build.TryLock() {
			db.ord.build.Unlock()
			return true
		}
		if time.Now().After(deadline) || db.closing() {
			return false
		}
		if db.testHookClaim != nil {
			db.testHookClaim()
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(claimPoll):
		}
	}
}

// closing reports whether Close has begun.
func (db *DB) closing() bool {
	db.cmu.Lock()
	defer db.cmu.Unlock()
	return db.cmu.closing
}

// cutStepwise truncates old from its end a step at a time, syncing each
// cut, one file at a time (cutMu). It stops at the first error, when ctx
// ends or when the store is closing: whatever is left is freed by the
// Close that follows, as all of it was before.
func (db *DB) cutStepwise(ctx context.Context, old File) {
	fi, err := old.Stat()
	if err != nil {
		return
	}
	db.cutMu.Lock()
	defer db.cutMu.Unlock()
	step := cmp.Or(db.freeStep, freeStep)
	for size := fi.Size(); size > 0 && ctx.Err() == nil && !db.closing(); {
		size = max(size-step, 0)
		if old.Truncate(size) != nil || old.Sync() != nil {
			return
		}
		if db.testHookCut != nil {
			db.testHookCut(size)
		}
	}
}

// reopenShared opens path, wal.log or wal.hint, with flag (read-only,
// unless a writer opens its hint: see DB.retireHint), and takes the shared
// flock that keeps a writer from cutting it (see shareLog), opening it
// again if the file it got had just been replaced.
func reopenShared(fsys FS, path string, flag int) (File, error) {
	for range 8 {
		f, err := fsys.OpenFile(path, flag, 0)
		if err != nil {
			return nil, err
		}
		if err := shareLog(f); !errors.Is(err, errLogGone) {
			return f, nil
		}
		_ = f.Close() // read-only, and replaced
	}
	return nil, errLogGone
}
