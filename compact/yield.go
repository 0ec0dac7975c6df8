package compact

import (
	"runtime"
	"time"
)

// yieldEvery is how many bytes of the old log a copy scans between two
// looks at the clock, and yieldInterval how long it runs between two
// yields of the processor. A rewrite is a long run of CPU work; without
// yielding, a reader woken on a busy machine can wait a whole scheduler
// time slice (10 ms) for a processor. Yielding is not free, though: where a
// processor is idle, runtime.Gosched wakes a thread to look for work, and
// yielding every 16 KiB took a tenth of a compaction's time on two cores.
// So a copy yields by the clock, which a reader waits for.
const (
	yieldEvery    = 16 << 10
	yieldInterval = time.Millisecond
)

// Yielder yields the processor at most every yieldInterval of a copy:
// Copy, CopyMapped and Rewrite use one, and so does a compaction's copy of
// what writers appended while it ran, for the same reason.
type Yielder struct {
	seen int64     // bytes scanned at the last look at the clock
	last time.Time // the last yield, or the start
}

// NewYielder returns a Yielder whose first interval starts now.
func NewYielder() Yielder { return Yielder{last: time.Now()} }

// Scanned is told how many bytes the copy has scanned so far.
func (y *Yielder) Scanned(n int64) {
	if n-y.seen < yieldEvery {
		return
	}
	y.seen = n
	if now := time.Now(); now.Sub(y.last) >= yieldInterval {
		runtime.Gosched()
		y.last = now
	}
}
