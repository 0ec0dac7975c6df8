package kv

import "github.com/crabkv/crabkv/walfmt"

// A compaction beside a busy writer copies, besides the live records below
// its end, everything the writer appended while it ran: its catch-up
// (tailCopy) reads that tail of the old log, keeps what is still live and
// applies it to the new index. Applied record by record, each costs a
// lookup in the store's index, to learn whether it is still live, and an
// insert into the new one, whose probe compares keys with records of the
// new log: cache misses at random places of two tables and of the log, a
// microsecond a record, as much as the writer spends appending it. So a
// writer that overwrites every key kept the compaction busy for as long
// again after its last write.
//
// Where the store marks the records that die (deadSet), the catch-up
// instead learns from the marks whether a record is still live, and
// collects the new log's records — the rewrite's and the tail's, in the
// new log's order — to build the new index from, in one pass sorted by
// home slot, as a replay does (replay_bulk.go). The rewrite's records that
// died since they were copied are left out of the build first, by their
// marks. (A tail record written before the marks began — watchDeaths
// starts them after the compaction fixes its end — or past the part of the
// tail the set covers is looked up in the index, as before.) What is left holds each key once; a key's records
// that a mark missed all the same would not make the index wrong: the
// build applies the records of a key in the order of the new log, with
// the key compared, so the later record wins and a tombstone deletes what
// precedes it. The marks save work; they are never what makes the index
// right.
//
// The collection ends at the first tail record with an expiry or a value
// codec, which the expiry table must follow one replacement at a time
// (expiries.forget): the index is built from what was collected, and the
// rest of the tail is applied record by record.
type tailCollect struct {
	// es is the rewrite's records, all puts, each at the offset where it
	// lay in the old log, the place its death is marked; to is where each
	// is in the new log.
	es []slot
	to []uint64
	// tail is the tail's records, puts and tombstones (with tombBit in
	// their size), in a buffer outside the Go heap (as a replay's
	// collection, and for its reason: see bulkReplay), which tailMem
	// maps, if it is a map.
	tail    []slot
	tailMem []byte
	puts    int // puts in es and tail
	dead    *deadSet
	// hasher hashes keys with the new log's hash key.
	hasher *index
	// arena holds to, and the index is built in it (see compactArena).
	arena *compactArena
}

// newTailCollect collects for a catch-up after a rewrite that copied the
// records es, whose offsets are the old log's, to the offsets to.
func newTailCollect(es []slot, to []uint64, dead *deadSet, hasher *index, a *compactArena) *tailCollect {
	return &tailCollect{es: es, to: to, puts: len(es), dead: dead, hasher: hasher, arena: a}
}

// release frees the tail's buffer.
func (t *tailCollect) release() {
	// Nothing else holds it; an unmap fails only as mapping.unmap can,
	// harmlessly.
	_ = unmapSlots(t.tailMem)
	t.tail, t.tailMem = nil, nil
}

// alive reports whether the tail record at off, with the given kind, is
// to be copied, and whether the marks could tell (known). A tombstone is
// always copied (see tailCopy.add).
func (t *tailCollect) alive(kind walfmt.Kind, off int64) (copied, known bool) {
	if kind != walfmt.KindPut {
		return true, true
	}
	if !t.dead.covers(off) {
		return false, false
	}
	return !t.dead.marked(off), true
}

// add collects a record of the tail, now at off in the new log.
func (t *tailCollect) add(kind walfmt.Kind, key []byte, off int64, size int) {
	s := slot{off: uint64(off), hash: t.hasher.hash(key), size: uint32(size)}
	if kind == walfmt.KindDelete {
		s.size |= tombBit
	} else {
		t.puts++
	}
	if len(t.tail) == cap(t.tail) {
		grown, m := allocFilled(max(2*cap(t.tail), 4096))
		grown = grown[:copy(grown, t.tail)]
		t.release()
		t.tail, t.tailMem = grown, m
	}
	t.tail = append(t.tail, s)
}

// build makes the new index of the collected records, reading their keys
// from src, the new log, where two share a hash; it returns the index and
// the bytes of the records left live in it.
func (t *tailCollect) build(hdr walfmt.FileHeader, src keySource) (*index, int64, error) {
	defer t.release()
	// Leave out the rewrite's records that died after they were copied:
	// what replaced them, a put or a tombstone, was published first, so it
	// is in the tail collected, or comes with a later round, applied.
	// They are filtered into the rewrite's own buffer where the tail fits
	// after them, as it does when writers were quiet: nothing else reads
	// it. Else into a new one.
	es := t.es[:cap(t.es)]
	if len(t.es)+len(t.tail) > cap(t.es) {
		var esMem []byte
		es, esMem = allocFilled(len(t.es) + len(t.tail))
		// Nothing else holds es; see release.
		defer func() { _ = unmapSlots(esMem) }()
	}
	n := 0
	for i, s := range t.es {
		if t.dead.marked(int64(s.off)) {
			t.puts--
			continue
		}
		s.off = t.to[i]
		es[n] = s
		n++
	}
	n += copy(es[n:], t.tail)
	es = es[:n]
	// Nothing reads to from here on: the arena's room for it serves the
	// sort.
	x, sorted, done := sortedTable(t.arena, es, tableFor(t.puts), hdr) // sized as a replay's, and newIndexOf's
	live, err := x.applySorted(sorted, src)
	done()
	if err != nil {
		_ = x.close() // never shared
		return nil, 0, err
	}
	return x, live, nil
}
