package kv

import (
	"encoding/binary"
	"iter"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/crabkv/crabkv/walfmt"
	"github.com/dchest/siphash"
)

// slot is one cell of the index: where a key's live record sits in the log,
// and 32 bits of the key's hash. The key itself is not kept: it is in the
// log, and the index compares against it there. An empty slot has off 0
// (no record starts at offset 0, where the file header is).
//
// The layout is also the hint file's (see hint.go): 16 bytes, little-endian.
type slot struct {
	off  uint64
	hash uint32
	size uint32
}

// movedOff marks a slot of the old table of a growing index whose key has
// moved to the new table (see index). No record starts there, past any
// log a file system can hold, and the mark is never written to a hint.
const movedOff = math.MaxUint64

// keySource reads the key of the record at off, for the index to compare.
type keySource interface {
	keyAt(off int64) ([]byte, error)
	// keyOf is keyAt for a record the index holds: knowing its size, it
	// may read it without touching the log's map (see largeRecord).
	keyOf(s slot) ([]byte, error)
	// checkRecord verifies the checksum of the record of size bytes at off
	// unless it is known to be sound. A probe calls it before it passes
	// over a record whose hash matches but whose key differs: damage in
	// the key would otherwise hide the key it was, with no error.
	checkRecord(off int64, size int) error
}

// index maps keys to their records with open addressing and linear
// probing. It costs 16 bytes a slot, 21 to 43 bytes a key, and no Go
// pointers, so the garbage collector never scans it. DB.mu guards it
// (shared for get, exclusive for the rest), but for the lock-free Get,
// which reads it beside a writer and judges afterwards whether what it
// read holds (getfast.go): place writes a slot's offset last for it.
//
// The table grows incrementally, so that no single call pays for a copy of
// the whole table. When it passes three quarters full, a table twice its
// size is allocated beside it (an anonymous memory map where there are
// maps: a few system calls, its pages zeroed by the kernel as they are
// first touched) and becomes the current table; the full one becomes old.
// Every put and remove then moves the keys of the next migrateStep slots of
// old into the new table, and marks the slots they left movedOff rather
// than emptying them, so that the probe runs through old stay whole. A key
// is in exactly one of the two tables: get and remove look in both, put
// moves a key it finds in old, and new keys go to the new table only. Once
// every slot of old is passed, old is dropped, its memory released on a
// goroutine. The new table has room for old's keys and a quarter of its
// size more, and the migration ends long before that many keys arrive.
type index struct {
	slots []slot
	mask  uint32
	// mem holds the memory maps the tables live in, if they were loaded
	// from a hint file or allocated by a growth; nil while both are on the
	// Go heap.
	mem *tableMem
	// old is the table being migrated into slots, nil when none is.
	old     []slot
	oldMask uint32
	// releases counts the goroutines releasing old tables' memory.
	releases sync.WaitGroup
	// chk checks the table mapped from a hint file a chunk at a time, while
	// that table is slots or old; nil otherwise. bad is set once a chunk has
	// failed: every lookup then returns errHintDamaged. Readers set both
	// under DB.mu shared, hence atomics.
	chk *hintCheck
	bad atomic.Bool
	// hdr is the header of the log the index describes; k0 and k1 are its
	// hash key, the key of the hash function.
	hdr    walfmt.FileHeader
	k0, k1 uint64

	// The fields below change with most writes; the lock-free Get
	// (getfast.go) reads those above beside a writer, and the padding
	// keeps the writer's stores off their cache lines.
	_     [64]byte
	count int // keys in slots and old together
	// next is how far the migration of old has come: its slots below
	// next have been migrated.
	next int
	// moves counts the changes that move a key to another slot or table
	// (a growth, a migration step, a delete's backward shift): a scan of
	// the table in pieces, between which the lock is let go, saw every key
	// exactly where it was only if moves did not change (see collect).
	moves uint64
	// ckpt is the checkpoint writing slots out as a hint, nil when none
	// is: a writer saves a chunk for it before changing a slot of it (see
	// saving). Set and cleared by the checkpoint holding DB.mu shared,
	// read by writers holding it exclusively, and cleared by a growth,
	// which abandons the checkpoint, holding it exclusively.
	ckpt *checkpoint
}

// tableMem is the memory maps of an index's tables: cur for slots, old for
// old, each nil for a table on the Go heap, and the jobs faulting them in
// (see grow), each nil if there is none. An index that is dropped without
// close (a Verify's, a failed compaction's) releases them when the garbage
// collector finds it unreachable. A table's job is ended before the table
// is unmapped, so that no page is faulted in after its unmap. Its fields
// change with the tables, by a writer holding whatever lock readers of
// the index take (DB.mu, exclusively).
type tableMem struct {
	cur, old       []byte
	curPop, oldPop *popJob
}

// popJob faults the pages of a table in on a goroutine of its own, a step
// at a time, until it is done or stopped.
type popJob struct {
	stop atomic.Bool
	done chan struct{}
}

// populate starts a popJob for m, a growing index's new table. The
// migration writes each key of the old table's slot i at its home in the
// new one, which lies near i or near i plus the old table's size, half of
// m: so the job faults both halves in side by side, a step of each in
// turn, from their starts, ahead of the migration in both. Front to back,
// the second half was reached only once the first was done, and the
// migration wrote into it, a page fault under the lock each page, all
// the while.
func populate(m []byte) *popJob {
	j := &popJob{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		for lo, hi := range populateOrder(len(m)) {
			if j.stop.Load() {
				return
			}
			populateWrite(m[lo:hi])
		}
	}()
	return j
}

// populateOrder yields the pieces of a new table of n bytes, an even
// number (a table's size is a power of two slots), in the order populate
// faults them in: a step of the first half, then the same step of the
// second, and so on to the end of both.
func populateOrder(n int) iter.Seq2[int, int] {
	return func(yield func(lo, hi int) bool) {
		half := n / 2
		for off := 0; off < half; off += populateStep {
			if !yield(off, min(off+populateStep, half)) || !yield(half+off, min(half+off+populateStep, n)) {
				return
			}
		}
	}
}

// end stops j within a step and waits for it; j may be nil.
func (j *popJob) end() {
	if j != nil {
		j.stop.Store(true)
		<-j.done
	}
}

// setMapped records that the current table lives in the memory map m.
func (x *index) setMapped(m []byte) {
	if m == nil && x.mem == nil {
		return
	}
	if x.mem == nil {
		x.mem = &tableMem{}
		runtime.AddCleanup(x, func(t *tableMem) {
			// Nothing can use the tables any more; an unmap fails only
			// as mapping.unmap can, harmlessly.
			t.curPop.end()
			t.oldPop.end()
			_ = unmapSlots(t.cur)
			_ = unmapSlots(t.old)
		}, x.mem)
	}
	x.mem.cur = m
}

// mapped returns the memory maps of the current and old tables.
func (x *index) mapped() (cur, old []byte) {
	if x.mem == nil {
		return nil, nil
	}
	return x.mem.cur, x.mem.old
}

const (
	minSlots = 1 << 10
	// A table grows when it is three quarters full: linear probing stays
	// short below that.
	maxLoadNum, maxLoadDen = 3, 4
	// migrateStep is how many slots of the old table each write moves
	// while the index grows: 64 slots are a kilobyte to read and at most
	// 64 inserts, a few microseconds. Growth starts with the new table a
	// quarter of its size short of full, and old is passed in about
	// len(old)/64 writes, long before that many keys can arrive.
	migrateStep = 64
)

// newIndex returns an empty index for about keys keys of the log whose
// header is hdr.
func newIndex(keys int, hdr walfmt.FileHeader) *index {
	n := halfFull(keys)
	x := &index{slots: make([]slot, n), mask: uint32(n - 1)}
	x.setHashKey(hdr)
	return x
}

// halfFull returns the number of slots of a new index for keys keys: the
// least power of two, minSlots at least, they fill at most half of.
func halfFull(keys int) int {
	n := minSlots
	for n < 2*keys {
		n *= 2
	}
	return n
}

// setHashKey keys the index's hash with the hash key of the log it
// describes, before anything is inserted.
func (x *index) setHashKey(hdr walfmt.FileHeader) {
	x.hdr = hdr
	x.k0 = binary.LittleEndian.Uint64(hdr.HashKey[:8])
	x.k1 = binary.LittleEndian.Uint64(hdr.HashKey[8:])
}

// hash returns key's hash: SipHash-2-4 under the log's secret hash key, cut
// to 32 bits. It is part of the hint file's format. A keyed hash is what
// keeps the table's probes short whoever chooses the keys: with an unkeyed
// one, colliding keys are easy to make, and each costs every later lookup
// of its kind a longer probe. (Version 1 logs have a zero hash key; a
// compaction gives them a secret one.)
func (x *index) hash(key []byte) uint32 {
	return uint32(siphash.Hash(x.k0, x.k1, key))
}

// hash64 returns the whole keyed hash of key, of which hash is the low
// half.
func (x *index) hash64(key []byte) uint64 {
	return siphash.Hash(x.k0, x.k1, key)
}

// checked reports whether slot i of table t may be used: t is not the
// table from a hint, or the chunk holding i has passed its check. A chunk
// that fails marks the index bad.
func (x *index) checked(t []slot, i uint32) bool {
	if x.chk == nil || !x.chk.covers(t) || x.chk.check(i) {
		return true
	}
	x.bad.Store(true)
	return false
}

// findIn returns the position of key's slot in table t, or -1. It passes
// over slots marked movedOff.
func (x *index) findIn(t []slot, mask uint32, key []byte, h uint32, src keySource) (int, error) {
	if x.bad.Load() {
		return -1, errHintDamaged
	}
	lazy := x.chk.covers(t)
	i := h & mask
	for range t { // a table loaded from a damaged hint may have no empty slot
		if lazy && !x.checked(t, i) {
			return -1, errHintDamaged
		}
		s := &t[i]
		if s.off == 0 {
			return -1, nil
		}
		if s.hash != h || s.off == movedOff {
			i = (i + 1) & mask
			continue
		}
		k, err := src.keyOf(*s)
		if err != nil {
			return -1, err
		}
		if string(k) == string(key) {
			return int(i), nil
		}
		if err := src.checkRecord(int64(s.off), int(s.size)); err != nil {
			return -1, err
		}
		i = (i + 1) & mask
	}
	return -1, nil
}

// find returns the table holding key's slot and the slot's position in it,
// or a nil slot.
func (x *index) find(key []byte, h uint32, src keySource) (*slot, bool, error) {
	i, err := x.findIn(x.slots, x.mask, key, h, src)
	if err != nil || i >= 0 {
		return slotAt(x.slots, i), false, err
	}
	if x.old == nil {
		return nil, false, nil
	}
	i, err = x.findIn(x.old, x.oldMask, key, h, src)
	return slotAt(x.old, i), true, err
}

func slotAt(t []slot, i int) *slot {
	if i < 0 {
		return nil
	}
	return &t[i]
}

// get returns key's slot.
func (x *index) get(key []byte, src keySource) (slot, bool, error) {
	s, _, err := x.find(key, x.hash(key), src)
	if s == nil || err != nil {
		return slot{}, false, err
	}
	return *s, true, nil
}

// put points key at a record and returns the slot it replaced, if any.
func (x *index) put(key []byte, off int64, size int, src keySource) (slot, bool, error) {
	h := x.hash(key)
	s, inOld, err := x.find(key, h, src)
	if err != nil {
		return slot{}, false, err
	}
	if s == nil {
		x.insertNew(h, off, size)
		return slot{}, false, nil
	}
	old := *s
	if inOld {
		// Move the key now: the new table has room for every key of old.
		s.off = movedOff
		x.moves++
		x.place(slot{off: uint64(off), hash: h, size: uint32(size)})
	} else {
		x.saving(x.slotIndex(s))
		s.off, s.size = uint64(off), uint32(size)
	}
	x.migrate()
	return old, true, nil
}

// insertNew adds a key known not to be in the index.
func (x *index) insertNew(h uint32, off int64, size int) {
	x.migrate()
	if x.full() {
		x.grow()
	}
	if !x.place(slot{off: uint64(off), hash: h, size: uint32(size)}) {
		// Full: only a table loaded from a damaged hint can be, and the
		// check of the hint is about to replace it.
		x.finishGrowth()
		x.grow()
		x.finishGrowth()
		x.place(slot{off: uint64(off), hash: h, size: uint32(size)})
	}
	x.count++
}

// full reports whether one more key would take the table past its load.
func (x *index) full() bool {
	return (x.count+1)*maxLoadDen > len(x.slots)*maxLoadNum
}

// place puts s in the first free slot of its probe run in the current
// table, and reports false if there is none. The slot's offset is written
// last: a lock-free Get that reads the slot meanwhile finds it empty or
// whole (see DB.quietMuLocked).
func (x *index) place(s slot) bool {
	i := s.hash & x.mask
	for n := 0; !x.checked(x.slots, i) || x.slots[i].off != 0; n++ {
		if n == len(x.slots) {
			return false
		}
		i = (i + 1) & x.mask
	}
	x.saving(i)
	t := &x.slots[i]
	t.hash, t.size = s.hash, s.size
	t.off = s.off
	return true
}

// saving is called before a slot of the current table changes: a running
// checkpoint saves the slot's chunk first, as it was (see checkpoint.go).
func (x *index) saving(i uint32) {
	if p := x.ckpt; p != nil {
		p.saveChunk(i / chunkSlots)
	}
}

// slotIndex returns the position of s, a slot of the current table.
func (x *index) slotIndex(s *slot) uint32 {
	return uint32((uintptr(unsafe.Pointer(s)) - uintptr(unsafe.Pointer(unsafe.SliceData(x.slots)))) / unsafe.Sizeof(slot{}))
}

// grow starts a growth: a table twice the size becomes the current one,
// and the current one becomes old, to be migrated a step at a time. A
// growth still under way is finished first (only a table from a damaged
// hint outgrows the new table before it is).
func (x *index) grow() {
	x.finishGrowth()
	// A checkpoint saves one table, as it was: a growth moves every key.
	x.ckpt.abandonForGrowth()
	x.ckpt = nil
	n := 2 * len(x.slots)
	slots, m := allocSlots(n)
	cur, _ := x.mapped()
	x.moves++
	x.old, x.oldMask, x.next = x.slots, x.mask, 0
	x.slots, x.mask = slots, uint32(n-1)
	x.setMapped(m)
	if x.mem != nil {
		x.mem.old, x.mem.oldPop, x.mem.curPop = cur, x.mem.curPop, nil
		// The migration and the inserts write the new table at random:
		// each page's first write would fault, under the lock every
		// reader needs, and a fault on a virtual machine can take the
		// host milliseconds. Fault the table in beside them instead; it
		// holds zeros either way.
		if len(m) >= populateTableMin {
			x.mem.curPop = populate(m)
		}
	}
}

// populateTableMin is the smallest table grow faults in ahead of use, and
// populateStep how much a popJob faults in between looks at its stop.
const (
	populateTableMin = 1 << 20
	populateStep     = 2 << 20
)

// migrate moves the keys of the next migrateStep slots of old into the
// current table, and ends the growth once all of old is passed.
func (x *index) migrate() { x.migrateSlots(migrateStep) }

// migrateSlots moves the keys of the next n slots of old into the current
// table, and ends the growth once all of old is passed.
func (x *index) migrateSlots(n int) {
	if x.old == nil {
		return
	}
	end := min(x.next+n, len(x.old))
	for i := x.next; i < end; i++ {
		s := &x.old[i]
		if x.checked(x.old, uint32(i)) && s.off != 0 && s.off != movedOff {
			// The new table is never full during a growth: see index.
			x.place(*s)
			s.off = movedOff
			x.moves++
		}
	}
	x.next = end
	if end == len(x.old) {
		x.endGrowth()
	}
}

// finishGrowth migrates whatever is left of old at once: before the table
// is written out as a hint, and before a new growth.
func (x *index) finishGrowth() {
	for x.old != nil {
		x.migrate()
	}
}

// endGrowth drops the old table. Its memory is released on a goroutine:
// tearing down the pages of a large map takes milliseconds, and the caller
// holds the lock every reader needs. Nothing can use old afterwards: the
// only way to it was through x, under that lock.
func (x *index) endGrowth() {
	_, mapped := x.mapped()
	if x.chk.covers(x.old) {
		x.chk = nil
	}
	x.old, x.oldMask, x.next = nil, 0, 0
	if mapped == nil {
		return
	}
	pop := x.mem.oldPop
	x.mem.old, x.mem.oldPop = nil, nil
	x.releases.Add(1)
	go func() {
		defer x.releases.Done()
		pop.end()
		// Releasing memory the table no longer uses can only fail as
		// mapping.unmap can, harmlessly.
		_ = x.release(mapped)
	}()
}

// remove deletes key and returns its slot, if it was there.
func (x *index) remove(key []byte, src keySource) (slot, bool, error) {
	h := x.hash(key)
	i, err := x.findIn(x.slots, x.mask, key, h, src)
	if err != nil {
		return slot{}, false, err
	}
	if i >= 0 {
		old := x.slots[i]
		x.removeAt(uint32(i))
		x.migrate()
		return old, true, nil
	}
	if x.old == nil {
		return slot{}, false, nil
	}
	i, err = x.findIn(x.old, x.oldMask, key, h, src)
	if i < 0 || err != nil {
		return slot{}, false, err
	}
	old := x.old[i]
	x.old[i].off = movedOff // a mark, not a hole: the run through it stays whole
	x.count--
	x.migrate()
	return old, true, nil
}

// removeAt empties slot i of the current table and shifts back the slots
// after it that would otherwise become unreachable (backward-shift
// deletion: no tombstones, so lookups never slow down after many deletes).
func (x *index) removeAt(i uint32) {
	j := (i + 1) & x.mask
	for range x.slots { // bounded, for a table from a damaged hint
		if !x.checked(x.slots, j) {
			break // the index is bad now, and is about to be replaced
		}
		s := x.slots[j]
		if s.off == 0 {
			break
		}
		home := s.hash & x.mask
		// Move s into the hole at i unless its home lies cyclically in
		// (i, j], where it is still reachable without passing i.
		if (j-home)&x.mask >= (j-i)&x.mask {
			x.saving(i)
			x.slots[i] = s
			i = j
		}
		j = (j + 1) & x.mask
	}
	x.saving(i)
	x.slots[i] = slot{}
	x.count--
	x.moves++
}

// release unmaps a table's memory once the index no longer uses it. The
// caller holds whatever lock readers of the table take, or knows that no
// reader can reach the table any more. Its error is mapping.unmap's, and
// as harmless.
func (x *index) release(mapped []byte) error {
	return unmapSlots(mapped)
}

// close releases the tables' memory maps, if any, once the releases of
// earlier growths have ended.
func (x *index) close() error {
	if x == nil {
		return nil
	}
	cur, old := x.mapped()
	if x.mem != nil {
		x.mem.curPop.end()
		x.mem.oldPop.end()
		x.mem.curPop, x.mem.oldPop = nil, nil
	}
	err := x.release(cur)
	if oerr := x.release(old); err == nil {
		err = oerr
	}
	x.releases.Wait()
	x.slots, x.old = nil, nil
	if x.mem != nil {
		x.mem.cur, x.mem.old = nil, nil
	}
	return err
}

// each calls fn for every key's slot until fn returns false. Its error is
// errHintDamaged if it meets a damaged chunk of a hint.
func (x *index) each(fn func(s slot) bool) error {
	if x.bad.Load() {
		return errHintDamaged
	}
	for _, t := range [][]slot{x.slots, x.old} {
		for i, s := range t {
			if i%chunkSlots == 0 && !x.checked(t, uint32(i)) {
				return errHintDamaged
			}
			if s.off != 0 && s.off != movedOff && !fn(s) {
				return nil
			}
		}
	}
	return nil
}

// collect appends to offs the offsets below end of the keys in positions
// [from, from+n) of the current table followed by the old one, and returns
// them and the next position, or -1 past the end. Its error is
// errHintDamaged if it meets a damaged chunk of a hint.
func (x *index) collect(offs []int64, from, n int, end int64) ([]int64, int, error) {
	if x.bad.Load() {
		return offs, from, errHintDamaged
	}
	// An offset o is taken if 0 < o < end, which also leaves out movedOff
	// (the largest uint64): o-1 < end-1, unsigned. Each is written, and
	// the length moves on only past those taken: a branch a slot, taken
	// for about every other one at random and mispredicted as often, made
	// the pass seven times as long (BenchmarkCollect: 10.4 ms against 1.5
	// for 2M slots, half of them used).
	limit := uint64(max(end, 1)) - 1
	next, base := from+n, 0
	for _, t := range [][]slot{x.slots, x.old} {
		lo, hi := max(from-base, 0), min(next-base, len(t))
		for i := lo; i < hi; {
			if !x.checked(t, uint32(i)) {
				return offs, from, errHintDamaged
			}
			stop := min(hi, (i/chunkSlots+1)*chunkSlots) // the chunk's end
			if cap(offs)-len(offs) < stop-i {
				// Near the end of offs, whose room the caller sized for
				// the keys: append only what is taken.
				for _, s := range t[i:stop] {
					if s.off-1 < limit {
						offs = append(offs, int64(s.off))
					}
				}
				i = stop
				continue
			}
			k, dst := len(offs), offs[:cap(offs)]
			for _, s := range t[i:stop] {
				dst[k] = int64(s.off)
				if s.off-1 < limit {
					k++
				}
			}
			offs, i = offs[:k], stop
		}
		base += len(t)
	}
	if next >= base {
		return offs, -1, nil
	}
	return offs, next, nil
}

// memory returns the size of the tables in bytes.
func (x *index) memory() int64 {
	return int64(len(x.slots)+len(x.old)) * int64(unsafe.Sizeof(slot{}))
}
