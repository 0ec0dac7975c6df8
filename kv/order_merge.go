package kv

import (
	"bytes"
	"sort"
)

// Merging an overlay into a run (mergeRun) reads the key of every entry of
// the run up to the overlay's last key, and building the merged run's fence
// reads every fenceStride-th key once more: for a run of ten million keys
// and an overlay of a thousand, 4.3-4.5 s of a Close, nearly all of it
// reading keys scattered through the log. A small overlay is merged
// instead by finding each of its keys' places with a search of the run,
// narrowed by its fence, and copying the entries between whole, unread;
// and the merged run's fence takes the old fence's numbers wherever an
// entry it stands on is still one the old fence stood on (an overwrite
// moves nothing), reading only the keys of the others.

// sparseMergeRatio is how many entries of the run an overlay entry must
// stand for before the overlay is merged by search (mergeSparse): a
// search reads about a dozen keys, each at random.
const sparseMergeRatio = 64

// merged is a run merged with an overlay, held as the pieces it is made of
// rather than copied into a run of its own: Close writes it to wal.order
// piece by piece, where a copy of ten million offsets, 80 MB of memory new
// to the process, cost it 0.3-0.5 s here, mostly in page faults.
type merged struct {
	run    []uint64
	pieces []mergePiece
	n      int // entries in all
}

// mergePiece is run[lo:hi], then off, an overlay's record (0: none; no
// record starts at 0, where the log's header is).
type mergePiece struct {
	lo, hi int
	off    uint64
}

// each calls fn with the merged run's offsets, in order, a piece at a time,
// and returns the first error fn returns.
func (m *merged) each(fn func([]uint64) error) error {
	for _, p := range m.pieces {
		if p.hi > p.lo {
			if err := fn(m.run[p.lo:p.hi]); err != nil {
				return err
			}
		}
		if p.off != 0 {
			if err := fn([]uint64{p.off}); err != nil {
				return err
			}
		}
	}
	return nil
}

// offsets returns the merged run as one run.
func (m *merged) offsets() []uint64 {
	if len(m.pieces) == 1 && m.pieces[0].off == 0 && m.pieces[0].lo == 0 && m.pieces[0].hi == len(m.run) {
		return m.run // made whole by mergeRun
	}
	out := make([]uint64, 0, m.n)
	_ = m.each(func(offs []uint64) error { // fn never fails
		out = append(out, offs...)
		return nil
	})
	return out
}

// mergeWithFence merges s's overlay into its run, reading keys from src,
// and returns the merged run and its fence (nil for none).
func mergeWithFence(s *orderSnap, src *logView) (*merged, *fence) {
	if s.fence != nil && len(s.ovl)*sparseMergeRatio <= len(s.run) {
		return mergeSparse(s.run, s.fence, s.ovl, src)
	}
	return mergeDense(s.run, s.ovl, src)
}

// mergeDense merges ovl into run with mergeRun, reading every key of run
// it passes, and builds the merged run's fence.
func mergeDense(run []uint64, ovl []ovlEntry, src *logView) (*merged, *fence) {
	out := mergeRun(run, ovl, src)
	return &merged{run: out, pieces: []mergePiece{{lo: 0, hi: len(out)}}, n: len(out)}, buildFence(out, src)
}

// mergeSparse is mergeRun for an overlay much smaller than run, whose fence
// fc is (not nil), returning the merged run's fence too: the same run and
// fence as mergeRun's and buildFence's. A key of the run it cannot read
// (a damaged record) would send a search astray, where mergeRun only
// passes it: the merge is then left to mergeRun.
func mergeSparse(run []uint64, fc *fence, ovl []ovlEntry, src *logView) (*merged, *fence) {
	m := &merged{run: run, pieces: make([]mergePiece, 0, len(ovl)+1)}
	// from[p/fenceStride] is where the entry at p, a multiple of
	// fenceStride, came from: i >= 0 for run[i], -1-j for ovl[j].
	from := make([]int, 0, (len(run)+len(ovl)+fenceStride-1)/fenceStride)
	copyRun := func(lo, hi int) {
		// run[lo:hi] goes to m.n on, shifted by d.
		d := m.n - lo
		for p := roundUp(m.n); p < m.n+hi-lo; p += fenceStride {
			from = append(from, p-d)
		}
		m.pieces = append(m.pieces, mergePiece{lo: lo, hi: hi})
		m.n += hi - lo
	}
	i := 0
	for j, e := range ovl {
		k := []byte(e.key)
		at, ok := searchFrom(run, fc, k, i, src)
		if !ok {
			return mergeDense(run, ovl, src)
		}
		copyRun(i, at)
		i = at
		if i < len(run) {
			rk := src.keyOrNil(run[i])
			if rk == nil {
				return mergeDense(run, ovl, src)
			}
			if bytes.Equal(rk, k) {
				i++ // the overlay's operation replaces the run's
			}
		}
		if !e.del {
			if m.n%fenceStride == 0 {
				from = append(from, -1-j)
			}
			m.pieces[len(m.pieces)-1].off = e.off
			m.n++
		}
	}
	copyRun(i, len(run))
	return m, mergedFence(m, from, fc, ovl, src)
}

// first and last return the merged run's first and last offsets; the
// run is not empty.
func (m *merged) first() uint64 {
	for _, p := range m.pieces {
		if p.hi > p.lo {
			return m.run[p.lo]
		}
		if p.off != 0 {
			return p.off
		}
	}
	return 0
}

func (m *merged) last() uint64 {
	for x := len(m.pieces) - 1; x >= 0; x-- {
		p := m.pieces[x]
		if p.off != 0 {
			return p.off
		}
		if p.hi > p.lo {
			return m.run[p.hi-1]
		}
	}
	return 0
}

// roundUp returns the least multiple of fenceStride at or above p.
func roundUp(p int) int { return (p + fenceStride - 1) / fenceStride * fenceStride }

// searchFrom returns the first index of run at or after lo whose key is at
// or after k, run's fence fc narrowing the search, or false if a key it
// read could not be read.
func searchFrom(run []uint64, fc *fence, k []byte, lo int, src *logView) (int, bool) {
	a, b := fc.bounds(k, len(run))
	a, b = max(a, lo), max(b, lo)
	ok := true
	at := a + sort.Search(b-a, func(x int) bool {
		rk := src.keyOrNil(run[a+x])
		ok = ok && rk != nil
		return bytes.Compare(rk, k) >= 0
	})
	return at, ok
}

// mergedFence returns the fence of m, the merge of m.run (whose fence is
// fc) and ovl, as buildFence would build it: from says where each entry
// it stands on came from (see mergeSparse). Where the keys of m share the
// prefix fc's do, an entry of the run that the old fence stood on keeps
// its number; the keys of the other entries of the run are read, in the
// order of their records in the log (see buildFence).
func mergedFence(m *merged, from []int, fc *fence, ovl []ovlEntry, src *logView) *fence {
	if m.n < fenceMin || src.f == nil {
		return nil
	}
	f := newFence(src.keyOrNil(m.first()), src.keyOrNil(m.last()), len(from))
	if f == nil {
		return nil
	}
	reuse := f.common == fc.common
	var at []fencePoint
	for x, i := range from {
		switch {
		case i < 0:
			num, ok := f.number([]byte(ovl[-1-i].key))
			if !ok {
				return nil
			}
			f.pfx[x] = num
		case reuse && i%fenceStride == 0:
			f.pfx[x] = fc.pfx[i/fenceStride]
		default:
			at = append(at, fencePoint{off: m.run[i], j: x})
		}
	}
	if !f.fill(at, src) || !f.rising() {
		return nil
	}
	return f
}
