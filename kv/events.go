package kv

import (
	"sync"
	"time"
)

// EventKind says what a CompactionEvent reports.
type EventKind int

// Compaction event kinds, in the order a compaction sends them: one
// Started, any number of Progress, then Finished or Failed.
const (
	CompactionStarted EventKind = iota + 1
	CompactionProgress
	CompactionFinished
	CompactionFailed
)

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case CompactionStarted:
		return "started"
	case CompactionProgress:
		return "progress"
	case CompactionFinished:
		return "finished"
	case CompactionFailed:
		return "failed"
	}
	return "unknown"
}

// CompactionEvent reports a step of a compaction.
type CompactionEvent struct {
	Kind EventKind
	// LogBytes, LiveBytes and StaleBytes describe the log when a compaction
	// starts (Started).
	LogBytes, LiveBytes, StaleBytes int64
	// Done and Total are the bytes of the old log scanned so far and to
	// scan (Started, Progress, Finished). Done never decreases. A
	// compaction in key order (see Compact) reads the live records only:
	// its Done is the share of them copied, scaled to the log.
	Done, Total int64
	// OldSize and NewSize are the log's size before and after (Finished).
	OldSize, NewSize int64
	// Duration is how long the compaction took (Finished).
	Duration time.Duration
	// Held is how long the compaction held writers out, for its final
	// swap (Finished): the longest a write waits for it.
	Held time.Duration
	// Kept and Dropped count the records copied and discarded (Finished).
	// A compaction reads only the records its list of live ones names, so
	// Dropped counts those of them that died or expired as it copied, not
	// the records already dead when it began (a compaction whose list is
	// incomplete, which reads the whole log, counts those too).
	Kept, Dropped int
	// Err is why the compaction failed (Failed). The old log stays in use.
	Err error
}

// Subscribe returns a channel that receives compaction events, and a
// function that ends the subscription. The engine never waits for a
// subscriber: one that falls behind misses intermediate Progress events,
// never Started, Finished or Failed.
//
// Cancel stops the events published after it; those published before it
// are still delivered, then the channel is closed. So a caller that
// cancels right after Compact returns still receives that compaction's
// Finished (or Failed): Compact returns only once it is published. A
// caller that cancels should read the channel until it is closed; events
// it leaves unread are dropped at Close. Close closes the channel at once,
// without delivering what is queued.
func (db *DB) Subscribe() (<-chan CompactionEvent, func()) {
	return db.events.subscribe()
}

// hub fans events out to subscribers.
type hub struct {
	mu     sync.Mutex // guards subs and closed
	subs   map[*subscriber]struct{}
	closed bool
}

// subscriber queues events for one reader. Its goroutine forwards them to
// out, so a slow reader holds up only itself.
type subscriber struct {
	mu    sync.Mutex // guards queue
	queue []CompactionEvent
	wake  chan struct{} // capacity 1: "the queue has something"
	out   chan CompactionEvent
	quit  chan struct{} // closed by the hub's close: stop at once
	drain chan struct{} // closed by cancel: deliver the queue, then stop
	once  sync.Once
	dOnce sync.Once
}

func (h *hub) subscribe() (<-chan CompactionEvent, func()) {
	s := &subscriber{
		wake:  make(chan struct{}, 1),
		out:   make(chan CompactionEvent),
		quit:  make(chan struct{}),
		drain: make(chan struct{}),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	if h.subs == nil {
		h.subs = make(map[*subscriber]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go s.forward()
	cancel := func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.dOnce.Do(func() { close(s.drain) })
	}
	return s.out, cancel
}

func (h *hub) publish(ev CompactionEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.push(ev)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.stop()
	}
	h.subs = nil
}

// push queues ev. A Progress event replaces a Progress event still waiting
// in the queue, so the queue stays short however slow the reader is.
func (s *subscriber) push(ev CompactionEvent) {
	s.mu.Lock()
	if n := len(s.queue); n > 0 && ev.Kind == CompactionProgress && s.queue[n-1].Kind == CompactionProgress {
		s.queue[n-1] = ev
	} else {
		s.queue = append(s.queue, ev)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) stop() { s.once.Do(func() { close(s.quit) }) }

// forward delivers queued events to out until stopped, or until drained
// after a cancel, then closes out.
func (s *subscriber) forward() {
	defer close(s.out)
	for {
		select {
		case <-s.quit:
			return
		case <-s.drain:
			// Cancel has taken s out of the hub: nothing more is queued.
			s.flush()
			return
		case <-s.wake:
		}
		if !s.flush() {
			return
		}
	}
}

// flush delivers the queue to out, and reports false if stopped first.
func (s *subscriber) flush() bool {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return true
		}
		ev := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		select {
		case s.out <- ev:
		case <-s.quit:
			return false
		}
	}
}
