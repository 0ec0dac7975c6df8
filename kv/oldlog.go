package kv

import (
	"cmp"
	"context"
	"errors"
	"os"
	"time"
)

// Releasing a log a compaction replaced.
//
// Closing the last handle of a large unlinked file frees all its blocks at
// once, and ext4 (with the discard mount option above all) does that in the
// journal commit that the next fdatasync of any file waits for: a 1 GiB
// log freed in one piece held synced writes on the same file system for
// 80–120 ms here. So, when nothing else reads the old log, the compaction
// cuts it from the end a freeStep at a time, syncing after each cut, so
// that no commit carries more than one step's blocks, and only then closes
// it.
//
// Nothing may read the old log past a cut, or the read faults (SIGBUS
// through a map):
//   - In this process, after the swap no reader reaches the old log
//     through mu, and the old map is released (releaseRetired) before the
//     cuts begin. An order build may still read it through a private map:
//     the cuts run only while ord.build is free, held for their duration.
//   - Other processes (a follower, Verify) take a shared flock on the log
//     they open (shareLog), and the compaction cuts only once it holds an
//     exclusive one on the old log's handle (claimLog), waiting up to
//     claimWait for followers to move to the new log. A reader that opens
//     the old log just before the rename and locks it only after the cuts
//     began finds it locked or unlinked and opens wal.log again. Followers
//     also guard every read of their map against a cut (followFile).
//   - The cuts begin only once the rename is durable: until then a power
//     loss could bring the old log back as wal.log.
//
// Where no flock is possible (another file system, another system, a
// wrapped File), the old log is closed whole, as before.

// freeStep is how much of the old log each cut frees: 16 MiB kept the
// longest fdatasync of a concurrent writer under 9 ms on this machine's
// ext4 with discard, where 64 MiB let it reach 25–53 ms.
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
	if durable && db.claimOldLog(ctx, old) && db.ord.build.TryLock() {
		db.cutStepwise(ctx, old)
		db.ord.build.Unlock()
	}
	return old.Close()
}

// claimOldLog takes the exclusive flock on old, waiting up to claimWait
// for other processes' shared ones to go.
func (db *DB) claimOldLog(ctx context.Context, old File) bool {
	deadline := time.Now().Add(claimWait)
	for {
		got, ok := claimLog(old)
		if got || !ok || time.Now().After(deadline) {
			return got
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(claimPoll):
		}
	}
}

// cutStepwise truncates old from its end a step at a time, syncing each
// cut. It stops at the first error or when ctx ends: whatever is left is
// freed by the Close that follows, as all of it was before.
func (db *DB) cutStepwise(ctx context.Context, old File) {
	fi, err := old.Stat()
	if err != nil {
		return
	}
	step := cmp.Or(db.freeStep, freeStep)
	for size := fi.Size(); size > 0 && ctx.Err() == nil; {
		size = max(size-step, 0)
		if old.Truncate(size) != nil || old.Sync() != nil {
			return
		}
		if db.testHookCut != nil {
			db.testHookCut(size)
		}
	}
}

// reopenShared opens wal.log read-only for a reader and takes the shared
// flock that keeps a compaction from cutting it (see shareLog), opening it
// again if the file it got had just been replaced.
func reopenShared(fsys FS, path string) (File, error) {
	for range 8 {
		f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
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
