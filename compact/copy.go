package compact

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/crabkv/crabkv/walfmt"
)

// readAcross is the longest stretch of dead records that Copy reads
// rather than skips, when the live record after it is not read yet: the
// bytes it reads for nothing against the check stepRead makes over them.
const readAcross = copyChunk / 4

// copyChunk is the size of the reads of the old log and of the writes of
// the new one: large enough that a copy costs a few system calls a
// mebibyte, as a sequential file copy does.
const copyChunk = 1 << 20

// Source is an old log whose live records are known by offset, as an
// index knows them.
type Source struct {
	// R reads the old log; Name is its path, for errors.
	R    io.ReaderAt
	Name string
	// Start is the offset of the first record (the size of the file
	// header), End the end of the last.
	Start, End int64
	// Live holds the offsets of the records to copy, increasing, each in
	// [Start, End): puts, or puts of a batch.
	Live []int64
}

// Copy writes a new log to dst as Rewrite does — the file header hdr, then
// the live records in their old order, a batch's puts as plain records —
// but is told which records are live rather than asking record by record.
// That lets it read little more than the live records: it goes from one
// live offset to the next, reading the old log a mebibyte at a time, and
// a stretch of dead records of readAcross or more before a live record
// not yet read is skipped, never read. The dead records it does read, it
// steps over by their lengths, which checks that the live record after
// them starts where a record does (stepRead). It verifies the checksum of
// each record it copies, and copies the record's bytes, checksum and all,
// unchanged. A live offset that is not the start of a whole put, or one
// inside a sound record before it, is corruption, and Copy stops with an
// error that names the file and offset. A damaged dead record does not
// stop it: the record is dropped all the same.
//
// keep, when not nil, is asked about each live record before it is
// copied, and may still drop it (an expired record). Kept counts the
// records and batch operations copied, and Dropped the live ones keep
// left out.
func Copy(ctx context.Context, dst io.Writer, src Source, hdr walfmt.FileHeader, keep Live, moved Moved, progress func(done int64)) (Result, error) {
	c := &copier{src: src, dst: dst, keep: keep, moved: moved, res: Result{Bytes: walfmt.HeaderSize}}
	c.out = walfmt.AppendFileHeader(make([]byte, 0, copyChunk+64<<10), hdr)
	var reported int64
	y := NewYielder()
	pos := src.Start
	for _, off := range src.Live {
		if off < pos && off >= src.Start {
			return c.res, c.corrupt(off, "live record inside the one before it")
		}
		if bufEnd := c.bufOff + int64(c.bufLen); pos < src.End && off-pos < readAcross &&
			(pos < c.bufOff || pos >= bufEnd || off+walfmt.RecordHeaderSize > bufEnd) {
			// A short stretch of dead records, not all read: read from
			// its start, so that stepRead can check that it ends where
			// off is.
			if _, err := c.window(pos, int(min(walfmt.RecordHeaderSize, src.End-pos))); err != nil {
				return c.res, err
			}
		}
		if err := c.stepRead(pos, off); err != nil {
			return c.res, err
		}
		size, err := c.stepMapped(off)
		if err != nil {
			return c.res, err
		}
		pos = off + int64(size)
		y.Scanned(pos)
		if pos-reported >= progressEvery {
			if err := ctx.Err(); err != nil {
				return c.res, err
			}
			if progress != nil {
				progress(pos)
			}
			reported = pos
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

// copier is the state of one Copy.
type copier struct {
	src   Source
	dst   io.Writer
	keep  Live
	moved Moved
	res   Result

	buf    []byte // a window of the old log: chunk, big, or (CopyMapped) the log
	bufOff int64  // offset of buf[0] in the old log
	bufLen int    // valid bytes in buf
	chunk  []byte // the buffer of a chunk's read
	big    []byte // the buffer of a record larger than a chunk

	out []byte // new log bytes not yet written

	// sink is what CopyMapped's touches read, kept so that they are not
	// optimized away.
	sink byte
}

// stepRead steps by their lengths over the dead records from pos to off,
// the next live record, as far as the old log has been read: the dead
// records between two live ones in the same read cost a look at their
// headers, and a step that passes over off finds a live offset that is not
// where a record starts. Past the end of what has been read the records
// are not read, and so not checked.
//
// A dead record may be damaged, its lengths too: a header that is no
// record's ends the walk, and so does a record that passes over off
// without a checksum that holds, or whose lengths run past the log's end.
// Only a sound record passed over is corruption: the live offset lies
// inside it. (One larger than a read is not read to be checked.)
func (c *copier) stepRead(pos, off int64) error {
	end := c.bufOff + int64(c.bufLen)
	for pos < off && pos >= c.bufOff && pos+walfmt.RecordHeaderSize <= end {
		h := c.buf[pos-c.bufOff : pos-c.bufOff+walfmt.RecordHeaderSize]
		kind, size, _, _, ok := walfmt.RecordExtent(h)
		if !ok {
			var reason string
			if kind, size, reason = walfmt.Extent(h); reason != "" {
				return nil
			}
		}
		if pos+int64(size) <= off {
			if kind == walfmt.KindBatch {
				size = walfmt.RecordHeaderSize // its operations are records of their own
			}
			pos += int64(size)
			continue
		}
		// The record passes over off. Check it whole, reading the rest
		// of it if it runs past what is read, unless its lengths run past
		// the log (damaged) or it is larger than a read.
		if pos+int64(size) > c.src.End || size > copyChunk {
			return nil
		}
		if pos+int64(size) > end {
			if _, err := c.window(pos, size); err != nil {
				return err
			}
			end = c.bufOff + int64(c.bufLen)
		}
		if !walfmt.ChecksumMatches(c.buf[pos-c.bufOff : pos-c.bufOff+int64(size)]) {
			return nil
		}
		if kind != walfmt.KindBatch {
			return c.corrupt(off, "live record inside a record")
		}
		pos += walfmt.RecordHeaderSize // a batch's operations are records of their own
	}
	return nil
}

// extent reads the header of the record or batch operation at pos and
// returns its kind and size, checked against the format's limits and the
// log's end.
func (c *copier) extent(pos int64) (walfmt.Kind, int, error) {
	if c.src.End-pos < walfmt.RecordHeaderSize {
		return 0, 0, c.corrupt(pos, "incomplete record header")
	}
	h, err := c.window(pos, walfmt.RecordHeaderSize)
	if err != nil {
		return 0, 0, err
	}
	kind, size, reason := walfmt.Extent(h)
	switch {
	case reason != "":
		return 0, 0, c.corrupt(pos, reason)
	case int64(size) > c.src.End-pos:
		return 0, 0, c.corrupt(pos, "record extends past end of log")
	}
	return kind, size, nil
}

// quick copies the live record at pos the fast way, if it is a whole put
// outside a batch (walfmt.RecordExtent) whose checksum matches, and
// reports done and the record's size. Anything else — a batch operation, a
// damaged record, a header past the end — is left to the general path
// (done false), which reads it again and says what is wrong.
func (c *copier) quick(pos int64) (size int, done bool, err error) {
	if c.src.End-pos < walfmt.RecordHeaderSize {
		return 0, false, nil
	}
	h, err := c.window(pos, walfmt.RecordHeaderSize)
	if err != nil {
		return 0, false, err
	}
	kind, size, keyOff, keyLen, ok := walfmt.RecordExtent(h)
	if !ok || int64(size) > c.src.End-pos || kind != walfmt.KindPut {
		return 0, false, nil
	}
	b, err := c.window(pos, size)
	if err != nil || !walfmt.ChecksumMatches(b) {
		return 0, false, err
	}
	return size, true, c.keepLive(pos, b, b[keyOff:keyOff+keyLen], nil)
}

// copyLive verifies the live record of size bytes at pos and appends it to
// the new log: as it is, or, for a batch's put, as a plain put record.
func (c *copier) copyLive(pos int64, size int) error {
	b, err := c.window(pos, size)
	if err != nil {
		return err
	}
	rec, err := c.decode(pos, b)
	if err != nil {
		return err
	}
	if rec.Flags&walfmt.FlagBatchOp == 0 {
		return c.keepLive(pos, b, rec.Key, nil)
	}
	return c.keepLive(pos, b, rec.Key, &rec)
}

// keepLive appends the verified live record b at pos, whose key is key, to
// the new log, unless keep drops it: as it is, or, for op, a batch's put,
// as a plain put record.
func (c *copier) keepLive(pos int64, b, key []byte, op *walfmt.Record) error {
	if c.keep != nil {
		ok, err := c.keep(key, pos)
		if err != nil {
			return err
		}
		if !ok {
			c.res.Dropped++
			return nil
		}
	}
	start := len(c.out)
	if op == nil {
		c.out = append(c.out, b...)
	} else {
		c.out = walfmt.AppendPlain(c.out, *op)
	}
	n := len(c.out) - start
	c.moved(key, pos, c.res.Bytes, n)
	c.res.Bytes += int64(n)
	c.res.Kept++
	return nil
}

// decode checks the live record b at pos, its checksum included: a put of
// the log, or a put of a batch.
func (c *copier) decode(pos int64, b []byte) (walfmt.Record, error) {
	if b[5]&walfmt.FlagBatchOp == 0 { // the flags byte (see walfmt's doc)
		rec, err := walfmt.Decode(b)
		if err != nil {
			return rec, c.corrupt(pos, "live record: "+reason(err))
		}
		if rec.Kind != walfmt.KindPut {
			return rec, c.corrupt(pos, "live record is not a put")
		}
		return rec, nil
	}
	// An operation is checked by the batch walk, which needs a batch
	// around it: this one holds the operation alone.
	var rec walfmt.Record
	n := 0
	err := walfmt.ForEachOp(walfmt.Record{Value: b, Offset: pos - walfmt.RecordHeaderSize}, func(op walfmt.Record) error {
		rec, n = op, n+1
		return nil
	})
	switch {
	case err != nil:
		return rec, c.corrupt(pos, "live batch operation: "+reason(err))
	case n != 1 || rec.Size != len(b) || rec.Kind != walfmt.KindPut:
		return rec, c.corrupt(pos, "live batch operation is not one put")
	}
	return rec, nil
}

// reason is the reason of a corruption error, or its text.
func reason(err error) string {
	if ce := (*walfmt.CorruptionError)(nil); errors.As(err, &ce) {
		return ce.Reason
	}
	return err.Error()
}

func (c *copier) corrupt(off int64, why string) error {
	return &walfmt.CorruptionError{File: c.src.Name, Offset: off, Reason: why}
}

// window returns n bytes of the old log at off, reading a chunk from there
// when they are not already buffered. n is at most a record's size, which
// the caller has checked against the format's limits and the log's end. A
// record larger than a chunk is read into a buffer of its own (big), with
// what the chunk before held of it copied rather than read again; the
// reads after it are chunks again, so that a stretch of dead records after
// a large live one is not read with it.
func (c *copier) window(off int64, n int) ([]byte, error) {
	if off >= c.bufOff && off+int64(n) <= c.bufOff+int64(c.bufLen) {
		i := int(off - c.bufOff)
		return c.buf[i : i+n], nil
	}
	var buf []byte
	have := 0
	if n > copyChunk {
		if cap(c.big) < n {
			c.big = make([]byte, n)
		}
		buf = c.big[:n]
		if off >= c.bufOff && off < c.bufOff+int64(c.bufLen) {
			have = copy(buf, c.buf[off-c.bufOff:c.bufLen])
		}
	} else {
		if c.chunk == nil {
			c.chunk = make([]byte, copyChunk)
		}
		buf = c.chunk[:min(int64(copyChunk), c.src.End-off)]
	}
	got, err := c.src.R.ReadAt(buf[have:], off+int64(have))
	got += have
	if got < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		c.bufLen = 0
		return nil, fmt.Errorf("compact: read %s at offset %d: %w", c.src.Name, off, err)
	}
	c.buf, c.bufOff, c.bufLen = buf, off, got
	return c.buf[:n], nil
}

// flush writes the gathered bytes of the new log.
func (c *copier) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.dst.Write(c.out)
	c.out = c.out[:0]
	return err
}
