package kv

import "os"

// A NoSync writer copies its small records into the shared map of the log
// (see DB.appendLocked and mapCopyBelow). Each page it writes stays mapped
// into the process afterwards and counts in its resident memory (RssFile),
// although the kernel keeps the data in its page cache either way: a fill
// of 800 MiB of records would leave 800 MiB resident. So the writer releases the pages
// behind it from the map as it goes, with MADV_DONTNEED, which on a shared
// file map only unmaps them: a page the writer dirtied is marked dirty in
// the page cache as it is unmapped, and reaches the file as any other, by
// writeback, fdatasync or a crash of the process alike. A reader that
// touches a released page maps it again from the page cache (a minor
// fault, which maps the pages around it too).
//
// The most recent keepMapped bytes stay mapped, so that reads of keys just
// written find their pages; pages further back are released dropStep bytes
// at a time, so that one madvise, and the one TLB flush it makes, serves
// many records. What the writer keeps mapped is thus at most about
// keepMapped+dropStep bytes and the record being written.
const (
	keepMapped = 4 << 20
	dropStep   = 4 << 20
)

// dropBehind is how far the writer has released the pages it wrote into a
// map. It is guarded by wmu.
type dropBehind struct {
	m    *mapping // the map that done refers to
	done int64    // the pages of m below done are released, or were never written
}

// releaseBehindLocked releases, from m, the pages the writer wrote that lie
// more than keepMapped bytes behind end, the log's tail, once there are
// dropStep bytes of them. start is where the record just copied into m
// began. The caller holds wmu.
func (db *DB) releaseBehindLocked(m *mapping, start, end int64) {
	d := &db.behind
	if d.m != m {
		// A new map, after a remap or a compaction's swap: the writer
		// has written nothing into it below this record.
		d.m, d.done = m, pageFloor(start)
	}
	to := pageFloor(end - keepMapped)
	if to-d.done < dropStep {
		return
	}
	releasePages(m.data[d.done:to])
	d.done = to
}

// pageFloor rounds off down to a page boundary.
func pageFloor(off int64) int64 {
	pg := int64(os.Getpagesize())
	return off / pg * pg
}
