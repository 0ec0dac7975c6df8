// Package compact decides when a CrabKv log should be rewritten and does the
// rewriting. It knows the record format (walfmt) but not the engine: the
// policy is a pure function of a few numbers, and a rewrite takes a reader
// of the old log, a liveness test and a writer, never the database itself.
package compact

import "time"

// Policy defaults.
const (
	// DefaultStaleRatio is the share of stale bytes at which a log is
	// rewritten: at one third, a rewrite costs at most about twice the live
	// data it keeps, and the log never grows past 1.5 times its live size.
	DefaultStaleRatio = 1.0 / 3
	// DefaultMinLogBytes keeps small logs from being rewritten: below a
	// mebibyte the space is not worth the I/O.
	DefaultMinLogBytes = 1 << 20
	// DefaultFinishOnClose lets Close finish a compaction with up to 64
	// MiB of the log left to read: a fraction of a second of copying.
	DefaultFinishOnClose = 64 << 20
)

// Policy says when automatic compaction runs. The zero value means the
// defaults: stale bytes at least a third of a log of at least 1 MiB.
type Policy struct {
	// StaleRatio is the share of the log, in (0, 1], that stale bytes must
	// reach. Zero means DefaultStaleRatio.
	StaleRatio float64
	// MinLogBytes is the smallest log worth compacting. Zero means
	// DefaultMinLogBytes; a negative value means no minimum.
	MinLogBytes int64
	// MinInterval is the least time between the end of one automatic
	// compaction and the start of the next. Zero means no minimum.
	MinInterval time.Duration
	// Disabled turns automatic compaction off; explicit compaction still
	// works.
	Disabled bool
	// FinishOnClose is how much of the log a running compaction may have
	// left to read for Close to let it finish rather than stop it, and
	// lose its work: then the closed store is as small as the compaction
	// makes it, at the cost of a Close that takes that long. Zero means
	// DefaultFinishOnClose; a negative value means Close always stops it.
	FinishOnClose int64
}

// State is what the policy looks at.
type State struct {
	LogBytes   int64
	StaleBytes int64
	// SinceLast is the time since the last compaction ended, or since the
	// store was opened.
	SinceLast time.Duration
}

// WithDefaults returns p with zero fields replaced by their defaults.
func (p Policy) WithDefaults() Policy {
	if p.StaleRatio == 0 {
		p.StaleRatio = DefaultStaleRatio
	}
	if p.MinLogBytes == 0 {
		p.MinLogBytes = DefaultMinLogBytes
	}
	if p.MinLogBytes < 0 {
		p.MinLogBytes = 0
	}
	if p.FinishOnClose == 0 {
		p.FinishOnClose = DefaultFinishOnClose
	}
	return p
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	if p.StaleRatio < 0 || p.StaleRatio > 1 || p.StaleRatio != p.StaleRatio {
		return errStaleRatio
	}
	if p.MinInterval < 0 {
		return errInterval
	}
	return nil
}

// Due reports whether a log in state s should be compacted now. p must
// have its defaults filled.
func (p Policy) Due(s State) bool {
	if p.Disabled || s.StaleBytes <= 0 || s.LogBytes < p.MinLogBytes {
		return false
	}
	if s.SinceLast < p.MinInterval {
		return false
	}
	return float64(s.StaleBytes) >= p.StaleRatio*float64(s.LogBytes)
}
