package kv

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/crabkv/crabkv/walfmt"
)

// The index is a hash table: it finds a key, but knows no order. The key
// order of the store is kept beside it, for scans (see scan.go), as an
// orderSnap:
//
//   - a sorted run: the offsets of records of the log, in the byte order of
//     their keys, each key once, for the records below runEnd. It holds no
//     keys — they are in the log, read through the same map as the index
//     reads them — so it costs 8 bytes a key;
//   - an overlay: the keys of the puts and deletes appended after runEnd,
//     up to end, sorted, with their offsets, each key once (its latest
//     operation). It is read from the log's tail when a scan starts, so
//     writers never pay for it; when it grows past a quarter of the run,
//     it is merged into a new run.
//
// The run holds exactly the keys live at runEnd, and the run merged with
// the overlay (a key in both takes the overlay's operation; a delete
// removes it) exactly those live at end: a snapshot is the state of the
// store at the moment the log ended at end. A scan reads that state, from
// records that stay in the log, without asking the index about each key.
// A snapshot never changes once published. It describes one log — the one
// its index describes — and is rebuilt for a new one (a compaction builds
// it for its new log; a follower's switch to a new log rebuilds it on the
// next scan).
//
// Nothing is built until something asks for order: a store that is never
// scanned pays nothing. Once a snapshot exists, compactions keep one for
// their new log, and Close writes it to wal.order (order_file.go) so that
// the next Open need not sort.
type orderSnap struct {
	idx    *index   // the index of the log it orders: its identity
	run    []uint64 // record offsets in key order
	runEnd int64    // log bytes the run covers
	ovl    []ovlEntry
	end    int64 // log bytes the run and the overlay cover
	// fence narrows a seek in the run without reading the log
	// (order_fence.go); nil for a short run, or one whose keys it could
	// not all read.
	fence *fence
}

// ovlEntry is a key put or deleted after a snapshot's run, and the offset
// of its latest operation before the snapshot's end.
type ovlEntry struct {
	key string
	off uint64
	del bool // the latest operation is a delete
}

// orderState is the store's key order.
type orderState struct {
	cur atomic.Pointer[orderSnap] // the newest snapshot, or nil
	// build serializes building and extending snapshots. It is taken
	// before mu (a build holds mu shared for moments only, to copy what it
	// works from) and never while wmu, sync.mu or mu is held.
	build sync.Mutex
	// next is the snapshot a compaction built for its new log, installed
	// with that log, and nextLog that log's handle. Guarded by wmu.
	next    *orderSnap
	nextLog File
	// saver writes wal.order in the background (order_save.go).
	saver orderSaver
	// sorts counts the runs sorted from an index since Open (Stats).
	sorts atomic.Int64
}

// overlayMergeMin is the overlay size below which it is never merged into
// the run, however small the run.
const overlayMergeMin = 4096

// orderSnapshot returns a snapshot of the current log's key order that
// covers every record published when it was called, building or extending
// one as needed.
func (db *DB) orderSnapshot() (*orderSnap, error) {
	db.ord.build.Lock()
	defer db.ord.build.Unlock()
	for range 8 { // a round fails only when a compaction swaps the log
		prev := db.ord.cur.Load()
		s, err := db.orderRound(prev)
		if err == nil {
			// Unless a compaction has installed its new log's order
			// meanwhile, which must not be overwritten by an older one.
			db.ord.cur.CompareAndSwap(prev, s)
			return s, nil
		}
		if !errors.Is(err, errLogSwapped) {
			return nil, err
		}
	}
	return nil, errLogSwapped
}

// errLogSwapped is returned by a scan that could not keep up with
// compactions, each of which replaced the log while it built its order.
var errLogSwapped = errors.New("kv: scan: the log was replaced too often to build its key order")

// orderRound is one attempt of orderSnapshot: it takes the current
// snapshot, or loads or builds one for the current log, and extends it to
// the log's published end. s is the current snapshot. The caller holds
// ord.build.
func (db *DB) orderRound(s *orderSnap) (*orderSnap, error) {
	src, end, idx, err := db.orderSource()
	if err != nil {
		return nil, err
	}
	if s != nil && s.idx == idx && s.end == end {
		return s, nil // the common case: nothing written since
	}
	fresh := false // s has a run sorted or merged in this round
	if s == nil || s.idx != idx {
		if s = db.loadOrderFile(src, idx); s == nil {
			if s, err = db.buildRun(idx); err != nil {
				return nil, err
			}
			fresh = true
		} else {
			stored := s.fence != nil
			if !stored {
				s.fence = loadedFence(s.run, src, db.isMapped())
			}
			// A file that lacks a fence its run has (version 1, or a
			// damaged fence) is not marked: Close writes it again.
			if stored || s.fence == nil {
				db.ord.saver.markOnDisk(s)
			}
		}
	}
	if s.end < end {
		runEnd := s.runEnd
		s, err = extendSnap(s, src, end, db.isMapped())
		fresh = fresh || (err == nil && s.runEnd != runEnd)
	}
	if err != nil && !db.sameLog(idx) {
		err = errLogSwapped // the log went away under the build
	}
	if err == nil && fresh {
		db.saveOrderInBackground(s, src.f)
	}
	return s, err
}

// loadedFence builds the fence of a run loaded from wal.order, reading
// its keys through a map of its own where the store maps its log (see
// privateViewMuLocked), as a merge does.
func loadedFence(run []uint64, src *logView, mapped bool) *fence {
	if len(run) < fenceMin {
		return nil
	}
	ms := *src
	if mapped {
		ms.m = mapLog(src.f, src.end, false)
		defer func() { _ = ms.m.unmap() }() // harmless: see mapping.unmap
	}
	return buildFence(run, &ms)
}

// isMapped reports whether the store reads its log through a map.
func (db *DB) isMapped() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.mu.view.m != nil && !db.opts.ReadOnly
}

// sameLog reports whether idx is still the index of the store's log.
func (db *DB) sameLog(idx *index) bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.mu.index == idx
}

// orderSource returns a private view of the current log, up to its
// published end, without a map (see privateViewMuLocked), and that log's
// index.
func (db *DB) orderSource() (*logView, int64, *index, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.readableMuLocked(); err != nil {
		return nil, 0, nil, err
	}
	v := db.mu.view
	src := &logView{f: v.f, end: db.mu.c.size, path: v.path, unverified: v.unverified}
	return src, db.mu.c.size, db.mu.index, nil
}

// privateViewMuLocked returns a private view of the current log up to its
// published end, which reads keys through a read-only map of its own where
// the log is mapped, so that a build reads outside mu: the store's own map
// may be replaced by a larger one at any time, but nothing cuts the log
// below what was published while it is the store's log (a follower, whose
// log another process may cut, reads with ReadAt, and a read of a cut file
// fails instead of faulting). The caller holds mu, and unmaps the view's
// map.
func (db *DB) privateViewMuLocked() *logView {
	v := db.mu.view
	src := &logView{f: v.f, end: db.mu.c.size, path: v.path, unverified: v.unverified}
	if v.m != nil && !db.opts.ReadOnly {
		src.m = mapLog(v.f, src.end, false)
	}
	return src
}

// buildRun sorts the records idx points to, taking their offsets under mu
// for a moment and sorting them outside it. It fails with errLogSwapped if
// idx is no longer the store's.
func (db *DB) buildRun(idx *index) (*orderSnap, error) {
	db.mu.RLock()
	if db.mu.index != idx {
		db.mu.RUnlock()
		return nil, errLogSwapped
	}
	if err := db.readableMuLocked(); err != nil {
		db.mu.RUnlock()
		return nil, err
	}
	offs := make([]uint64, 0, idx.count)
	err := idx.each(func(s slot) bool {
		offs = append(offs, s.off)
		return true
	})
	if err != nil {
		// A chunk of the hint is damaged: have the index replayed from
		// the log. It is a new index, so this round ends as if the log
		// had been swapped, and the next builds from the new one.
		if errors.Is(err, errHintDamaged) {
			if err = db.rebuildDamagedRLocked(); err == nil {
				err = errLogSwapped
			}
		}
		db.mu.RUnlock()
		return nil, err
	}
	src, end := db.privateViewMuLocked(), db.mu.c.size
	db.mu.RUnlock()
	defer func() { _ = src.m.unmap() }() // harmless: see mapping.unmap
	if src.f == nil {
		offs = offs[:0] // no log yet: nothing to read keys from
	}
	sortByKey(src, offs)
	db.ord.sorts.Add(1)
	return &orderSnap{idx: idx, run: offs, runEnd: end, end: end, fence: buildFence(offs, src)}, nil
}

// keyOrNil returns the key of the record at off, or nil if it cannot be
// read.
func (v *logView) keyOrNil(off uint64) []byte {
	k, err := v.keyAt(int64(off))
	if err != nil {
		return nil
	}
	return k
}

// extendSnap returns s with the operations of the log between s.end and end
// added to its overlay, and the overlay merged into the run once it has
// grown past a quarter of it; mapped says whether the store maps its log.
// It reads the tail with ReadAt: the records were published, so they are
// whole and were verified.
//
// It keeps one entry a key, the key's latest operation so far, as it reads:
// a tail of many overwrites of a few keys, which busy writers append
// while a compaction runs, costs what its keys do, not its records.
func extendSnap(s *orderSnap, src *logView, end int64, mapped bool) (*orderSnap, error) {
	var tail []ovlEntry
	at := map[string]int{} // the index in tail of each key's entry
	r := walfmt.NewReader(src.f, end, src.path)
	r.StartAt(s.end)
	add := func(rec walfmt.Record) error {
		if rec.Kind != walfmt.KindPut && rec.Kind != walfmt.KindDelete {
			return nil
		}
		e := ovlEntry{off: uint64(rec.Offset), del: rec.Kind == walfmt.KindDelete}
		if i, ok := at[string(rec.Key)]; ok {
			e.key = tail[i].key
			tail[i] = e
			return nil
		}
		e.key = string(rec.Key)
		at[e.key] = len(tail)
		tail = append(tail, e)
		return nil
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Kind == walfmt.KindBatch {
			err = walfmt.ForEachOp(rec, add)
		} else {
			err = add(rec)
		}
		if err != nil {
			return nil, err
		}
	}
	ns := &orderSnap{idx: s.idx, run: s.run, runEnd: s.runEnd, end: end, fence: s.fence}
	slices.SortFunc(tail, func(a, b ovlEntry) int { return cmp.Compare(a.key, b.key) })
	ns.ovl = mergeOverlay(s.ovl, tail)
	if len(ns.ovl) > overlayMergeMin && len(ns.ovl) > len(ns.run)/4 {
		// The run's keys are read through a map of their own where the
		// store maps its log (see privateViewMuLocked).
		ms := *src
		if mapped {
			ms.m = mapLog(src.f, end, false)
			defer func() { _ = ms.m.unmap() }() // harmless: see mapping.unmap
		}
		m, fc := mergeWithFence(ns, &ms)
		ns.run, ns.fence = m.offsets(), fc
		ns.runEnd, ns.ovl = end, nil
	}
	return ns, nil
}

// mergeOverlay merges two sorted overlays; newer wins a key both hold.
func mergeOverlay(older, newer []ovlEntry) []ovlEntry {
	out := make([]ovlEntry, 0, len(older)+len(newer))
	i, j := 0, 0
	for i < len(older) || j < len(newer) {
		switch {
		case j == len(newer) || (i < len(older) && older[i].key < newer[j].key):
			out = append(out, older[i])
			i++
		case i == len(older) || newer[j].key < older[i].key:
			out = append(out, newer[j])
			j++
		default: // the same key
			out = append(out, newer[j])
			i, j = i+1, j+1
		}
	}
	return out
}

// mergeRun merges an overlay into a run, reading the run's keys from src;
// the overlay's operation wins a key both hold, being later, and a delete
// removes the key.
func mergeRun(run []uint64, ovl []ovlEntry, src *logView) []uint64 {
	out := make([]uint64, 0, len(run)+len(ovl))
	put := func(e ovlEntry) {
		if !e.del {
			out = append(out, e.off)
		}
	}
	i, j := 0, 0
	for i < len(run) || j < len(ovl) {
		if i == len(run) {
			put(ovl[j])
			j++
			continue
		}
		if j == len(ovl) {
			out = append(out, run[i:]...)
			break
		}
		switch c := bytes.Compare(src.keyOrNil(run[i]), []byte(ovl[j].key)); {
		case c < 0:
			out = append(out, run[i])
			i++
		case c > 0:
			put(ovl[j])
			j++
		default:
			put(ovl[j])
			i, j = i+1, j+1
		}
	}
	return out
}

// orderForCompaction sorts the records a compaction copied into its new
// log, whose first end bytes are written, when the store has a key order
// to keep, unless they were copied in key order (sorted; see
// compaction_ordered.go): it becomes the new log's order when the new log
// takes the old one's place. It runs outside every lock, on the new log,
// which is still private.
func (db *DB) orderForCompaction(f File, idx *index, end int64, offs []uint64, sorted bool) {
	if db.ord.cur.Load() == nil {
		return // nothing has asked for order: the first scan builds it
	}
	src := &logView{f: f, m: mapLog(f, end, false), end: end, path: db.path}
	defer func() { _ = src.m.unmap() }() // harmless: see mapping.unmap
	if !sorted {
		sortByKey(src, offs)
		db.ord.sorts.Add(1)
	}
	s := &orderSnap{idx: idx, run: offs, runEnd: end, end: end, fence: buildFence(offs, src)}
	db.wmu.Lock()
	db.ord.next, db.ord.nextLog = s, f
	db.wmu.Unlock()
}

// installOrderLocked makes the order a compaction built for idx, its new
// index, the store's, as the log is swapped, and has it saved to
// wal.order in the background. The caller holds wmu.
func (db *DB) installOrderLocked(idx *index) {
	if s, log := db.ord.next, db.ord.nextLog; s != nil {
		db.ord.next, db.ord.nextLog = nil, nil
		if s.idx == idx {
			db.ord.cur.Store(s)
			db.saveOrderInBackground(s, log)
		}
	}
}

// dropCompactionOrder forgets the order built for a compaction that
// failed.
func (db *DB) dropCompactionOrder() {
	db.wmu.Lock()
	db.ord.next, db.ord.nextLog = nil, nil
	db.wmu.Unlock()
}
