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
// sort of its new log's keys, which costs about what the copy does.
//
// The copy then reads the old log in key order, through a private map of
// it, one scattered record at a time: that needs the log mapped, and a
// complete snapshot of the live records, against which the order is
// checked before anything is copied (keyOrderedLive). Otherwise, and in a
// store nothing has scanned, the copy goes in log order.

// keyOrderedLive returns the records below end that a compaction is to
// copy, in the order of their keys, and a private map of the log to read
// them from; or nil, nil when the store keeps no key order or the copy
// cannot read in it. snap is the compaction's snapshot of the live
// records, which it must hold.
//
// The order is checked against snap before it is trusted: every record of
// snap must be in it once. A record in it but not in snap has died since
// the order was taken, and is left to the copy's keep, or copied and
// counted stale by the catch-up, as any record that dies during a
// compaction is. A mismatch the other way would be a fault of the order;
// it is dropped, for the next scan to rebuild from the index, and the copy
// goes in log order.
func (db *DB) keyOrderedLive(end int64, snap *liveSnapshot) ([]uint64, *mapping) {
	cur := db.ord.cur.Load()
	if !snap.complete || cur == nil {
		return nil, nil
	}
	db.mu.RLock()
	if db.mu.index != cur.idx || db.mu.c.size < end {
		db.mu.RUnlock()
		return nil, nil
	}
	v := db.privateViewMuLocked()
	db.mu.RUnlock()
	if v.m == nil {
		return nil, nil
	}
	// The order as of end, for this copy only: a scan extends the store's
	// own as it needs, and saves it, which this one would not be worth.
	s := cur
	if s.end < end {
		var err error
		if s, err = extendSnap(cur, v, end, true); err != nil {
			_ = v.m.unmap() // harmless: see mapping.unmap
			return nil, nil
		}
	}
	merged := s.run
	if len(s.ovl) > 0 {
		merged = mergeRun(s.run, s.ovl, v)
	}
	live := make([]uint64, 0, len(snap.offs))
	for _, off := range merged {
		if off < uint64(end) {
			live = append(live, off)
		}
	}
	if !holdsEachOnce(live, snap.offs) {
		db.ord.cur.CompareAndSwap(cur, nil)
		_ = v.m.unmap() // harmless: see mapping.unmap
		return nil, nil
	}
	return live, v.m
}

// holdsEachOnce reports whether order, record offsets, holds each of
// offs, which are sorted, and no offset twice.
func holdsEachOnce(order []uint64, offs []int64) bool {
	sorted := make([]uint64, len(order))
	copy(sorted, order)
	radixSort(sorted)
	j := 0
	for i, off := range sorted {
		if i > 0 && off == sorted[i-1] {
			return false
		}
		if j < len(offs) && uint64(offs[j]) == off {
			j++
		}
	}
	return j == len(offs)
}

// copyInKeyOrder copies the live records, in key order, from m, a
// private map of the log, which it then releases.
func (db *DB) copyInKeyOrder(ctx context.Context, dst io.Writer, m *mapping, live []uint64, start, end int64, hdr walfmt.FileHeader, keep compact.Live, moved compact.Moved, progress func(int64)) (compact.Result, error) {
	defer func() { _ = m.unmap() }() // harmless: see mapping.unmap
	src := compact.Mapped{Log: m.data[:end], Name: db.path, Start: start, End: end, Live: live}
	return compact.CopyMapped(ctx, dst, src, hdr, keep, moved, progress)
}
