package kv

import (
	"errors"
	mathbits "math/bits"
	"unsafe"

	"github.com/crabkv/crabkv/walfmt"
)

// A replay of a whole log into an empty index does not insert the records
// one by one, in the order of the log: each insert would be a cache miss
// (and, in a table larger than the TLB covers, a page walk) at a random
// place of the table, and the table would grow and migrate its keys a
// dozen times on the way to its final size. It collects the records
// instead — offset, key hash, size, and whether it is a tombstone: 16
// bytes each — and applies them at the end, in one pass over a table
// allocated at once, sorted by the slot each key's probe starts at. The
// sort is stable, so the records of one key, which share its hash and
// hence its home slot, are still applied in the order of the log: the
// later record wins, and a tombstone deletes what precedes it, exactly as
// record by record. Records of different keys commute. The counters come
// out the same too: the live bytes are those of the slots left in the
// table, and every other byte of the records is stale.
//
// Only records without an expiry or a value codec are collected: the
// expiry table follows each replacement in order (see expiries.forget).
// At the first record that has either, the collected records are applied
// (flush) and the rest of the log is replayed record by record, which
// gives the same state, since a replay is a fold over the records.

// tombBit marks a collected record as a tombstone, in the top bit of its
// size (a record is at most a few hundred megabytes).
const tombBit = 1 << 31

// Two records whose keys share their 32-bit hash — a few thousand pairs
// among ten million keys, besides every overwrite — have their keys read
// and compared as they are applied: reads at two random places of the log,
// which the replay read through the file, not its map, so that each
// faults a page of the map in. So a collected record also carries 16 more
// bits of its key's hash, its tag, in the top bits of its offset: two
// records whose tags differ have different keys, and need no comparison
// (see mayShareKey). Tag 0 means none (a record collected elsewhere, as
// by a compaction), whose key is always compared.
const (
	tagShift = 48
	offMask  = 1<<tagShift - 1
)

// tagOf returns the tag of a key whose whole hash is h: never 0.
func tagOf(h uint64) uint64 { return max(h>>tagShift, 1) }

// bulkReplay collects the records of a replay into an empty index.
type bulkReplay struct {
	es   []slot // in log order; size carries tombBit for a tombstone
	puts int    // collected puts: at most this many keys are live
	base int64  // c.size before the first record: the header's size
	end  int64  // end of the last collected record
	size int64  // end of the log being replayed
	// esMem is the map es lives in once reserve has moved it there.
	esMem []byte
	// sampled is set once the collection has reserved room for the
	// whole log, from the records of its sample.
	sampled bool
	// onto, when not 0, says that the records are applied onto the keys
	// of a hint (see newTailReplay): the log's records below it.
	onto int64
}

// newBulkReplay returns a collector for a replay into idx, or nil when idx
// is not the empty index of a replay from the start.
func newBulkReplay(idx *index, c *counters, size int64) *bulkReplay {
	if idx.count != 0 || idx.old != nil || idx.mem != nil || idx.chk != nil || c.live != 0 || c.stale != 0 || c.exp != nil {
		return nil
	}
	return &bulkReplay{base: c.size, end: c.size, size: size}
}

// newTailReplay returns a collector for the replay of the log from from,
// the end a hint covers, to size, into idx, the index mapped from that
// hint, or nil to replay record by record. A checkpoint's hint can be
// followed by hundreds of mebibytes of log (see checkpoint.go): applied
// one by one, each record costs a cache miss and a page walk at a random
// place of a table of hundreds of mebibytes; sorted by home slot, they
// are applied in one pass. A short tail, as after Close, is replayed
// record by record, touching only the chunks of the hint it needs.
//
// The hint's keys have no tags, and any of them may be the key of a
// record of the tail: a probe compares keys with every slot of its hash
// that holds a record before from (see keyProbe). A hint whose expiry
// table holds anything is replayed record by record, as the expiry table
// follows each replacement.
func newTailReplay(idx *index, c *counters, from, size int64) *bulkReplay {
	if idx.old != nil || c.exp.len() != 0 || (c.exp != nil && c.exp.encoded != 0) ||
		size-from < int64(len(idx.slots))*int64(unsafe.Sizeof(slot{}))/64 {
		return nil
	}
	return &bulkReplay{base: from, end: from, size: size, onto: from}
}

// add collects rec, a record or a batch, and reports true; or, if it
// or an operation of it has an expiry or a value codec, collects nothing
// of it and reports false. rec came from a walfmt.Reader, which checked
// its checksum, and a batch's operations with it.
func (b *bulkReplay) add(idx *index, rec walfmt.Record) bool {
	if rec.Kind == walfmt.KindBatch {
		n, puts := len(b.es), b.puts
		// The reader has checked the batch: ForEachSealedOp cannot fail
		// on it but where fn does.
		if walfmt.ForEachSealedOp(rec, func(op *walfmt.Record) error {
			if op.Flags&walfmt.FlagExpiry != 0 || op.Codec != 0 || op.Offset > offMask {
				return errNotCollectable
			}
			b.addOne(idx, op)
			return nil
		}) != nil {
			b.es, b.puts = b.es[:n], puts
			return false
		}
	} else {
		if metaOf(rec).any() || rec.Offset > offMask {
			return false // (a log of 256 TiB has no room for a tag)
		}
		b.addOne(idx, &rec)
	}
	b.end = rec.Offset + int64(rec.Size)
	if len(b.es) >= sampleRecords && !b.sampled && b.size > b.end {
		// Reserve room for the whole log at the average size of the
		// records so far, so that the collection is not copied as it
		// grows. It lives outside the Go heap, like the index's tables:
		// hundreds of megabytes that hold no pointers, which would
		// otherwise make the garbage collector run at every doubling.
		// (At or past the sample: a batch adds many records at once.)
		b.sampled = true
		per := float64(b.end-b.base) / float64(len(b.es))
		b.reserve(int(float64(b.size-b.base)/per*1.05) + sampleRecords)
	}
	return true
}

// errNotCollectable stops add's walk of a batch at an operation it cannot
// collect.
var errNotCollectable = errors.New("kv: replay: an operation with an expiry or codec")

// reserve moves the collection into a buffer of room for n records,
// outside the Go heap where the system has maps.
func (b *bulkReplay) reserve(n int) {
	es, m := allocScratch(n)
	es = es[:copy(es, b.es)]
	b.release()
	b.es, b.esMem = es, m
}

// release frees the collection's buffer, if it is a map.
func (b *bulkReplay) release() {
	// Nothing else holds the buffer; an unmap fails only as
	// mapping.unmap can, harmlessly.
	_ = unmapSlots(b.esMem)
	b.es, b.esMem = nil, nil
}

// sampleRecords is how many records a collection sees before it reserves
// room for the rest of the log.
const sampleRecords = 4096

func (b *bulkReplay) addOne(idx *index, rec *walfmt.Record) {
	h := idx.hash64(rec.Key)
	s := slot{off: uint64(rec.Offset) | tagOf(h)<<tagShift, hash: uint32(h), size: uint32(rec.Size)}
	if rec.Kind == walfmt.KindDelete {
		s.size |= tombBit
	} else {
		b.puts++
	}
	if len(b.es) == cap(b.es) && b.esMem != nil {
		b.reserve(2 * cap(b.es)) // the estimate was short
	}
	b.es = append(b.es, s)
}

// flush applies the collected records to idx and c, which must be as
// newBulkReplay (or newTailReplay) found them, and releases them.
func (b *bulkReplay) flush(idx *index, c *counters, src keySource) error {
	defer b.release()
	es := b.es
	if len(es) == 0 {
		c.size = b.end
		return nil
	}
	if b.onto != 0 {
		return b.flushOnto(idx, c, src)
	}
	n := tableFor(b.puts)
	tmp, tmpMem := allocFilled(len(es))
	// Nothing else holds tmp: see release.
	defer func() { _ = unmapSlots(tmpMem) }()
	sorted := sortByHomeParallel(es, tmp, uint32(n-1))
	if n != len(idx.slots) {
		slots, m := allocScratch(n)
		idx.slots, idx.mask = slots, uint32(n-1)
		idx.setMapped(m)
	}
	live, err := idx.applySortedParallel(sorted, src)
	if err != nil {
		return err
	}
	if k := tableFor(idx.count); k < n {
		// Most puts were overwritten or deleted: a growth would not
		// have made the table this large.
		idx.shrink(k, es[:0], tmp[:0])
	}
	c.size = b.end
	c.live = live
	c.stale = b.end - b.base - live
	return nil
}

// flushOnto is flush onto the keys of the hint idx was mapped from. Every
// chunk of the hint is checked first, on several goroutines: the pass
// reads most of them, and a damaged one makes the replay start over from
// the log (DB.replay). If the keys would fill the table past three
// quarters, they move to a larger one first.
func (b *bulkReplay) flushOnto(idx *index, c *counters, src keySource) error {
	if idx.chk.covers(idx.slots) && !idx.chk.checkAllParallel() {
		return errHintDamaged
	}
	if n := tableFor(idx.count + b.puts); n > len(idx.slots) {
		idx.regrow(n)
	} else if cur, _ := idx.mapped(); cur != nil {
		// The hint's map is private: the first write to each page
		// copies it. Taking those copies a fault at a time spent 3.4 s
		// of a 4.3 s Open of 10M keys (274 MiB of log after a hint of
		// 2^24 slots, 65,536 pages); taking them in one call
		// (MADV_POPULATE_WRITE) still copies a page at a time, each
		// copy flushing the page from every processor's TLB (the pass
		// above has read it), and leaves the table in 4 KiB pages. A
		// table of the same size, written front to back into memory
		// advised for huge pages, costs less.
		idx.regrow(len(idx.slots))
	}
	tmp, tmpMem := allocFilled(len(b.es))
	// Nothing else holds tmp: see release.
	defer func() { _ = unmapSlots(tmpMem) }()
	sorted := sortByHomeParallel(b.es, tmp, idx.mask)
	// One goroutine: applySortedParallel's regions hold only the keys
	// whose home lies in them, which a table with keys already in it does
	// not promise.
	live, err := idx.applySortedRange(sorted, 0, len(sorted), src, b.onto)
	if err != nil {
		return err
	}
	c.size = b.end
	c.live += live
	c.stale += b.end - b.base - live
	return nil
}

// regrow moves the keys of x, a table without an old one, into a new
// table of n slots, as large or larger, front to back: the key of slot i
// of the old table goes near i (or, in a larger one, near i plus the old
// size), so the new table is written in sequential runs.
func (x *index) regrow(n int) {
	cur, _ := x.mapped()
	oldSlots := x.slots
	slots, m := allocScratch(n)
	x.slots, x.mask = slots, uint32(n-1)
	x.setMapped(m)
	x.moves++
	for _, s := range oldSlots {
		if s.off != 0 {
			x.place(s)
		}
	}
	if x.chk.covers(oldSlots) {
		x.chk = nil
	}
	// The old table was never shared: nothing else can reach it.
	_ = x.release(cur)
}

// tableFor returns the number of slots a growing index reaches for keys
// keys: the least power of two, minSlots at least, keys fill at most three
// quarters of.
func tableFor(keys int) int {
	n := minSlots
	for keys*maxLoadDen > n*maxLoadNum {
		n *= 2
	}
	return n
}

// sortByHome sorts es by home slot under mask, stably, using tmp, as long
// as es, as scratch, and returns the sorted slice: es or tmp. It is a
// radix sort in passes of at most 12 bits: 4096 buckets, whose write
// positions stay in the caches, where 16-bit passes would scatter to 65536.
func sortByHome(es, tmp []slot, mask uint32) []slot {
	bits := uint(32 - mathbits.LeadingZeros32(mask))
	passes := (bits + 11) / 12
	if passes == 0 {
		return es
	}
	width := (bits + passes - 1) / passes
	digit := uint32(1)<<width - 1
	src, dst := es, tmp[:len(es)]
	for shift := uint(0); shift < bits; shift += width {
		var count [1<<12 + 1]int
		for _, s := range src {
			count[(s.hash&mask)>>shift&digit+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, s := range src {
			d := (s.hash & mask) >> shift & digit
			dst[count[d]] = s
			count[d]++
		}
		src, dst = dst, src
	}
	return src
}

// applySorted applies the collected records es, sorted by home slot, to
// the empty current table of x, which has room for every put of es at
// three quarters full, and returns the bytes of the records left live.
// The records of a key are applied in the order es holds them. An entry's
// offset may carry a tag (see tagShift).
func (x *index) applySorted(es []slot, src keySource) (int64, error) {
	return x.applySortedRange(es, 0, len(es), src, 0)
}

// applySortedRange is applySorted of es[from:to], the records of es before
// from applied already, to the table they were applied to — and perhaps
// records after to, with other home slots (applySortedParallel), which
// share no hash with es[from:to]. If old is not 0, the table held keys
// before es, all of records of the log before old (see newTailReplay).
func (x *index) applySortedRange(es []slot, from, to int, src keySource, old int64) (int64, error) {
	t, mask := x.slots, x.mask
	var live int64
	for j := from; j < to; j++ {
		e := es[j]
		size := e.size &^ tombBit
		off := e.off & offMask
		i := e.hash & mask
		p := keyProbe{es: es, j: j, mask: mask, src: src, old: old}
		for t[i].off != 0 {
			if s := &t[i]; s.hash == e.hash {
				same, err := p.holds(s)
				if err != nil {
					return 0, err
				}
				if same {
					break
				}
			}
			i = (i + 1) & mask
		}
		s := &t[i]
		switch {
		case s.off != 0 && e.size&tombBit != 0:
			live -= int64(s.size)
			x.removeAt(i)
		case s.off != 0:
			live += int64(size) - int64(s.size)
			s.off, s.size = off, size
		case e.size&tombBit == 0:
			live += int64(size)
			*s = slot{off: off, hash: e.hash, size: size}
			x.count++
		}
	}
	return live, nil
}

// keyProbe tells, for the record es[j] being applied, whether a slot of
// the table that holds its hash holds its key: reading keys from src
// only if mayShareKey, asked once, leaves it open.
type keyProbe struct {
	es    []slot
	j     int
	mask  uint32
	src   keySource
	old   int64  // a slot of a record before it was in the table before es
	key   []byte // es[j]'s key, once read
	asked bool   // mayShareKey has answered, in maybe
	maybe bool
}

// holds reports whether s, a slot with es[j]'s hash, holds es[j]'s key.
func (p *keyProbe) holds(s *slot) (bool, error) {
	if int64(s.off) < p.old {
		// A key that was in the table before es: nothing tells it
		// apart but the key itself.
		return sameKey(p.src, &p.key, int64(p.es[p.j].off&offMask), s)
	}
	if !p.asked {
		p.asked, p.maybe = true, mayShareKey(p.es, p.j, p.mask)
	}
	if !p.maybe {
		return false, nil
	}
	return sameKey(p.src, &p.key, int64(p.es[p.j].off&offMask), s)
}

// mayShareKey reports whether es[j] may have the key of a record applied
// before it that has the same hash: of the entries before it with its
// home slot (which are right before it, es being sorted by home slot), one
// with its hash whose tag is the same, or either has none. The table being
// empty before es, every slot holding es[j]'s hash holds such a record;
// if none may share its key, none need be read to know. Past
// mayShareLook entries it answers yes: a comparison is never wrong.
func mayShareKey(es []slot, j int, mask uint32) bool {
	e := es[j]
	tag := e.off >> tagShift
	for k := j - 1; k >= 0 && es[k].hash&mask == e.hash&mask; k-- {
		if j-k > mayShareLook {
			return true
		}
		if p := es[k]; p.hash == e.hash && (tag == 0 || p.off>>tagShift == 0 || p.off>>tagShift == tag) {
			return true
		}
	}
	return false
}

// mayShareLook bounds mayShareKey's walk back.
const mayShareLook = 64

// sameKey reports whether the record at off, whose key is read into *key
// the first time it is needed, has the key of the record s points to. A
// record passed over for a different key has its checksum checked, as in
// findIn.
func sameKey(src keySource, key *[]byte, off int64, s *slot) (bool, error) {
	if *key == nil {
		k, err := src.keyAt(off)
		if err != nil {
			return false, err
		}
		*key = k
	}
	k, err := src.keyAt(int64(s.off))
	if err != nil {
		return false, err
	}
	if string(k) == string(*key) {
		return true, nil
	}
	return false, src.checkRecord(int64(s.off), int(s.size))
}

// shrink moves the keys of x, a table without an old one, into a table of
// n slots, using es and tmp, two buffers each with room for every key, as
// scratch.
func (x *index) shrink(n int, es, tmp []slot) {
	for _, s := range x.slots {
		if s.off != 0 {
			es = append(es, s)
		}
	}
	es = sortByHome(es, tmp[:len(es)], uint32(n-1))
	cur, _ := x.mapped()
	slots, m := allocSlots(n)
	x.slots, x.mask = slots, uint32(n-1)
	x.setMapped(m)
	x.moves++
	for _, s := range es {
		x.place(s)
	}
	// The old table was never shared: nothing else can reach it.
	_ = x.release(cur)
}
