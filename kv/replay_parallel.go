package kv

import (
	"runtime"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
)

// A replay of a whole log reads and checks its records on several
// goroutines. The log is cut into pieces at even offsets; in each piece,
// the first offset where a valid record starts (header sound, checksum
// right) is taken as the start of its records, and a goroutine reads
// them from there, checking each, to the start of the next piece's. A
// piece's start is only a guess — bytes inside a value can look like a
// record — until the records of the piece before it are found to end
// exactly there: the first piece starts after the file header, where a
// record does start, so the pieces are taken in order, each as far as its
// records lead without a gap or an overlap. At the first that does not
// join, and at the first damaged record, or one with an expiry or a
// value codec (see replay_bulk.go), the records taken so far stay
// collected and the replay goes on record by record from there, as
// before: damage is found, judged torn or not, and cut or reported by the
// very same reader.

// Sizes at which a replay reads on several goroutines: a log of at least
// parallelMin bytes, in pieces of at least pieceMin. Variables so that
// tests can make small logs take the parallel path.
var (
	parallelMin int64 = 16 << 20
	pieceMin    int64 = 4 << 20
)

// piece is what a goroutine collects of one piece of the log.
type piece struct {
	start, next int64 // where its records start; the next piece's start
	b           bulkReplay
	done        bool // its records end exactly at next
}

// collectParallel collects the records of the log from start, the end of
// its file header, on several goroutines into b, and returns the offset
// up to which it has: the start of the first record it has not collected.
// It collects nothing from a small log, or with one processor.
func (db *DB) collectParallel(f File, idx *index, b *bulkReplay, start, size, zeros int64) int64 {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || zeros-start < max(parallelMin, 2*pieceMin) {
		return start
	}
	// The pieces split what lies before the zeros at the end, if any: no
	// record starts in them.
	n := min(int64(4*workers), (zeros-start)/pieceMin)
	step := (zeros - start) / n
	ps := []*piece{{start: start}}
	r := walfmt.NewReader(f, size, db.path)
	r.SetZerosFrom(zeros)
	for i := int64(1); i < n; i++ {
		from := start + i*step
		off, ok, err := r.FindRecord(from, from+step)
		if err != nil || !ok {
			continue // the piece before reads on through this one
		}
		ps[len(ps)-1].next = off
		ps = append(ps, &piece{start: off})
	}
	ps[len(ps)-1].next = size
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for _, p := range ps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			db.collectPiece(f, idx, p, size, zeros)
		})
	}
	wg.Wait()
	total := 0
	for _, p := range ps {
		total += len(p.b.es)
	}
	b.reserve(total)
	pos := start
	for _, p := range ps {
		if p.start != pos {
			break // the records before did not end where p starts
		}
		b.es = append(b.es, p.b.es...)
		b.puts += p.b.puts
		b.end = p.b.end
		pos = p.b.end
		if !p.done {
			break
		}
	}
	for _, p := range ps {
		p.b.release()
	}
	return pos
}

// collectPiece reads and collects the records of p from its start until
// they reach or pass p.next, or one cannot be collected.
func (db *DB) collectPiece(f File, idx *index, p *piece, size, zeros int64) {
	r := walfmt.NewReader(f, size, db.path)
	r.SetZerosFrom(zeros)
	r.StartAt(p.start)
	p.b = bulkReplay{base: p.start, end: p.start, size: p.next}
	for p.b.end < p.next {
		rec, err := r.Next()
		if err != nil || !p.b.add(idx, rec) {
			return
		}
	}
	p.done = p.b.end == p.next
}
