package kv

import (
	"context"
	"io"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// A store that keeps a key order (it has been scanned: see order.go) is
// compacted in that order: the new log holds its live records sorted by
// key, so its run is the log itself, front to back, and a scan of it reads
// the file sequentially, neighbouring keys side by side, as a B+tree's
// leaves hold them, where the records of a log in write order lie one per
// cache line and page anywhere in it. It also spares the compaction the
// sort of its new log's keys.
//
// The copy then reads the old log in key order, through a private map of
// it, one scattered record at a time, which costs more than the sort it
// saves (at 10M keys, 21 s where a copy in log order and its sort took
// 15 s). It needs the log mapped, and a complete snapshot of the live
// records, against which the order is checked before anything is copied
// (keyOrderedLive). Otherwise, and in a store nothing has scanned, the
// copy goes in log order.

// compactionOrder returns the store's key order for a compaction of the
// log up to *end, or nil if the store keeps none. If the order describes
// a later end, *end moves up to it: the compaction copies the records
// below it in key order, and the rest with its tail copy, so that its
// order and the records it copies describe the same moment. It is called
// before the compaction watches deaths and takes its snapshot of the live
// records, which must describe that end too.
func (db *DB) compactionOrder(end *int64) *orderSnap {
	s := db.ord.cur.Load()
	if s == nil {
		return nil
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.mu.index != s.idx || s.end > db.mu.c.size {
		return nil
	}
	*end = max(*end, s.end)
	return s
}

// keyOrderedLive returns the records below end that a compaction is to
// copy, in the order of their keys, and a private map of the log to read
// them from; or nil, nil when ord, the store's order as compactionOrder
// returned it, is nil or the copy cannot read in it. snap is the
// compaction's snapshot of the live records, which it must hold.
//
// The order is checked against snap before it is trusted. Every record of
// snap must be in it, once: no record comes alive, so a record live when
// the snapshot was taken was live at end, which the order describes. A
// record in the order but not in snap died between end and the snapshot,
// and is left out. Anything else — a record of snap missing, an offset
// twice — would be a fault of the order: it is dropped, for the next scan
// to rebuild from the index, and the copy goes in log order.
func (db *DB) keyOrderedLive(ord *orderSnap, end int64, snap *liveSnapshot) ([]uint64, *mapping) {
	if ord == nil || !snap.complete {
		return nil, nil
	}
	db.mu.RLock()
	if db.mu.index != ord.idx || db.mu.c.size < end {
		db.mu.RUnlock()
		return nil, nil
	}
	v := db.privateViewMuLocked()
	db.mu.RUnlock()
	if v.m == nil {
		return nil, nil
	}
	fail := func() ([]uint64, *mapping) {
		_ = v.m.unmap() // harmless: see mapping.unmap
		return nil, nil
	}
	// The order as of end, for this copy only: a scan extends the store's
	// own as it needs, and saves it, which this one would not be worth.
	s := ord
	if s.end < end {
		var err error
		if s, err = extendSnap(ord, v, end, true); err != nil {
			return fail()
		}
	}
	if s.end != end {
		return fail() // compactionOrder moved end up to it
	}
	live := s.run
	if len(s.ovl) > 0 {
		live = mergeRun(s.run, s.ovl, v)
	}
	live, ok := liveOf(live, snap.offs)
	if !ok {
		db.ord.cur.CompareAndSwap(ord, nil)
		return fail()
	}
	return live, v.m
}

// liveOf returns order, record offsets, without those that offs, the
// sorted offsets of the live records, does not hold, and whether order
// held each of offs once and no offset twice. order is not changed.
func liveOf(order []uint64, offs []int64) ([]uint64, bool) {
	sorted := make([]uint64, len(order))
	copy(sorted, order)
	radixSort(sorted)
	var dead map[uint64]bool
	j := 0
	for i, off := range sorted {
		switch {
		case i > 0 && off == sorted[i-1]:
			return nil, false
		case j < len(offs) && uint64(offs[j]) == off:
			j++
		case j < len(offs) && uint64(offs[j]) < off:
			return nil, false // offs[j] is not in order
		default:
			if dead == nil {
				dead = make(map[uint64]bool)
			}
			dead[off] = true
		}
	}
	if j != len(offs) {
		return nil, false
	}
	if dead == nil {
		return order, true
	}
	out := make([]uint64, 0, len(offs))
	for _, off := range order {
		if !dead[off] {
			out = append(out, off)
		}
	}
	return out, true
}

// copyInKeyOrder copies the live records, in key order, from m, a
// private map of the log, which it then releases.
func (db *DB) copyInKeyOrder(ctx context.Context, dst io.Writer, m *mapping, live []uint64, start, end int64, hdr walfmt.FileHeader, keep compact.Live, moved compact.Moved, progress func(int64)) (compact.Result, error) {
	defer func() { _ = m.unmap() }() // harmless: see mapping.unmap
	src := compact.Mapped{Log: m.data[:end], Name: db.path, Start: start, End: end, Live: live}
	return compact.CopyMapped(ctx, dst, src, hdr, keep, moved, progress)
}
