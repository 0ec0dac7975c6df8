package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crabkv/crabkv/kv"
)

var compactVerb = verb{
	name:    "compact",
	args:    "",
	summary: "rewrite the log keeping only live records",
	writes:  true,
	help: `
Compact rewrites the log so that it holds only the live record of each key,
dropping superseded values and tombstones, then prints the old and new sizes
and how long it took. The new log replaces the old one atomically; if crabkv
is interrupted the old log is still intact.

While it runs, a progress bar is drawn when standard output is a terminal,
and a plain progress line every 25% otherwise.`,
	run: runCompact,
}

func runCompact(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	before := db.Stats()
	start := time.Now()
	finished, err := compactWithProgress(db, newProgress(e.stdout, e.stdoutTTY))
	if err != nil {
		return e.closeDB(db, e.fail(err))
	}
	if finished == nil {
		// The engine reported no Finished event (it may skip an empty log);
		// the stats tell the same story.
		after := db.Stats()
		finished = &kv.CompactionEvent{OldSize: before.LogBytes, NewSize: after.LogBytes, Duration: time.Since(start)}
	}
	if _, err := fmt.Fprintln(e.stdout, formatCompaction(finished)); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write summary: %w", err)))
	}
	return e.closeDB(db, exitOK)
}

// finishedWait bounds how long compact waits, after Compact has returned,
// for the Finished event that carries the summary. The engine queues it
// before Compact returns, but another goroutine delivers it.
const finishedWait = time.Second

// compactWithProgress runs db.Compact while feeding its events to p, and
// returns the Finished event if one arrived.
func compactWithProgress(db *kv.DB, p *progress) (finished *kv.CompactionEvent, err error) {
	events, cancel := db.Subscribe()
	defer cancel()
	defer p.clear()
	errc := make(chan error, 1)
	go func() { errc <- db.Compact() }()

	var returned bool
	var timeout <-chan time.Time // set once Compact has returned
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil // closed: stop selecting on it
			} else {
				p.show(ev)
				if ev.Kind == kv.CompactionFinished {
					finished = &ev
				}
			}
			if returned && (finished != nil || events == nil) {
				return finished, err
			}
		case err = <-errc:
			returned = true
			if err != nil || finished != nil || events == nil {
				return finished, err
			}
			timeout = time.After(finishedWait)
		case <-timeout:
			return finished, err
		}
	}
}

// formatCompaction summarises a finished compaction on one line.
func formatCompaction(ev *kv.CompactionEvent) string {
	s := fmt.Sprintf("compacted: %s → %s, reclaimed %s (%.1f%%) in %s",
		shortBytes(ev.OldSize), shortBytes(ev.NewSize), shortBytes(ev.OldSize-ev.NewSize),
		percent(ev.OldSize-ev.NewSize, ev.OldSize), ev.Duration.Round(time.Millisecond/10))
	switch {
	case ev.Dropped > 0:
		s += fmt.Sprintf("; kept %d records, dropped %d", ev.Kept, ev.Dropped)
	case ev.Kept > 0:
		s += fmt.Sprintf("; kept %d records", ev.Kept)
	}
	return s
}

// progress shows compaction progress: a bar redrawn in place on a terminal,
// and a plain line at each quarter otherwise, so logs stay short.
type progress struct {
	w        io.Writer
	tty      bool
	drawn    bool // a bar is on screen and must be cleared before other output
	quarters int  // plain mode: quarters already reported
}

func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty}
}

// show renders one event.
func (p *progress) show(ev kv.CompactionEvent) {
	// Progress is a courtesy: compaction goes on if it cannot be shown, and
	// the summary's write is checked.
	switch ev.Kind {
	case kv.CompactionStarted:
		if !p.tty {
			_, _ = fmt.Fprintf(p.w, "compacting %s log, %s stale\n", shortBytes(ev.LogBytes), shortBytes(ev.StaleBytes))
		}
		p.showDone(0, ev.LogBytes)
	case kv.CompactionProgress:
		p.showDone(ev.Done, ev.Total)
	}
}

// showDone renders done of total bytes scanned.
func (p *progress) showDone(done, total int64) {
	// Best effort, like show.
	pct := percent(done, total)
	if p.tty {
		_, _ = fmt.Fprintf(p.w, "\r%s %3.0f%%  %s of %s\x1b[K", bar(pct, 30), pct, shortBytes(done), shortBytes(total))
		p.drawn = true
		return
	}
	if q := int(pct / 25); q > p.quarters {
		p.quarters = q
		_, _ = fmt.Fprintf(p.w, "compacting: %d%% (%s of %s)\n", q*25, shortBytes(done), shortBytes(total))
	}
}

// clear removes the bar so that the summary starts on a clean line.
func (p *progress) clear() {
	if p.drawn {
		_, _ = io.WriteString(p.w, "\r\x1b[K") // best effort, like show
		p.drawn = false
	}
}

// bar draws a width-wide bar filled to pct percent.
func bar(pct float64, width int) string {
	n := int(pct / 100 * float64(width))
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}
