package kv

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
)

// Large records stay out of the log's map.
//
// A NoSync writer copies a record into its shared map of the log, which
// costs no system call; but every page written that way stays mapped into
// the process and counts in its resident memory, and the first write to
// each page is a page fault. So a record of largeRecord bytes or more is
// written with pwrite instead, which copies into the page cache without
// mapping anything (see DB.appendLocked): a fill of large values then keeps
// its resident memory flat, and runs several times faster.
//
// What is not mapped must not be read through the map either: the first
// read of each such page would be a fault. So readers take a record of
// largeRecord bytes or more with pread: the index knows each record's size
// (slot.size), and a lookup reads the whole record in one pread when it
// compares the key (recordReader), so that the key check and the value
// cost one system call and no fault.
//
// The price is the read. On a virtual machine where a system call costs
// microseconds, a pread takes more CPU than a copy out of pages the writer
// left mapped, at every size: a View right after a fill cost 5–9 µs of
// CPU against 1.5 at 4 KiB, 23–25 against 8–12 at 64 KiB, 47–54 against
// 32–37 at 256 KiB (three interleaved pairs, load average 11 to 15). So
// small and mid-size records, whose reads that would slow several times,
// stay in the map; only from largeRecord on, where the copy is a larger
// part of a read's cost and a fill's pages are most of its memory, are
// records kept out of it.
//
// Both paths see the same bytes whichever wrote them, as the page cache is
// one: writer and reader need not agree on the size, only choose the
// cheaper path most of the time.
const largeRecord = 32 << 10

// recordPoolMax is the largest buffer a read leaves in a pool for the
// next: a larger record is read into a buffer of its own, so that one
// large value does not pin its size in a pool.
const recordPoolMax = 1 << 20

// keyGuess is how many bytes of a large record logView.keyOf reads to find
// its key: the header, an expiry and a key of up to some 230 bytes. A
// longer key takes a second pread.
const keyGuess = 256

// large reports whether the record s points to is read with pread rather
// than through the map.
func large(s slot) bool { return s.size >= largeRecord }

// keyOf returns the key of the record s points to: through the map for a
// small record, with pread for a large one (see largeRecord), so that a
// writer comparing keys maps nothing. A key read through the map aliases
// it, as keyAt's does.
func (v *logView) keyOf(s slot) ([]byte, error) {
	if v.m == nil || !large(s) {
		return v.keyAt(int64(s.off))
	}
	return v.readKey(s, nil)
}

// readKey reads the key of the record s points to with pread, into *bp
// (or, for a nil bp, a buffer of its own): one pread of the record's first
// keyGuess bytes, and a second for a longer key.
func (v *logView) readKey(s slot, bp *[]byte) ([]byte, error) {
	off, size := int64(s.off), int(s.size)
	if err := v.checkExtent(off, size); err != nil {
		return nil, err
	}
	var buf []byte
	if bp != nil {
		buf = *bp
	}
	b := grow(buf, min(size, keyGuess))
	if err := v.pread(b, off); err != nil {
		return nil, err
	}
	start, n, err := keyBounds(b, size, off)
	if err == nil && start+n > len(b) {
		b = grow(b, start+n)
		err = v.pread(b[len(b)-n:], off+int64(start))
	}
	if bp != nil {
		*bp = b
	}
	if err != nil {
		return nil, err
	}
	return b[start : start+n : start+n], nil
}

// grow returns b resized to n bytes, reallocated when its capacity is
// short (its contents are then lost).
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// checkExtent checks that a record of size bytes at off, as the index
// holds it, can be a record of the published log. The index may come from
// a damaged hint: nothing is read or allocated before this holds.
func (v *logView) checkExtent(off int64, size int) error {
	if size > maxRecord || size < walfmt.RecordHeaderSize || off < walfmt.HeaderSizeV1 {
		return fmt.Errorf("kv: %s: index holds an impossible record at offset %d: %w", v.path, off, walfmt.ErrCorrupt)
	}
	if off > v.end-int64(size) {
		return fmt.Errorf("kv: %s: index points past the log at offset %d: %w", v.path, off, walfmt.ErrCorrupt)
	}
	return nil
}

// pread fills b from the log file at off; a short read is an error.
func (v *logView) pread(b []byte, off int64) error {
	n, err := v.f.ReadAt(b, off)
	if n == len(b) {
		return nil // io.ReaderAt may report io.EOF with a full read
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("kv: read %s at offset %d: %w", v.path, off, err)
}

// keyBounds returns where the key of a record of size bytes lies in it,
// from b, the record's first bytes (at least its fixed header). Nothing
// in b is trusted: the checksum is not verified here.
func keyBounds(b []byte, size int, off int64) (start, n int, err error) {
	if len(b) < walfmt.RecordHeaderSize {
		return 0, 0, fmt.Errorf("kv: record at offset %d: %w: incomplete header", off, walfmt.ErrCorrupt)
	}
	start = walfmt.RecordHeaderSize
	if b[5]&walfmt.FlagExpiry != 0 {
		start += walfmt.ExpirySize
	}
	n = int(binary.LittleEndian.Uint32(b[8:12]))
	if n > walfmt.MaxKeyLen || start+n > size {
		return 0, 0, fmt.Errorf("kv: record at offset %d: %w: key runs past the record", off, walfmt.ErrCorrupt)
	}
	return start, n, nil
}

// recordReader is the keySource of one lookup by a reader: it reads a
// large record (or, without a map, any record) whole with one pread when
// the index compares its key, and keeps it, so that the value is read by
// the same system call as the key. Records up to max bytes are read whole;
// a larger one is compared as logView.keyOf does and read afterwards.
// It is used under mu held shared, by one goroutine. Readers come from a
// pool (getReader): a keySource escapes to the heap, and a Get should
// allocate only the value it returns.
type recordReader struct {
	v   *logView
	max int
	// bp is the buffer records are read into, nil to read each into a
	// buffer of its own (which Get then returns a part of); buf backs it
	// for a pooled one.
	bp  *[]byte
	buf []byte
	// rec is the last record read whole, at off; nil when none is.
	rec []byte
	off int64
}

var readers = sync.Pool{New: func() any { return new(recordReader) }}

// getReader returns a reader of v for one lookup that reads records of up
// to max bytes whole: into a pooled buffer, or with fresh into a buffer of
// their own each. putReader returns it.
func getReader(v *logView, max int, fresh bool) *recordReader {
	r := readers.Get().(*recordReader)
	r.v, r.max, r.bp = v, max, &r.buf
	if fresh {
		r.bp = nil
	}
	return r
}

// putReader returns r to the pool, forgetting what it read: a record read
// into a buffer of its own may be a value its caller returned.
func putReader(r *recordReader) {
	r.v, r.rec, r.bp = nil, nil, nil
	if cap(r.buf) > recordPoolMax {
		r.buf = nil
	}
	readers.Put(r)
}

// keyAt is the logView's: an offset alone does not say a record's size.
func (r *recordReader) keyAt(off int64) ([]byte, error) { return r.v.keyAt(off) }

// keyOf returns the key of the record s points to, reading the record
// whole first when it is large (or there is no map) and at most r.max
// bytes.
func (r *recordReader) keyOf(s slot) ([]byte, error) {
	if r.v.m != nil && !large(s) {
		return r.v.keyAt(int64(s.off))
	}
	if int(s.size) > r.max {
		r.rec = nil
		return r.v.readKey(s, r.bp)
	}
	b, err := r.read(s)
	if err != nil {
		return nil, err
	}
	start, n, err := keyBounds(b, len(b), int64(s.off))
	if err != nil {
		return nil, err
	}
	return b[start : start+n : start+n], nil
}

// checkRecord verifies the record's checksum, from the copy read for the
// key check where there is one.
func (r *recordReader) checkRecord(off int64, size int) error {
	if b := r.held(slot{off: uint64(off), size: uint32(size)}); b != nil {
		if off >= r.v.unverified {
			return nil
		}
		_, err := walfmt.Value(b)
		return locateCorruption(err, r.v.path, off)
	}
	return r.v.checkRecord(off, size)
}

// read reads the record s points to whole: into *r.bp, unless it is
// larger than recordPoolMax or r.bp is nil, then into a buffer of its own.
func (r *recordReader) read(s slot) ([]byte, error) {
	off, size := int64(s.off), int(s.size)
	r.rec = nil
	if err := r.v.checkExtent(off, size); err != nil {
		return nil, err
	}
	var b []byte
	if r.bp != nil && size <= recordPoolMax {
		*r.bp = grow(*r.bp, size)
		b = *r.bp
	} else {
		b = make([]byte, size)
	}
	if err := r.v.pread(b, off); err != nil {
		return nil, err
	}
	r.rec, r.off = b, off
	return b, nil
}

// held returns the record s points to if the key check read it whole,
// else nil. The last record read is the one whose key matched, when the
// lookup found one: a probe stops there.
func (r *recordReader) held(s slot) []byte {
	if r.rec == nil || r.off != int64(s.off) || len(r.rec) != int(s.size) {
		return nil
	}
	return r.rec
}

// heldValue returns the value of rec, a record read whole, after
// verifying its checksum: a part of rec itself for a raw value (rec is
// then the caller's to return), else the value decoded.
func (v *logView) heldValue(rec []byte, off int64) ([]byte, error) {
	val, err := walfmt.Value(rec)
	if err != nil {
		return nil, locateCorruption(err, v.path, off)
	}
	if id := walfmt.ValueCodec(rec); id != 0 {
		out, err := decodeValue(nil, id, val)
		return out, v.codecError(err, off)
	}
	return val[:len(val):len(val)], nil
}

// heldValueAt copies the value of rec, a record read whole, from offset
// off into p, after verifying its checksum, and returns how many bytes it
// copied and the value's size.
func (v *logView) heldValueAt(rec []byte, recOff int64, p []byte, off int64) (int, int, error) {
	val, err := v.heldValue(rec, recOff)
	if err != nil {
		return 0, 0, err
	}
	if off >= int64(len(val)) {
		return 0, len(val), nil
	}
	return copy(p, val[off:]), len(val), nil
}

// headerOf returns the fixed header of the record s points to: read with
// pread for a large record, as its other bytes are.
func (v *logView) headerOf(s slot) ([walfmt.RecordHeaderSize]byte, error) {
	var h [walfmt.RecordHeaderSize]byte
	if v.m == nil || !large(s) {
		return v.header(int64(s.off))
	}
	if err := v.checkExtent(int64(s.off), int(s.size)); err != nil {
		return h, err
	}
	return v.readHeader(int64(s.off))
}
