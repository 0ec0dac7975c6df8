package tui

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// The value search (f) and the size view (s) walk every key of the store,
// which at millions of keys takes seconds. Each walk runs on a goroutine
// of its own that sends what it has found in batches on a channel, which
// a command reads one batch at a time (waitFindCmd), so that the screen
// keeps moving while it runs. The walk stops when its context is
// cancelled (esc, a new query, leaving the view, the program's end) and
// closes its channel, which ends the command waiting on it.

// findFlushEvery is how often a walk sends what it has found: often enough
// that the progress moves smoothly, rarely enough that the screen is not
// redrawn for every key. Tests set it to 0, so that a walk sends at every
// look at the clock, each ctxCheckEvery keys.
var findFlushEvery = 100 * time.Millisecond

// findProgress is how far a walk has got.
type findProgress struct {
	keys  int   // keys visited
	total int   // keys in the store when the walk began; -1 if unknown
	bytes int64 // bytes of values visited
}

// findRow is one key a walk lists: a key whose value matches the search,
// at offset off of a value of size bytes; or, in the size view, a key of
// the largest values (off -1).
type findRow struct {
	key  string
	size int
	off  int
}

// findMsg is one batch of a walk. seq is the walk's number: a batch of a
// walk that has been replaced is dropped.
type findMsg struct {
	seq      int
	progress findProgress
	// rows are new matches, in key order, for a value search; for the
	// size view, the largest values so far, largest first.
	rows    []findRow
	summary *sizeSummary // the size view's figures so far
	done    bool         // the walk has ended, with err or at the end
	err     error
	ch      <-chan findMsg // where the next batch comes from
}

// waitFindCmd reads the next batch of a walk. When the walk has been
// cancelled and has closed its channel, it returns nothing.
func waitFindCmd(ch <-chan findMsg) tea.Cmd {
	return func() tea.Msg {
		msg, ok := <-ch
		if !ok {
			return nil
		}
		msg.ch = ch
		return msg
	}
}

// findSender batches what a walk finds and sends it at most every
// findFlushEvery, or when the walk ends.
type findSender struct {
	ctx  context.Context
	out  chan<- findMsg
	seq  int
	last time.Time
	prog findProgress
}

// due reports whether a batch is due. It reads the clock only every
// ctxCheckEvery keys, or after a large value.
func (f *findSender) due(size int) bool {
	if f.prog.keys%ctxCheckEvery != 0 && size < searchWindow {
		return false
	}
	return time.Since(f.last) >= findFlushEvery
}

// send sends msg with the walk's progress, and reports false when the
// walk has been cancelled meanwhile.
func (f *findSender) send(msg findMsg) bool {
	msg.seq, msg.progress = f.seq, f.prog
	select {
	case f.out <- msg:
		f.last = time.Now()
		return true
	case <-f.ctx.Done():
		return false
	}
}

// startWalk returns the command that runs walk on a goroutine of its own
// and reads its first batch. walk sends on the sender it is given; the
// channel is closed when walk returns.
func startWalk(ctx context.Context, seq int, s Store, walk func(f *findSender)) tea.Cmd {
	return func() tea.Msg {
		ch := make(chan findMsg, 1)
		f := &findSender{ctx: ctx, out: ch, seq: seq, last: time.Now(), prog: findProgress{total: -1}}
		go func() {
			defer close(ch)
			if st, err := s.Stats(); err == nil {
				f.prog.total = st.Keys
			}
			walk(f)
		}()
		return waitFindCmd(ch)()
	}
}

// valueSearch returns the walk that looks for q in every value and sends
// the keys whose values hold it, in key order.
func valueSearch(s Store, q []byte) func(f *findSender) {
	return func(f *findSender) {
		var pending []findRow
		var buf []byte
		err := walkValues(f.ctx, s, func(key []byte, v valueSource) error {
			off, err := findIn(q, v, &buf)
			if err != nil {
				return err
			}
			f.prog.keys++
			f.prog.bytes += int64(v.size)
			if off >= 0 {
				pending = append(pending, findRow{key: string(key), size: v.size, off: off})
			}
			if f.due(v.size) {
				if !f.send(findMsg{rows: pending}) {
					return f.ctx.Err()
				}
				pending = nil
			}
			return nil
		})
		f.send(findMsg{rows: pending, done: true, err: err})
	}
}

// sizeScan returns the walk that ranks the keys by value size, keeping
// the topN largest, and adds up the summary's figures.
func sizeScan(s Store, topN int) func(f *findSender) {
	return func(f *findSender) {
		top := newTopSizes(topN)
		sum := newSizeSummary()
		err := walkEntries(f.ctx, s, func(key []byte, info ValueInfo) error {
			f.prog.keys++
			f.prog.bytes += int64(info.ValueSize)
			sum.add(info)
			top.offer(key, info.ValueSize)
			if f.due(0) {
				rows := top.sorted()
				if !f.send(findMsg{rows: rows, summary: sum.snapshot(rows)}) {
					return f.ctx.Err()
				}
			}
			return nil
		})
		rows := top.sorted()
		f.send(findMsg{rows: rows, summary: sum.snapshot(rows), done: true, err: err})
	}
}
