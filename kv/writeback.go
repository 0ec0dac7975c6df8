package kv

import (
	"errors"
	"io"
)

// writebackStep is how much of a file written front to back a writeback
// hands to the disk at a time.
const writebackStep = 1 << 20

// writebackLag is how far behind the step it starts a writeback waits for
// the write-out of earlier ones. Waiting for the step just before left the
// disk idle between steps: a compaction of 126 MiB of 1 KiB values spent
// 100 ms in its copy, paced a step at a time, and 75 ms with 4 MiB more in
// flight. A synced writer's fdatasync waits for what is in flight, a few
// milliseconds of this disk's time.
const writebackLag = 4 << 20

// fileRange returns the function that starts (or, with wait, also waits
// for) the write-out of the bytes [off, off+n) of f, or nil where the
// system has none: the file's pages then go to the disk at its Sync, or
// whenever the kernel chooses. A variable so that tests can watch it.
var fileRange = osFileRange

// errNoWriteback is a range function's error where the file system has no
// write-out of a range: the writeback then leaves the file to its Sync.
var errNoWriteback = errors.New("kv: no write-out of a file range here")

// writeback paces the write-out of a file written front to back — a
// compaction's new log, a hint — so that the disk is handed a step at a
// time as the file is written, rather than all of it at the Sync at the
// end.
//
// Why: a synced writer's fdatasync of the log waits for the disk to finish
// what it was given before (a cache flush orders all of it), so a Sync of a
// new log of a hundred mebibytes, or the kernel writing it back in one go,
// holds every synced Put beside the compaction for as long as the disk
// takes to write it all: tens of milliseconds or more. Paced, no more than
// the step just started and writebackLag before it are in flight, and the
// Sync at the end has only those left.
//
// After each write the caller reports how far the file is written; once a
// step's worth is not started, its write-out starts, and the write-out
// started more than writebackLag before is waited for. That wait is what
// paces the writer to the disk; it is for ranges handed over several steps
// earlier, usually finished.
// Starting and waiting make nothing durable by themselves: the file's Sync
// still does, and a failed write-out is an error of the file, reported to
// the caller, which must not trust the file any more (the error may not be
// reported again by its Sync).
type writeback struct {
	rng             func(off, n int64, wait bool) error // nil: no pacing
	started, waited int64                               // write-out started, and finished, below these offsets
	err             error                               // the first failure; every later call returns it
}

// newWriteback returns a writeback of f, whose first from bytes are
// already written and not to be paced (a file header).
func newWriteback(f File, from int64) *writeback {
	return &writeback{rng: fileRange(f), started: from, waited: from}
}

// written reports that the file is written up to end.
func (w *writeback) written(end int64) error {
	if w.err != nil || w.rng == nil || end-w.started < writebackStep {
		return w.err
	}
	err := w.rng(w.started, end-w.started, false)
	upto := w.started - writebackLag
	if err == nil && upto > w.waited {
		err = w.rng(w.waited, upto-w.waited, true)
	}
	if errors.Is(err, errNoWriteback) {
		w.rng = nil
		return nil
	}
	if err != nil {
		w.err = err
		return err
	}
	w.waited, w.started = max(w.waited, upto), end
	return nil
}

// pacedWriter writes a file front to back from off through w, and tells
// wb after each write.
type pacedWriter struct {
	w   io.WriterAt
	off int64
	wb  *writeback
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	n, err := p.w.WriteAt(b, p.off)
	p.off += int64(n)
	if err != nil {
		return n, err
	}
	return n, p.wb.written(p.off)
}
