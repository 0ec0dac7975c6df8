package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// File names inside a data directory.
const (
	logName  = "wal.log"
	tempName = "wal.log.compact"
	lockName = "LOCK"
)

// counters are the byte accounting of one log. LiveBytes + StaleBytes +
// the header's size == LogBytes always.
type counters struct {
	size  int64 // bytes in the log, header included
	live  int64 // bytes of records the index points to
	stale int64 // bytes of superseded records and tombstones
	// exp is the expiry table of the live records that expire (see
	// expiries.go); nil until the first. live and stale count an
	// expired record as live until it is replaced: Stats and the
	// compaction policy move its bytes to stale (see settledMuLocked).
	exp *expiries
	// dead, while a compaction copies the log, marks the records of its
	// snapshot that die meanwhile, for the copy to leave out (see
	// deadSet). nil otherwise, and in every counters but the store's.
	dead *deadSet
	// floor is the expiry floor of the log, from its sidecar (see
	// expiryFloor), for the tables of replays of the log to keep.
	floor expiryFloor
}

// applyRecord updates idx and c for a record of the log: a put or a
// delete, or a batch, whose operations it applies in order, as one record
// each (see apply). rec's checksum must hold (a record the writer built,
// or one a walfmt.Reader returned): a batch's operations are not checked
// again.
func (c *counters) applyRecord(idx *index, src keySource, rec walfmt.Record) error {
	if rec.Kind != walfmt.KindBatch {
		return c.apply(idx, src, rec.Kind, rec.Key, rec.Offset, rec.Size, metaOf(rec))
	}
	if err := c.apply(idx, src, walfmt.KindBatch, nil, rec.Offset, walfmt.RecordHeaderSize, recMeta{}); err != nil {
		return err
	}
	// Every caller's batch has a checksum that holds: the writer's own, or
	// one the replay, a follower or Verify read and checked.
	return walfmt.ForEachSealedOp(rec, func(op *walfmt.Record) error {
		return c.apply(idx, src, op.Kind, op.Key, op.Offset, op.Size, metaOf(*op))
	})
}

// apply updates idx and c for the record found at off: the accounting of a
// replay, an append and a compaction's tail copy alike. src reads keys of
// the log idx points into.
//
// An operation inside a batch counts as a record of its own, at its own
// offset and of its own size: the index points at it, and its bytes are
// live until its key is written again, then stale. The batch record's own
// header (kind walfmt.KindBatch, size walfmt.RecordHeaderSize) is stale
// from the start, like a tombstone: a compaction drops it. So a batch's
// bytes are always split exactly between live and stale.
//
// m is what the expiry table keeps of a put (its expiry, its encoded
// value's growth): the table follows the index.
func (c *counters) apply(idx *index, src keySource, kind walfmt.Kind, key []byte, off int64, size int, m recMeta) error {
	var old slot
	var had bool
	var err error
	switch kind {
	case walfmt.KindPut:
		old, had, err = idx.put(key, off, size, src)
	case walfmt.KindDelete:
		old, had, err = idx.remove(key, src)
	}
	if err != nil {
		return err
	}
	if had {
		c.live -= int64(old.size)
		c.stale += int64(old.size)
		c.exp.forget(old, src)
		c.dead.mark(int64(old.off))
	}
	if kind == walfmt.KindPut {
		if m.any() {
			c.expiriesOf().add(uint64(off), m, size)
		}
		c.live += int64(size)
	} else {
		c.stale += int64(size)
	}
	c.size = off + int64(size)
	return nil
}

// DB is an open store. It is safe for concurrent use.
//
// Locks, and the order they are taken in: wmu, then sync.mu, then mu; cmu,
// the expiry table's lock, the event hub's lock, the dictionary files'
// lock and a follower's map lock are leaves, never held while another is
// taken.
// No goroutine waits for a sync while it holds mu, and none takes wmu
// while it holds sync.mu or mu.
//
//   - wmu: the writers' lock. It serializes appends, the final swap of a
//     compaction, Sync and Close, and guards the append state (buf, tail,
//     alloc, zeroed, seq, failed, renames, hintCovered, the retired map and
//     index).
//   - sync.mu: the group commit's queue of appended, unsynced records.
//   - mu: what readers use — the index, the log file and its map, the
//     counters. Shared for a lookup and its read, exclusive to publish.
//     A batch's operations are all published under one exclusive hold,
//     so no reader sees some of them without the others. It is taken
//     exclusively only through lockMu and unlockMu, which count the
//     holds in mu.seq: Get reads without mu when no exclusive hold begins
//     or ends meanwhile (getfast.go). The one exception is a publish
//     that changes a single slot of the index in place, which leaves seq
//     alone (quietMuLocked).
//   - cmu: the compaction's bookkeeping, and the checkpoints' counts.
//   - A checkpoint (checkpoint.go) takes no lock of its own: its goroutine
//     holds mu shared to start, to copy each batch of chunks and to take
//     the chunks writers set aside, which writers change holding mu
//     exclusively; it installs the new hint holding wmu, then mu shared
//     and cmu, in that order.
//   - The growth helper (growth.go) takes no lock of its own: its
//     goroutine holds mu shared to look at a growth of the index, and
//     exclusively, through lockMu, to move a batch of it, and cmu, alone,
//     to see whether a compaction runs. A publish, an unlockMu or the end
//     of Open starts it holding mu exclusively, and takes cmu under it to
//     see that Close has not begun.
//   - the expiry table's lock (expiries.mu, see expiries.go): a leaf,
//     taken with mu held, shared or exclusive, to count what has expired.
//   - zdicts.mu (codec_dict.go): the program's table of the zstd
//     dictionaries of open stores; a leaf, taken by a decode, under mu or
//     not, and by Open and Close.
//   - a follower's followFile.mu (follow_map.go): guards the map of its
//     log; a leaf, taken shared by each read of the log (under mu, or
//     under none by an order build) and exclusive, with wmu held and mu
//     not, by the follower to move the map's limit at each chunk it
//     applies and to map the log afresh, and by the file's Close.
//   - ord.build: serializes building the key order scans use (order.go),
//     and keeps a compaction from cutting the log it replaced while a build
//     still reads it through a private map (oldlog.go). Taken before mu,
//     which a build holds shared for moments only; never taken while wmu,
//     sync.mu or mu is held.
//   - cutMu: serializes the cuts of files being freed a step at a time
//     (cutStepwise: a log a compaction replaced, a hint replaced or
//     removed), so that the journal commits synced writers wait for carry
//     one file's steps at a time. Held for a whole cut, by a goroutine
//     that holds no other lock; cmu is taken under it, briefly.
//   - ord.saver.mu (order_save.go): what the background writer of
//     wal.order has to write; a leaf, taken with wmu, ord.build, or wmu
//     and mu held. The writer itself holds none of wmu, sync.mu and mu.
//   - logSync.mu (logsync.go): one sync of a NoSync log at a time — Sync's
//     and Close's, holding wmu, a checkpoint's and the order writer's,
//     holding nothing — and the failures they keep, which a write that
//     finds one and swapClosed look at with wmu held; a leaf, never taken
//     with mu held (it waits for a sync in progress).
//
// A method whose name ends in MuLocked is called with mu held (shared, or
// exclusive where its comment says so); any other whose name ends in
// Locked, with wmu held (and mu too where its comment says so).
type DB struct {
	dir    string
	path   string // dir/wal.log
	opts   Options
	fs     FS
	lock   io.Closer
	zdict  *dictFile       // the store's zstd dictionaries (codec_dict.go)
	ctx    context.Context // cancelled by Close to stop a compaction
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines
	// unmaps counts the goroutines tearing down maps a remap replaced
	// (see remapMuLocked); Close waits for them holding wmu, when no
	// publish can start another.
	unmaps sync.WaitGroup
	// oldLogs counts the goroutines freeing and closing a log that a
	// compaction replaced (see swap); Close waits for them before it
	// returns.
	oldLogs sync.WaitGroup
	cutMu   sync.Mutex // see the lock list above

	// wmu serializes writers and the final swap of a compaction. Held
	// around every append, so the fields below it change only under it.
	wmu    sync.Mutex
	buf    []byte // encode buffer, reused by each write
	tail   int64  // end of the last record written, published or not
	alloc  int64  // size of the log file: the log plus reserved zeros
	zeroed int64  // the log file is written (records or zeros) up to here: see zeroAhead
	// keepWritten, when not zero, replaces the constant keepWritten (see
	// there): tests lower it.
	keepWritten int64
	// freeStep, when not zero, replaces the constant freeStep, and
	// testHookCut, when set, is called after each cut of a replaced log
	// with its new size (see oldlog.go): tests set them.
	freeStep    int64
	testHookCut func(size int64)
	// claimWait, when not zero, replaces the constant claimWait, and
	// testHookClaim, when set, is called each time a compaction finds the
	// old log held by a reader or an order build (see oldlog.go): tests
	// set them.
	claimWait     time.Duration
	testHookClaim func()
	// testHookFast, when set, is called by the lock-free Get between its
	// reads of the index's tables and of the map (see getfast.go): tests
	// set it.
	testHookFast func()
	// testHookCopied, when set, is called by a compaction once it has
	// copied the live records below its end, before its catch-up, and
	// testHookOldLog before the goroutine that frees and closes the log it
	// replaced does so (see swap): tests set them.
	testHookCopied, testHookOldLog func()
	// testHookCheckpoint, when set, is called by a checkpoint once it has
	// begun (with 0) and after each batch, with the number of chunks it
	// has passed: tests set it.
	testHookCheckpoint func(passed int)
	// testHookInstall, when set, is called by a checkpoint between its
	// two renames: the sidecar's and the hint's.
	testHookInstall func()
	// ckptAside, when not zero, replaces checkpointPending: tests lower
	// it.
	ckptAside int
	seq       uint64 // number of synced writes appended so far
	failed    error  // the log's state on disk is unknown: no more writes
	// logSync serializes the syncs of a NoSync log and keeps their
	// failures (logsync.go).
	logSync logSync
	// retiredMap and retiredIdx are the old log's map and index after a
	// compaction's swap, until they are released outside the lock.
	retiredMap *mapping
	retiredIdx *index
	// renames counts the compactions' renames of a new log over wal.log,
	// dirSynced those a directory sync has made durable since. A NoSync
	// compaction syncs the directory after it lets the writers go; until
	// then Sync and Close must sync it themselves.
	renames, dirSynced uint64

	// sync is the group commit: records written but not yet synced, and
	// how far the log is synced. A failed sync fails the store, because
	// after a failed fsync the kernel may have dropped the dirty pages and
	// the file's contents are no longer known.
	sync struct {
		mu      sync.Mutex // guards the fields below
		cond    *sync.Cond // signalled when a sync ends
		pending []pendingWrite
		done    uint64 // seq of the last write synced and published
		running bool
		err     error
		// lastBatch is how many writes the last sync carried: more than
		// one says that writers are arriving together, so that the next
		// leader waits a moment for them (see syncThrough).
		lastBatch int
		// unsynced is the size of the records appended after the last
		// synced batch: those pending and those the running sync covers.
		// Writers keep it within walfmt.SyncWindow (see makeRoomLocked).
		unsynced int64
	}

	// mu guards the index, the log handle and the counters: readers hold it
	// shared for a lookup and a positioned read, writers exclusively for the
	// moment they publish a record.
	mu struct {
		sync.RWMutex
		// The fields are laid out for the lock-free Get (getfast.go),
		// which reads the index pointer, closed, broken and the view's
		// map beside a writer that publishes: the padding keeps what a
		// publish writes (the lock word, the view's end, the counters,
		// seq) off the cache lines Get reads, which would otherwise move
		// between the two cores at every write.
		_      [64]byte
		index  *index
		closed bool
		// broken is why a follower's index cannot be trusted, if it
		// cannot: a record it could not apply. Reads return it.
		broken error
		// view is the log file and its memory map (nil where there is
		// none). Readers use it through a pointer, so a lookup does not
		// allocate.
		view logView
		c    counters
		// ckptAt is the log size past which the growth towards the next
		// checkpoint counts (checkpoint.go): what the hint covered at
		// Open, the size of a compaction's new log, or where the last
		// checkpoint began.
		ckptAt int64
		// seq counts the beginnings and ends of exclusive holds of mu but
		// quiet publishes (see quietMuLocked): it is odd while one lasts.
		// A Get that reads the same even seq before and after its lookup
		// read a state no writer was changing but for one slot, which it
		// reads whole (getfast.go).
		_   [64]byte
		seq atomic.Uint64
		_   [56]byte
	}

	// cmu guards the compaction state and the checkpoints' counts.
	cmu struct {
		sync.Mutex
		running     *compaction
		closing     bool
		lastEnd     time.Time
		done        int64
		lastTook    time.Duration
		reclaimed   int64
		lastFailure error
		// checkpoints counts the checkpoints put in place since Open;
		// checkpointErr is why the last one failed, nil once one lands.
		checkpoints   int64
		checkpointErr error
	}
	// ckptRunning is set while a checkpoint runs (checkpoint.go).
	ckptRunning atomic.Bool
	// growthHelper is set while a goroutine watches a growth of the
	// index, to finish it if writes stop (growth.go); set holding mu
	// exclusively, cleared holding it shared.
	growthHelper atomic.Bool
	// compactPos is how far the running compaction has read the old log:
	// Close lets it finish when little is left past it (see
	// compact.Policy.FinishOnClose).
	compactPos atomic.Int64

	// ord is the key order scans walk (order.go).
	ord orderState

	truncated int64 // torn-tail bytes cut at Open
	replayed  int64 // log bytes replayed at Open: all, or those after the hint
	// freshHeader is the header cutTail wrote into a log that had none.
	freshHeader *walfmt.FileHeader
	hintCovered int64 // log bytes the hint file on disk covers; 0: none (guarded by wmu)
	events      hub
	follow      follower // a read-only DB's follow goroutine (guarded by wmu)

	// replayWindow is the window the header of the log being replayed
	// records: how far past damage a replay may find valid records and
	// still cut it as a torn tail. Zero for a version 1 log. (Verify and
	// Repair read it from the header too.)
	replayWindow int64

	// clockMax is the latest instant the store's clock has read (Unix
	// ns): expiry is judged by it, so a clock that steps back never
	// brings back a key that has expired (see DB.now).
	clockMax atomic.Int64

	// closeOnce runs close once; every other Close waits in it until close
	// has returned, then returns closeErr, which close's caller writes
	// inside closeOnce and which is read only after it.
	closeOnce sync.Once
	closeErr  error
}

// Open opens the store in dir, creating the directory and an empty log if
// they are missing (unless opts.ReadOnly). A nil opts means the defaults.
//
// Open loads the index from the hint file, wal.hint, and replays the records
// appended after it; without a hint that matches the log, it replays the
// whole log. A torn tail — an incomplete last
// record left by a crash — is cut away and counted in Stats.TruncatedBytes.
// So is damage followed by valid records that all end within
// walfmt.SyncWindow bytes of it: a power loss during a group commit can
// leave a record unwritten and a later one written, and none of them was
// acknowledged (see "Sync window" in walfmt's package doc).
// Damage anywhere else stops Open with an error that wraps
// walfmt.ErrCorrupt and names the file and offset: nothing is dropped
// silently. (Damage in the part of the log a hint covers is found by the
// first read of the damaged record instead, and by Verify.) A writer's Open
// of a directory another process writes gives an error wrapping ErrLocked
// at once; a ReadOnly open takes no lock and follows that process (see
// follow.go).
func Open(dir string, opts *Options) (*DB, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	db := &DB{dir: dir, path: filepath.Join(dir, logName), opts: o, fs: o.FS}
	if err := db.createDir(); err != nil {
		return nil, err
	}
	lock, err := openLock(db.fs, dir, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	db.lock = lock
	if err := db.openDicts(); err != nil {
		_ = lock.Close() // the dictionaries' error is the one to report
		return nil, err
	}
	err = db.load()
	for tries := 1; err != nil && o.ReadOnly && errors.Is(err, ErrLogReplaced) && tries < followOpenTries; tries++ {
		// The writer cut the log under the replay, which reads it as
		// long as it was when it began: its Close trims the space it
		// reserved past its records, its Open a torn tail, and a
		// compaction replaces the log. Each is over in an instant: read
		// the log afresh.
		time.Sleep(time.Duration(tries) * time.Millisecond)
		err = db.load()
	}
	if err != nil {
		zdicts.release(db.zdict)
		_ = lock.Close() // the load error is the one to report
		return nil, err
	}
	db.tail = db.mu.c.size
	db.zeroed = db.tail
	db.sync.cond = sync.NewCond(&db.sync.mu)
	db.ctx, db.cancel = context.WithCancel(context.Background())
	db.cmu.lastEnd = time.Now()
	// A replay applied record by record may have left the index in the
	// middle of a growth, which no write may come to finish.
	db.mu.Lock()
	db.helpGrowthMuLocked()
	db.mu.Unlock()
	if o.ReadOnly {
		db.startFollowing() // see follow.go
	}
	return db, nil
}

// followOpenTries bounds how many times a ReadOnly Open reads the log
// when a writer cuts or replaces it under the read.
const followOpenTries = 8

// createDir creates the data directory when it is missing and the store may
// write; lockDir then checks that it is a directory.
func (db *DB) createDir() error {
	if _, err := db.fs.Stat(db.dir); db.opts.ReadOnly || !errors.Is(err, fs.ErrNotExist) {
		return nil // lockDir reports what is wrong with it
	}
	if err := db.fs.MkdirAll(db.dir, 0o755); err != nil {
		return fmt.Errorf("kv: create data directory: %w", err)
	}
	// The new directory's own entry must survive a crash too.
	if err := db.fs.SyncDir(filepath.Dir(filepath.Clean(db.dir))); err != nil {
		return fmt.Errorf("kv: sync parent of data directory: %w", err)
	}
	return nil
}

// load opens the log, cleans up after an interrupted compaction, and
// replays the log into a fresh index.
func (db *DB) load() error {
	flag := os.O_RDWR | os.O_CREATE
	if db.opts.ReadOnly {
		flag = os.O_RDONLY
	} else {
		db.adoptCheckpoint()
		for _, name := range []string{tempName, hintTempName, hintNextName, expHintTemp, hintNextName + expHintSuffix, orderTempName, checkpointTemp, checkpointExpTemp} {
			if err := db.fs.Remove(filepath.Join(db.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("kv: remove leftover %s: %w", name, err)
			}
		}
	}
	var f File
	var err error
	if db.opts.ReadOnly {
		f, err = reopenShared(db.fs, db.path, os.O_RDONLY) // see oldlog.go
	} else {
		f, err = db.fs.OpenFile(db.path, flag, 0o644)
	}
	if errors.Is(err, fs.ErrNotExist) && db.opts.ReadOnly {
		db.mu.index = newIndex(0, walfmt.FileHeader{})
		db.mu.c = counters{size: walfmt.HeaderSize}
		return nil
	}
	if err != nil {
		return fmt.Errorf("kv: open log: %w", err)
	}
	if !reflect.TypeOf(f).Comparable() {
		_ = f.Close() // nothing was read or written
		return fmt.Errorf("kv: open log: the FS's File type %T cannot be compared with ==, and the store tells its files apart that way", f)
	}
	if db.opts.ReadOnly {
		f = followLog(f) // see follow_map.go
	}
	if err := db.replay(f); err != nil {
		_ = f.Close() // the replay error is the one to report
		return err
	}
	return nil
}

// viewMuLocked returns the log as readers see it. The caller holds mu.
func (db *DB) viewMuLocked() *logView { return &db.mu.view }

// lockMu takes mu exclusively, as every change to what readers use must:
// it makes mu.seq odd, so that a Get reading without mu meanwhile finds
// that it cannot trust what it read (getfast.go). The atomic add orders
// the count before the changes the hold makes.
func (db *DB) lockMu() {
	db.mu.Lock()
	db.mu.seq.Add(1)
}

// unlockMu lets go of mu taken by lockMu; the count, even again, is
// ordered after the hold's changes.
func (db *DB) unlockMu() {
	db.helpGrowthMuLocked() // a follower's catch-up, a swap or a rebuild may have begun a growth
	db.mu.seq.Add(1)
	db.mu.Unlock()
}

// replay loads the index: from the hint file and the log records after it
// when the hint matches the log, else from the whole log. It cuts a torn
// tail (or, read only, ignores it), and writes a header into a new or empty
// log.
func (db *DB) replay(f File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("kv: stat log: %w", err)
	}
	size := fi.Size()
	// A log without a readable header gets a zero one here: the replay
	// then reports why, or cuts the log and writes a new header.
	hdr, _ := readLogHeader(f, size)
	db.replayWindow = int64(hdr.SyncWindow)
	var m *mapping
	if _, follows := f.(*followFile); !follows {
		// A follower reads through its followFile's guarded map only:
		// another process may cut the log under a map (see followFile).
		m = mapLog(f, size, !db.opts.ReadOnly)
	}
	idx, c, hinted := db.loadHint(f, size, hdr)
	from := int64(0)
	if hinted {
		from = c.size
	} else {
		idx, c = newIndex(0, hdr), counters{size: hdr.Size(), floor: db.expiryFloorOf(hdr.ID)}
	}
	// After a hint, a torn tail is cut where valid records were read past
	// the hint's end, as a crash in the middle of an append leaves it (a
	// checkpoint's hint can be followed by hundreds of mebibytes that a
	// full replay would read again only to cut the same bytes). A tear
	// right at the hint's end may instead say that the hint is wrong about
	// where a record begins: that costs a full replay.
	cutPast := int64(-1)
	if hinted {
		cutPast = from
	}
	err = db.replayFrom(f, &logView{f: f, m: m, end: size, path: db.path, unverified: from}, idx, &c, from, size, cutPast)
	if hinted && err != nil {
		// The log does not continue where the hint says it ends: trust
		// neither, and read the whole log.
		_ = idx.close() // harmless: see mapping.unmap
		hinted, from = false, 0
		idx, c = newIndex(0, hdr), counters{size: hdr.Size(), floor: c.floor}
		err = db.replayFrom(f, &logView{f: f, m: m, end: size, path: db.path}, idx, &c, 0, size, -1)
	}
	if err != nil {
		// Open fails with err; a failure to release would say less.
		_ = idx.close()
		_ = m.unmap()
		return err
	}
	if db.freshHeader != nil {
		// The log was empty, or its header torn, and has a new header now.
		idx.setHashKey(*db.freshHeader)
	}
	if hinted {
		db.hintCovered = from
	}
	if !db.opts.ReadOnly {
		// The last process may have died with records appended and not
		// synced. Make them durable before anything is appended after
		// them: the sync window counts from a durable point.
		if err := f.Sync(); err != nil {
			_ = idx.close() // Open fails with err
			_ = m.unmap()
			return fmt.Errorf("kv: sync %s: %w", db.path, err)
		}
	}
	if fi, err = f.Stat(); err == nil { // after any cut
		db.alloc = fi.Size()
	}
	db.mu.index, db.mu.c = idx, c
	db.mu.view = logView{f: f, m: m, end: c.size, path: db.path, unverified: from}
	db.mu.ckptAt = from
	if db.replayed = c.size - idx.hdr.Size(); hinted {
		db.replayed = c.size - from
	}
	return nil
}

// readLogHeader reads and decodes the header of a log of size bytes.
func readLogHeader(f File, size int64) (walfmt.FileHeader, error) {
	b := make([]byte, min(size, walfmt.HeaderSize))
	if _, err := f.ReadAt(b, 0); err != nil {
		return walfmt.FileHeader{}, err
	}
	return walfmt.ParseHeader(b)
}

// replayFrom applies the records of the log from offset from (0: the
// start, header included) to idx and c. A torn tail, including damage
// within the sync window of the end, is cut only where the good records
// end past cutPast (-1: anywhere; math.MaxInt64: nowhere); otherwise it
// is an error like any other damage.
//
// A replay from the start into an empty index collects the records and
// applies them at the end, sorted by where their keys sit in the table
// (see replay_bulk.go), and reads a large log on several goroutines (see
// replay_parallel.go); the records, the errors and the cut are the same.
func (db *DB) replayFrom(f File, src *logView, idx *index, c *counters, from, size, cutPast int64) error {
	r := walfmt.NewReader(f, size, db.path)
	zeros := size
	if !db.opts.ReadOnly {
		// A follower's writer may be writing into what reads as zeros.
		zeros = trailingZeros(f, max(from, walfmt.HeaderSize), size)
		r.SetZerosFrom(zeros)
	}
	var bulk *bulkReplay
	if from > 0 {
		r.StartAt(from)
		if bulk = newTailReplay(idx, c, from, size); bulk != nil {
			if pos := db.collectParallel(f, idx, bulk, from, size, zeros); pos > from {
				r.StartAt(pos)
			}
		}
	} else if bulk = newBulkReplay(idx, c, size); bulk != nil {
		if hdr, err := readLogHeader(f, size); err == nil {
			// The records read here on several goroutines are the
			// ones the loop below would read first (replay_parallel.go).
			if pos := db.collectParallel(f, idx, bulk, hdr.Size(), size, zeros); pos > hdr.Size() {
				r.StartAt(pos)
			}
		}
	}
	defer func() {
		if bulk != nil { // damage or an error ended the replay unflushed
			bulk.release()
		}
	}()
	flush := func() error {
		if bulk == nil {
			return nil
		}
		b := bulk
		bulk = nil
		return b.flush(idx, c, src)
	}
	for {
		rec, err := r.Next()
		if err != nil && err != io.EOF {
			err = tornWithin(r, err, db.replayWindow)
		}
		switch {
		case err == io.EOF:
			return flush()
		case errors.Is(err, walfmt.ErrTornTail) && r.Offset() > cutPast:
			if err := flush(); err != nil {
				return err
			}
			return db.cutTail(f, r.Offset(), size)
		case errors.Is(err, walfmt.ErrTornTail):
			return err
		case errors.Is(err, walfmt.ErrCorrupt):
			return fmt.Errorf("kv: open %s: %w", db.dir, err)
		case err != nil:
			return fmt.Errorf("kv: open %s: %w", db.dir, err)
		}
		if bulk != nil && bulk.add(idx, rec) {
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if err := c.applyRecord(idx, src, rec); err != nil {
			return err
		}
	}
}

// cutTail truncates a torn tail at good, the end of the last valid record,
// and makes the cut durable before anything is appended after it. A log
// without a complete header gets a fresh one.
func (db *DB) cutTail(f File, good, size int64) error {
	db.truncated = size - good
	if db.opts.ReadOnly {
		return nil
	}
	if _, err := readLogHeader(f, good); err != nil {
		good = 0 // not even a whole header: start the log afresh
	}
	if err := f.Truncate(good); err != nil {
		return fmt.Errorf("kv: cut torn tail of %s: %w", db.path, err)
	}
	if good == 0 {
		hdr := walfmt.NewFileHeader()
		if _, err := f.WriteAt(walfmt.AppendFileHeader(nil, hdr), 0); err != nil {
			return fmt.Errorf("kv: write log header: %w", err)
		}
		db.freshHeader = &hdr
		if db.truncated == 0 {
			// A brand-new log: make its directory entry durable too.
			if err := db.fs.SyncDir(db.dir); err != nil {
				return fmt.Errorf("kv: sync data directory: %w", err)
			}
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("kv: sync log: %w", err)
	}
	return nil
}

// Dir returns the data directory.
func (db *DB) Dir() string { return db.dir }

// Policy returns the automatic compaction policy in force, defaults filled.
func (db *DB) Policy() compact.Policy { return db.opts.Compaction }

// Stats describes the store at a moment.
type Stats struct {
	// Keys is the number of live keys.
	Keys int
	// LogBytes is the size of the log; LiveBytes + StaleBytes +
	// HeaderBytes == LogBytes.
	LogBytes int64
	// HeaderBytes is the size of the log's file header: walfmt.HeaderSize,
	// or walfmt.HeaderSizeV1 for a log of format version 1 until a
	// compaction rewrites it.
	HeaderBytes int64
	// LiveBytes is the size of the records that hold the current values.
	LiveBytes int64
	// StaleBytes is the size of overwritten and deleted records and of
	// tombstones: what a compaction would reclaim.
	StaleBytes int64
	// Compactions counts the compactions completed since Open.
	Compactions int64
	// Compacting is true while a compaction runs.
	Compacting bool
	// LastCompaction is how long the last compaction took.
	LastCompaction time.Duration
	// CompactionError is why the last compaction failed, if it did; nil
	// once one succeeds. Automatic compactions report failures only here
	// and in a CompactionFailed event.
	CompactionError error
	// ReclaimedBytes is the total shrinkage of the log by compactions since
	// Open.
	ReclaimedBytes int64
	// IndexBytes is the memory the index takes: its table of 16-byte slots,
	// kept between a quarter and three quarters full. The keys themselves
	// are not held in memory.
	IndexBytes int64
	// TruncatedBytes is the size of the torn tail cut away (or, read only,
	// ignored) at Open; non-zero means a write was interrupted by a crash.
	TruncatedBytes int64
	// ExpiringKeys is the number of live keys that carry an expiry.
	ExpiringKeys int
	// ExpiredKeys is the number of records that have expired and that no
	// compaction has dropped yet; Keys leaves them out, and their
	// ExpiredBytes count in StaleBytes.
	ExpiredKeys  int
	ExpiredBytes int64
	// LogicalLiveBytes and LogicalStaleBytes are LiveBytes and StaleBytes
	// as they would be if every value were stored raw: larger where
	// values are stored encoded (Options.Codec). LiveBytes over
	// LogicalLiveBytes is the compression ratio of the live data.
	LogicalLiveBytes  int64
	LogicalStaleBytes int64
	// ReplayedBytes is how much of the log Open read record by record:
	// all of it without a hint that matches, else what was appended after
	// the hint was written. It is what a crash costs the next Open, and
	// checkpoints bound it (Options.CheckpointBytes).
	ReplayedBytes int64
	// Checkpoints counts the hints written in the background since Open
	// (see Options.CheckpointBytes); CheckpointError is why the last
	// one failed, nil once one succeeds. A failed checkpoint loses
	// nothing: the next Open replays more of the log.
	Checkpoints     int64
	CheckpointError error
	// KeySorts counts the times the store sorted all its keys since Open,
	// to build the key order of a scan or a compaction's new log; a scan
	// that loads wal.order, or extends the order it has, sorts none.
	KeySorts int64
}

// Stats returns the current statistics.
func (db *DB) Stats() Stats {
	db.mu.RLock()
	s := Stats{
		Keys:           db.mu.index.count,
		LogBytes:       db.mu.c.size,
		HeaderBytes:    db.mu.index.hdr.Size(),
		LiveBytes:      db.mu.c.live,
		StaleBytes:     db.mu.c.stale,
		IndexBytes:     db.mu.index.memory(),
		TruncatedBytes: db.truncated,
		ReplayedBytes:  db.replayed,
	}
	db.expiryStatsMuLocked(&s)
	db.mu.RUnlock()
	db.cmu.Lock()
	s.Compactions = db.cmu.done
	s.Compacting = db.cmu.running != nil
	s.LastCompaction = db.cmu.lastTook
	s.ReclaimedBytes = db.cmu.reclaimed
	s.CompactionError = db.cmu.lastFailure
	s.Checkpoints = db.cmu.checkpoints
	s.CheckpointError = db.cmu.checkpointErr
	db.cmu.Unlock()
	s.KeySorts = db.ord.sorts.Load()
	return s
}

// Close lets a running compaction finish when little of the log is left
// for it to read (compact.Policy.FinishOnClose, 64 MiB by default), so
// that a store closed right after the writes that made it due is left
// compacted; it stops a larger one (the old log stays in place). It then
// waits for background work, and releases the log and the directory lock. Every write
// acknowledged before Close is in the log. Close may be called again, and
// from several goroutines at once: each call returns only once the store is
// closed — its data synced and the directory free for the next Open — and
// returns the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

// close is Close, run once.
func (db *DB) close() error {
	db.cmu.Lock()
	db.cmu.closing = true
	running := db.cmu.running
	db.cmu.Unlock()
	if running != nil && !db.opts.ReadOnly && db.compactionNearlyDone() {
		// A follower's running compaction is the writer's, seen from
		// outside (follow_compaction.go): not one to wait for.
		<-running.done
	}
	db.cancel()
	db.wg.Wait()
	db.events.close()

	db.wmu.Lock()
	defer db.wmu.Unlock()
	serr := db.drainSyncs()
	db.unmaps.Wait()
	if serr == nil {
		serr = db.syncNoSyncLocked()
	}
	db.lockMu()
	defer db.unlockMu()
	db.mu.closed = true
	// The hint only spares the next Open a replay, and the order file its
	// first scan a sort: a failure to write either (a full disk, a file
	// size limit) loses nothing, as the one on disk is replaced only once
	// the new one is whole, and must not fail a Close after writes that
	// are in the log. The disk's trouble meets the next write.
	_ = db.saveHintOnClose(serr)
	_ = db.saveOrderOnClose(serr)
	terr := db.trimLocked()
	err := db.mu.index.close()
	if merr := db.mu.view.m.unmap(); err == nil {
		err = merr
	}
	db.mu.view.m = nil
	if db.mu.view.f != nil {
		if cerr := db.mu.view.f.Close(); err == nil {
			err = cerr
		}
	}
	zdicts.release(db.zdict)
	db.oldLogs.Wait()
	if lerr := db.lock.Close(); err == nil {
		err = lerr
	}
	if err == nil && serr != nil && !errors.Is(serr, ErrClosed) {
		err = serr
	}
	if err == nil {
		err = terr
	}
	return err
}

// saveHintOnClose writes the hint file if the index has changed since the
// one on disk, so that the next Open need not replay the log. The caller
// holds wmu and mu.
func (db *DB) saveHintOnClose(syncErr error) error {
	if db.opts.ReadOnly || db.failed != nil || syncErr != nil || db.mu.view.f == nil || db.mu.c.size == db.hintCovered {
		return nil
	}
	return db.saveHint(db.mu.index, db.mu.c, db.mu.view.f, hintName)
}
