package compact

import (
	"context"
	"io"

	"github.com/crabkv/crabkv/walfmt"
)

// Mapped is an old log held in memory (a map of the file) with its live
// records in the order the new log is to hold them: the order of their
// keys, for a store that keeps one, so that the new log is itself sorted and
// an ordered scan of it reads the file front to back.
type Mapped struct {
	// Log holds the old log's bytes, at least up to End; Name is its
	// path, for errors.
	Log  []byte
	Name string
	// Start is the offset of the first record (the size of the file
	// header), End the end of the last.
	Start, End int64
	// Live holds the offsets of the records to copy, in the order to copy
	// them, each in [Start, End) and each once: puts, or puts of a batch.
	Live []uint64
}

// touchAhead is how many records ahead of the one being copied
// CopyMapped touches. The records of a key order lie anywhere in the old
// log, so each costs a cache miss or two, and the copy of one record is too
// short for the processor to reach the next one's on its own: touching a
// few ahead lets their misses overlap.
const touchAhead = 16

// CopyMapped writes a new log to dst as Copy does — the file header hdr,
// then each live record verified by its checksum and copied unchanged, a
// batch's puts as plain records — but in the order of src.Live rather than
// the old log's. It reads only the live records: Dropped counts the ones
// keep left out, not the dead records it never visits. An offset that is
// not the start of a whole put inside [Start, End) is corruption, and
// CopyMapped stops with an error that names the file and offset.
//
// progress, when not nil, is told how far through the old log the copy
// would have read had it gone in log order: the share of src.Live copied,
// scaled to the log.
func CopyMapped(ctx context.Context, dst io.Writer, src Mapped, hdr walfmt.FileHeader, keep Live, moved Moved, progress func(done int64)) (Result, error) {
	if src.End > int64(len(src.Log)) || src.Start > src.End {
		return Result{}, &walfmt.CorruptionError{File: src.Name, Offset: src.End, Reason: "log shorter than its end"}
	}
	c := &copier{
		src: Source{Name: src.Name, Start: src.Start, End: src.End},
		dst: dst, keep: keep, moved: moved, res: Result{Bytes: walfmt.HeaderSize},
		buf: src.Log[:src.End], bufLen: int(src.End),
	}
	c.out = walfmt.AppendFileHeader(make([]byte, 0, copyChunk+64<<10), hdr)
	var read, reported int64
	y := NewYielder()
	span := src.End - src.Start
	c.touch(src, 0)
	for i, off := range src.Live {
		if i%touchAhead == 0 {
			c.touch(src, i+touchAhead)
		}
		size, err := c.stepMapped(int64(off))
		if err != nil {
			return c.res, err
		}
		read += int64(size)
		y.Scanned(read)
		if read-reported >= progressEvery {
			if err := ctx.Err(); err != nil {
				return c.res, err
			}
			if progress != nil {
				progress(src.Start + int64(float64(span)*float64(i+1)/float64(len(src.Live))))
			}
			reported = read
		}
		if len(c.out) >= copyChunk {
			if err := c.flush(); err != nil {
				return c.res, err
			}
		}
	}
	if progress != nil {
		progress(src.End)
	}
	return c.res, c.flush()
}

// touch reads the first byte of the touchAhead records of src.Live from
// i on, in a loop that does nothing else: the processor then waits for all
// their cache misses at once, where the copy between two records' reads
// would have it wait for each in turn.
func (c *copier) touch(src Mapped, i int) {
	var sum byte
	for _, off := range src.Live[min(i, len(src.Live)):min(i+touchAhead, len(src.Live))] {
		if off < uint64(src.End) {
			sum += src.Log[off]
		}
	}
	c.sink += sum
}

// stepMapped copies the live record at pos, whose header it checks first,
// and returns its size.
func (c *copier) stepMapped(pos int64) (int, error) {
	if pos < c.src.Start || pos >= c.src.End {
		return 0, c.corrupt(pos, "live record outside the log")
	}
	if size, done, err := c.quick(pos); done || err != nil {
		return size, err
	}
	kind, size, err := c.extent(pos)
	switch {
	case err != nil:
		return 0, err
	case kind == walfmt.KindBatch:
		return 0, c.corrupt(pos, "live record is a batch header")
	}
	return size, c.copyLive(pos, size)
}
