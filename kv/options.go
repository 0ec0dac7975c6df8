package kv

import (
	"fmt"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// Size limits.
const (
	// DefaultMaxKeySize is the default and largest key size, in bytes.
	DefaultMaxKeySize = walfmt.MaxKeyLen
	// DefaultMaxValueSize is the default value size limit, in bytes. Values
	// are read whole into memory, so the limit keeps one Get bounded.
	DefaultMaxValueSize = 16 << 20
)

// Options configure a DB. The zero value, like a nil *Options, gives the
// defaults.
type Options struct {
	// NoSync, when false (the default), makes every Put and Delete wait until
	// its record is on stable storage (fdatasync) before it returns: an
	// acknowledged write survives a crash of the machine. When true, a write
	// returns once the record is handed to the operating system: it survives
	// a crash of the process, not of the machine. Use it for bulk loads.
	NoSync bool
	// ReadOnly opens the store as a follower: it takes no lock and writes
	// nothing in the directory (no log is created, a torn tail is left
	// alone), and writes return ErrReadOnly. It opens beside a writer in
	// another process and follows the log that writer appends to: a write
	// becomes visible to it within about FollowPoll (at once where file
	// events are available and the writer does not use NoSync), sometimes
	// a moment before the writer's Put returns; a record still being
	// written is waited for, never reported as damage; a compaction's new
	// log is switched to in one step, and the compaction is reported in
	// Stats and by Subscribe; after the writer closes or dies, the last
	// state stays. Any number of followers and one writer may share a
	// directory. The directory must exist (an empty one is followed until
	// a writer creates its log); a missing one is an error, as the
	// follower creates nothing.
	ReadOnly bool
	// FollowPoll is how often a follower (ReadOnly) looks at the log when
	// no file event wakes it. Default: DefaultFollowPoll (20ms).
	FollowPoll time.Duration
	// MaxKeySize is the longest key accepted, in bytes. Default and maximum:
	// DefaultMaxKeySize.
	MaxKeySize int
	// MaxValueSize is the longest value accepted, in bytes. Default:
	// DefaultMaxValueSize; maximum walfmt.MaxValueLen.
	MaxValueSize int
	// Compaction is the automatic compaction policy. The zero value means
	// compact in the background once stale bytes reach a third of a log of
	// at least 1 MiB.
	Compaction compact.Policy
	// CheckpointBytes is how far the log may grow past the hint file
	// (wal.hint, the index written out) before the store writes a new
	// one in the background, beside its writers. After a crash, Open maps
	// the hint and replays only the log after it, so this bounds what a
	// crash costs the next Open (Stats.ReplayedBytes); each checkpoint
	// writes the whole index (about 16 bytes a slot, 21 to 43 a key).
	// Zero means the default: the larger of 256 MiB and eight times the
	// index's size, so that checkpoints write at most one byte for every
	// eight bytes of log (a store of small values, whose index is a fifth
	// of its log, then seldom has one); and none with NoSync, for which a
	// checkpoint must also sync the log, the write-out a bulk load would
	// otherwise leave to the kernel: set it to have them there too. A
	// negative value turns checkpoints off: the hint is then written only
	// by Close and by compactions.
	CheckpointBytes int64
	// Codec encodes the values this store writes from now on: Raw (the
	// default, also for nil), S2, Zstd, or one the program registered
	// (RegisterCodec). A value is stored encoded only when that saves at
	// least an eighth of it. Values already written keep their codec:
	// a store reads every registered codec whatever this says. See Codec.
	Codec Codec
	// Clock tells the time that expiring keys are judged by (see
	// DB.PutTTL). Nil means time.Now. Tests inject a clock they move by
	// hand; the store never lets the time it sees go backwards.
	Clock func() time.Time
	// FS is the file system the store lives on. Nil means the operating
	// system's. Tests use it to inject faults.
	FS FS
}

// withDefaults returns a copy of o (nil allowed) with every zero field set
// to its default, or an error if a field is out of range. The caller's
// Options are never modified.
func (o *Options) withDefaults() (Options, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.MaxKeySize == 0 {
		opts.MaxKeySize = DefaultMaxKeySize
	}
	if opts.MaxValueSize == 0 {
		opts.MaxValueSize = DefaultMaxValueSize
	}
	if opts.MaxKeySize < 0 || opts.MaxKeySize > walfmt.MaxKeyLen {
		return opts, fmt.Errorf("kv: MaxKeySize %d out of range (1..%d)", opts.MaxKeySize, walfmt.MaxKeyLen)
	}
	if opts.MaxValueSize < 0 || opts.MaxValueSize > walfmt.MaxValueLen {
		return opts, fmt.Errorf("kv: MaxValueSize %d out of range (1..%d)", opts.MaxValueSize, walfmt.MaxValueLen)
	}
	if err := opts.Compaction.Validate(); err != nil {
		return opts, err
	}
	opts.Compaction = opts.Compaction.WithDefaults()
	if opts.FollowPoll < 0 {
		return opts, fmt.Errorf("kv: FollowPoll %s is negative", opts.FollowPoll)
	}
	if opts.FollowPoll == 0 {
		opts.FollowPoll = DefaultFollowPoll
	}
	if opts.Codec == nil {
		opts.Codec = Raw
	}
	if c, err := codecByID(opts.Codec.ID()); err != nil || c != opts.Codec {
		return opts, fmt.Errorf("kv: Options.Codec %q (ID %d) is not registered: see RegisterCodec", opts.Codec.Name(), opts.Codec.ID())
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.FS == nil {
		opts.FS = DefaultFS()
	}
	return opts, nil
}
