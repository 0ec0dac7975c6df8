package compact

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/crabkv/crabkv/walfmt"
)

// progressEvery is how many bytes of the old log are scanned between two
// progress reports.
const progressEvery = 256 << 10

// Result summarises a rewrite.
type Result struct {
	// Kept and Dropped count the records copied and skipped.
	Kept, Dropped int
	// Bytes is the size of the new log, header included.
	Bytes int64
}

// Live reports whether the record for key at offset off in the old log is
// the key's current value. A rewrite copies exactly the records for which
// it returns true, and stops at an error: a record that cannot be proven
// dead must not be dropped, nor copied beside its successor.
type Live func(key []byte, off int64) (bool, error)

// Moved is told where each copied record came from in the old log (from:
// for an operation of a batch, the operation's own offset) and where it
// landed in the new one (to), and its size there.
type Moved func(key []byte, from, to int64, size int)

// Rewrite writes a new log to dst: the file header hdr and then, in their old
// order, the records of src that live accepts, copied byte for byte; the
// live puts of a batch are copied out of it as plain put records, and the
// rest of the batch is dropped. Kept and Dropped count a batch's
// operations, not the batch.
// Tombstones are never copied: the new log replaces the old one whole, so a
// deleted key has nothing left to shadow. progress, when not nil, is called
// with the bytes of src scanned so far. Rewrite stops with ctx's error when
// ctx is done.
func Rewrite(ctx context.Context, dst io.Writer, src *walfmt.Reader, hdr walfmt.FileHeader, live Live, moved Moved, progress func(done int64)) (Result, error) {
	w := bufio.NewWriterSize(dst, 256<<10)
	res := Result{Bytes: walfmt.HeaderSize}
	if _, err := w.Write(walfmt.AppendFileHeader(nil, hdr)); err != nil {
		return res, err
	}
	var reported int64
	y := NewYielder()
	for {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		if rec.Kind == walfmt.KindBatch {
			err = walfmt.ForEachOp(rec, func(op walfmt.Record) error {
				return copyLive(w, op, live, moved, &res)
			})
		} else {
			err = copyLive(w, rec, live, moved, &res)
		}
		if err != nil {
			return res, err
		}
		done := src.Offset()
		y.Scanned(done)
		if done-reported >= progressEvery {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if progress != nil {
				progress(done)
			}
			reported = done
		}
	}
	if progress != nil {
		progress(src.Offset())
	}
	return res, w.Flush()
}

// copyLive copies rec to w if it is a live put, and counts it. A put from
// inside a batch is copied as a plain put record: the batch was committed
// whole long ago, and the new log replaces the old one whole, so its
// operations need no batch to stay together, and each can be dropped on
// its own once overwritten.
func copyLive(w io.Writer, rec walfmt.Record, live Live, moved Moved, res *Result) error {
	keep := false
	if rec.Kind == walfmt.KindPut {
		var err error
		if keep, err = live(rec.Key, rec.Offset); err != nil {
			return err
		}
	}
	if !keep {
		res.Dropped++
		return nil
	}
	raw := rec.Raw
	if rec.Flags&walfmt.FlagBatchOp != 0 {
		raw = walfmt.AppendPlain(nil, rec)
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	moved(rec.Key, rec.Offset, res.Bytes, len(raw))
	res.Bytes += int64(len(raw))
	res.Kept++
	return nil
}
