package kv

import (
	mathbits "math/bits"
	"runtime"
	"sort"
	"sync"
)

// A replay's collected records, sorted by home slot, are applied to the
// empty table on several goroutines, each in a region of the table: the
// records whose home slot lies in the region, as far as each stays in it.
// A record's probe reads only the slots from its home to where it ends,
// and the shift that closes the hole a tombstone leaves moves only keys
// whose home is at or before the hole — in a region no goroutine but its
// own has placed anything in, keys of that region, so it stops at the
// region's end. A record whose probe stays inside its region touches
// nothing another goroutine touches. The first record of a region whose
// probe would pass its end stops that region's goroutine: it and the
// region's records after it are applied afterwards, region by region, on
// one goroutine, as applySorted applies them. The records of one key share its home slot, so they stay
// in order: those before the stop were applied first, the others after.
// Records of different keys commute. Records whose hashes are equal share
// a home slot too, hence a region: when a later one meets an earlier one
// in the table, mayShareKey finds the earlier one just before it in es,
// however the regions were applied. A region's records stop early only
// at its last cluster: the few that pile up against its end.

// Sizes at which the records are applied on several goroutines: at least
// applyParallelMin records, and regions of at least applyRegionMin slots.
// Variables so that tests can make small replays take this path.
var (
	applyParallelMin        = 1 << 16
	applyRegionMin   uint32 = 1 << 14
)

// applySortedParallel is applySorted on several goroutines, as described
// above.
func (x *index) applySortedParallel(es []slot, src keySource) (int64, error) {
	n := uint32(len(x.slots))
	workers := uint32(runtime.GOMAXPROCS(0))
	for workers > 1 && n/workers < applyRegionMin {
		workers /= 2
	}
	if workers < 2 || len(es) < applyParallelMin {
		return x.applySorted(es, src)
	}
	type region struct {
		from, to int // es[from:to] have their home in the region
		next     int // the first of them not applied
		live     int64
		count    int
		moved    bool
		err      error
	}
	rs := make([]region, workers)
	for w := range rs {
		lo := uint32(w) * (n / workers)
		rs[w].from = sort.Search(len(es), func(i int) bool { return es[i].hash&x.mask >= lo })
		if w > 0 {
			rs[w-1].to = rs[w].from
		}
	}
	rs[len(rs)-1].to = len(es)
	var wg sync.WaitGroup
	for w := range rs {
		r := &rs[w]
		lo, hi := uint32(w)*(n/workers), uint32(w+1)*(n/workers)
		if w == len(rs)-1 {
			hi = n // the last region takes what the division leaves
		}
		wg.Go(func() {
			r.next, r.live, r.count, r.moved, r.err = applyRegion(x.slots, x.mask, lo, hi, es, r.from, r.to, src)
		})
	}
	wg.Wait()
	var live int64
	for _, r := range rs {
		if r.err != nil {
			return 0, r.err
		}
		live += r.live
		x.count += r.count
		if r.moved {
			x.moves++
		}
	}
	for _, r := range rs {
		l, err := x.applySortedRange(es, r.next, r.to, src, 0)
		if err != nil {
			return 0, err
		}
		live += l
	}
	return live, nil
}

// applyRegion applies es[from:to], whose home slots lie in [lo, hi), to
// t, whose slots in [lo, hi) only this call changes, and returns the
// index of the first record it did not apply, because its probe would
// reach hi: that record and all after it are left to apply. A removal's
// shift stops at hi instead (see removeInRegion).
// It returns the live bytes and keys the records applied add, and whether
// a removal moved a key.
func applyRegion(t []slot, mask, lo, hi uint32, es []slot, from, to int, src keySource) (next int, live int64, count int, moved bool, err error) {
	for j := from; j < to; j++ {
		e := es[j]
		size := e.size &^ tombBit
		off := e.off & offMask
		i := e.hash & mask
		p := keyProbe{es: es, j: j, mask: mask, src: src}
		for t[i].off != 0 {
			if s := &t[i]; s.hash == e.hash {
				same, err := p.holds(s)
				if err != nil {
					return j, 0, 0, false, err
				}
				if same {
					break
				}
			}
			if i++; i == hi {
				return j, live, count, moved, nil // past the region: left to apply
			}
		}
		s := &t[i]
		switch {
		case s.off != 0 && e.size&tombBit != 0:
			live -= int64(s.size)
			count--
			moved = true
			removeInRegion(t, mask, i, hi)
		case s.off != 0:
			live += int64(size) - int64(s.size)
			s.off, s.size = off, size
		case e.size&tombBit == 0:
			live += int64(size)
			*s = slot{off: off, hash: e.hash, size: size}
			count++
		}
	}
	return to, live, count, moved, nil
}

// removeInRegion empties slot i of t, in a region that ends at hi, and
// moves back the keys after it that the hole would cut off from their
// home slots, as index.removeAt does. It stops at hi: every key at or past
// it has its home at or past it, beyond i, and stays where it is.
func removeInRegion(t []slot, mask, i, hi uint32) {
	for j := i + 1; j < hi && t[j].off != 0; j++ {
		if home := t[j].hash & mask; (j-home)&mask >= (j-i)&mask {
			t[i] = t[j]
			i = j
		}
	}
	t[i] = slot{}
}

// sortWorkersMax bounds sortByHomeParallel's goroutines, each of which
// keeps 32 KiB of counts.
const sortWorkersMax = 32

// sortByHomeParallel is sortByHome on as many goroutines as there are
// processors, up to sortWorkersMax: each pass counts the digits of a part of the records on
// each, then moves each part's records on its goroutine to where the
// counts of the parts before it say, so the sort stays stable.
func sortByHomeParallel(es, tmp []slot, mask uint32) []slot {
	workers := min(runtime.GOMAXPROCS(0), sortWorkersMax)
	if workers < 2 || len(es) < applyParallelMin {
		return sortByHome(es, tmp, mask)
	}
	bits := uint(32 - mathbits.LeadingZeros32(mask))
	passes := (bits + 11) / 12
	if passes == 0 {
		return es
	}
	width := (bits + passes - 1) / passes
	digit := uint32(1)<<width - 1
	src, dst := es, tmp[:len(es)]
	part := (len(es) + workers - 1) / workers
	counts := make([][1 << 12]int, workers)
	for shift := uint(0); shift < bits; shift += width {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				c := &counts[w]
				*c = [1 << 12]int{}
				for _, s := range src[min(w*part, len(src)):min((w+1)*part, len(src))] {
					c[(s.hash&mask)>>shift&digit]++
				}
			})
		}
		wg.Wait()
		// Turn the counts into where each part's records of each digit go.
		pos := 0
		for d := range 1 << 12 {
			for w := range workers {
				n := counts[w][d]
				counts[w][d] = pos
				pos += n
			}
		}
		for w := range workers {
			wg.Go(func() {
				c := &counts[w]
				for _, s := range src[min(w*part, len(src)):min((w+1)*part, len(src))] {
					d := (s.hash & mask) >> shift & digit
					dst[c[d]] = s
					c[d]++
				}
			})
		}
		wg.Wait()
		src, dst = dst, src
	}
	return src
}
