package walfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// bufSize is the reader's window. Records that do not fit are read into a
// larger buffer only after their checksum has been verified in windows, so
// no allocation is ever sized by a length that has not been proven.
const bufSize = 64 << 10

// Reader walks the records of a log from its header to a size limit. It is
// not safe for concurrent use.
type Reader struct {
	src  io.ReaderAt
	size int64
	name string

	buf    []byte
	bufOff int64 // log offset of buf[0]
	bufLen int   // valid bytes in buf

	off     int64 // offset of the next record
	started bool
	err     error // sticky error
	bad     int64 // offset of the last invalid record, for Resync
	header  FileHeader
	// zeros is where the caller vouches that the log is zeros to its end
	// (see SetZerosFrom); size when it has not.
	zeros int64
}

// NewReader returns a Reader over the first size bytes of src. name is the
// file's path, used in errors.
func NewReader(src io.ReaderAt, size int64, name string) *Reader {
	return &Reader{src: src, size: size, name: name, buf: make([]byte, bufSize), bad: -1, zeros: size}
}

// SetZerosFrom tells the reader that every byte of the log from off to its
// end is zero, so that it need not read them to find that the log ends
// there: a writer reserves megabytes past its last record, which a crash
// leaves in the file, and a replay otherwise read them several times over.
// The caller must know, not guess: a hole the file system reports, or
// bytes it has read. Records are still read whole where they reach past
// off.
func (r *Reader) SetZerosFrom(off int64) {
	r.zeros = min(max(off, 0), r.size)
}

// StartAt makes the reader continue from off, a record boundary past the
// file header that an earlier walk has already checked. It lets a caller read
// only what was appended after a known point.
func (r *Reader) StartAt(off int64) {
	r.started, r.off, r.err, r.bad = true, off, nil, -1
}

// Offset returns the offset just past the last valid record returned: the
// length of the good prefix of the log.
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next record. At a clean end it returns io.EOF. At an
// invalid record it returns a *CorruptionError that wraps ErrTornTail when no
// valid record follows and ErrCorrupt when one does; a bad file header gives
// ErrForeignFile or a *VersionError, and a damaged one the *CorruptionError
// of ParseHeader, never torn, after which Resync finds the first record if
// there is one. I/O errors are returned as they are.
// The record's Key and Value are valid until the next call.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	if !r.started {
		if err := r.readHeader(); err != nil {
			r.err = err
			return Record{}, err
		}
	}
	if r.off == r.size {
		return Record{}, io.EOF
	}
	zero, err := r.zeroFrom(r.off)
	if err != nil {
		r.err = err
		return Record{}, err
	}
	if zero {
		// Space reserved ahead of appends: the log ends here.
		return Record{}, io.EOF
	}
	rec, reason, err := r.readRecord(r.off)
	if err != nil {
		r.err = err
		return Record{}, err
	}
	if reason != "" {
		r.err = r.invalid(r.off, reason)
		return Record{}, r.err
	}
	rec.Offset = r.off
	r.off += int64(rec.Size)
	return rec, nil
}

// Resync moves the reader past the invalid record that the last call to Next
// reported, to the next offset where a valid record starts. It returns that
// offset, or false when no valid record follows. It lets a repair tool
// salvage what lies beyond a damaged span.
func (r *Reader) Resync() (int64, bool, error) {
	if r.bad < 0 {
		return 0, false, errors.New("walfmt: resync without a corrupt record")
	}
	next, ok, err := r.findValid(r.bad + 1)
	if err != nil || !ok {
		return 0, false, err
	}
	r.off, r.err, r.bad = next, nil, -1
	return next, true, nil
}

// ValidPast reports whether valid data lies beyond limit after the invalid
// record that the last call to Next reported: whether a valid record after
// it ends past limit. It walks on from the invalid record, from each valid
// record to the next and resynchronising past any further damage, as Resync
// does, and stops at the first record that ends past limit. The reader
// stays where it was. With limit SyncWindow bytes past the invalid record,
// a false answer means the damage is what a crash during appends can leave:
// a torn tail.
func (r *Reader) ValidPast(limit int64) (bool, error) {
	if r.bad < 0 {
		return false, errors.New("walfmt: ValidPast without a corrupt record")
	}
	if r.size <= limit {
		return false, nil // no record can end past the log
	}
	w := NewReader(r.src, r.size, r.name) // its own buffer: r's stays valid
	w.zeros = r.zeros
	for p := r.bad + 1; ; {
		if zero, err := w.zeroFrom(p); err != nil || zero {
			return false, err // reserved space: the log ends here
		}
		next, ok, err := w.findValid(p)
		if err != nil || !ok {
			return false, err
		}
		h, _, err := w.peekHeader(next) // valid: findValid checked it
		if err != nil {
			return false, err
		}
		p = next + int64(h.size())
		if p > limit {
			return true, nil
		}
	}
}

func (r *Reader) readHeader() error {
	r.started = true
	n := min(r.size, HeaderSize)
	b, err := r.window(0, int(n))
	if err != nil {
		return err
	}
	h, err := ParseHeader(b)
	var ce *CorruptionError
	switch {
	case errors.Is(err, ErrTornTail):
		return &CorruptionError{File: r.name, Offset: 0, Reason: "incomplete file header", Torn: true}
	case errors.As(err, &ce):
		// A damaged header's fields: the records after it are read as
		// those after any damaged span are, once Resync has found the
		// first. It is never a torn tail, even with no record after it:
		// the header is synced before any record is written.
		r.header, r.off, r.bad = h, ce.Offset, ce.Offset
		ce.File = r.name
		return ce
	case err != nil:
		return fmt.Errorf("%s: %w", r.nameOr(), err)
	}
	r.header = h
	r.off = h.Size()
	return nil
}

// Header returns the log's file header, once Next has read it; a Reader
// started with StartAt has not.
func (r *Reader) Header() FileHeader { return r.header }

func (r *Reader) nameOr() string {
	if r.name == "" {
		return "log"
	}
	return r.name
}

// invalid builds the error for an invalid record at off, deciding between a
// torn tail and corruption by looking for any valid record after it.
func (r *Reader) invalid(off int64, reason string) error {
	r.bad = off
	_, found, err := r.findValid(off + 1)
	if err != nil {
		return err
	}
	return &CorruptionError{File: r.name, Offset: off, Reason: reason, Torn: !found}
}

// readRecord reads and checks the record at off. A non-empty reason means
// the record is invalid; err is an I/O error.
func (r *Reader) readRecord(off int64) (Record, string, error) {
	var rec Record
	h, reason, err := r.peekHeader(off)
	if err != nil || reason != "" {
		return rec, reason, err
	}
	n := h.size()
	if n > len(r.buf) {
		// Prove the record before sizing a buffer by its lengths.
		ok, err := r.checksumStreaming(off, h)
		if err != nil || !ok {
			return rec, "checksum mismatch", err
		}
		r.buf = make([]byte, n)
		r.bufLen = 0
	}
	b, err := r.window(off, n)
	if err != nil {
		return rec, "", err
	}
	return rec, decode(b, h, &rec), nil
}

// peekHeader decodes the record header at off and checks that the record
// fits in the log.
func (r *Reader) peekHeader(off int64) (header, string, error) {
	if r.size-off < RecordHeaderSize {
		return header{}, "incomplete record header", nil
	}
	b, err := r.window(off, RecordHeaderSize)
	if err != nil {
		return header{}, "", err
	}
	h, reason := parseHeader(b)
	if reason == "" && int64(h.size()) > r.size-off {
		reason = "record extends past end of log"
	}
	return h, reason, nil
}

// checksumStreaming verifies the checksum of the record at off in windows of
// the reader's buffer, without allocating.
func (r *Reader) checksumStreaming(off int64, h header) (bool, error) {
	crc := uint32(0)
	end := off + int64(h.size())
	for p := off + 4; p < end; {
		n := int(min(end-p, int64(len(r.buf))))
		b, err := r.window(p, n)
		if err != nil {
			return false, err
		}
		crc = crc32.Update(crc, crcTable, b)
		p += int64(n)
	}
	return crc == h.crc, nil
}

// zeroFrom reports whether every byte from off to the end of the log is
// zero. It reads only as far as the first non-zero byte, which for a record
// is within its first few bytes.
func (r *Reader) zeroFrom(off int64) (bool, error) {
	if off >= r.zeros {
		return true, nil
	}
	// A record's first bytes are its checksum and kind, never all zero:
	// look at them alone, from the buffer the record is read through.
	n := int(min(r.zeros-off, RecordHeaderSize))
	b, err := r.window(off, n)
	if err != nil || !allZero(b) {
		return false, err
	}
	for p := off + int64(n); p < r.zeros; {
		n := int(min(r.zeros-p, int64(len(r.buf))))
		b, err := r.window(p, n)
		if err != nil {
			return false, err
		}
		if !allZero(b) {
			return false, nil
		}
		p += int64(n)
	}
	return true, nil
}

// zerosAt returns how many zero bytes the log has from off on, counting
// no further than the reader has buffered (a window, read from off if it
// must be); 0 at once where the byte at off is not zero.
func (r *Reader) zerosAt(off int64) (int, error) {
	if off >= r.zeros {
		return int(min(r.size-off, math.MaxInt32)), nil
	}
	b, err := r.window(off, 1)
	if err != nil || b[0] != 0 {
		return 0, err
	}
	i := int(off - r.bufOff)
	b = r.buf[i:min(r.bufLen, i+int(r.zeros-off))]
	for j, c := range b {
		if c != 0 {
			return j, nil
		}
	}
	return len(b), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// FindRecord returns the first offset in [from, limit) where a valid
// record starts: its header sound and its checksum right. It lets a
// reader that splits a log into pieces find where records start in each;
// bytes inside a value can look like a record, so a caller must confirm
// the offset by reaching it from the record before. The reader's position
// is unchanged.
func (r *Reader) FindRecord(from, limit int64) (int64, bool, error) {
	for p := from; p < limit && r.size-p >= RecordHeaderSize; p++ {
		z, err := r.zerosAt(p)
		if err != nil {
			return 0, false, err
		}
		if z >= RecordHeaderSize {
			// No record starts where its header would be all zeros
			// (see zeroFrom): skip them. The space a writer reserves
			// past its last record is megabytes of zeros, which a
			// byte-by-byte search took seconds over.
			p += int64(z - RecordHeaderSize)
			continue
		}
		h, reason, err := r.peekHeader(p)
		if err != nil {
			return 0, false, err
		}
		if reason != "" {
			continue
		}
		ok, err := r.checksumStreaming(p, h)
		if err != nil {
			return 0, false, err
		}
		if ok {
			return p, true, nil
		}
	}
	return 0, false, nil
}

// findValid returns the first offset at or after from where a valid record
// starts.
func (r *Reader) findValid(from int64) (int64, bool, error) {
	return r.FindRecord(from, r.size)
}

// window returns n bytes of the log at off, n <= len(r.buf), reading from
// src only when they are not already buffered.
func (r *Reader) window(off int64, n int) ([]byte, error) {
	if off >= r.bufOff && off+int64(n) <= r.bufOff+int64(r.bufLen) {
		i := int(off - r.bufOff)
		return r.buf[i : i+n], nil
	}
	want := int(min(int64(len(r.buf)), r.size-off))
	got, err := r.src.ReadAt(r.buf[:want], off)
	if got < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.bufLen = 0
		return nil, fmt.Errorf("walfmt: read %s at offset %d: %w", r.nameOr(), off, err)
	}
	r.bufOff, r.bufLen = off, got
	return r.buf[:n], nil
}

// Decode decodes the single record that fills b, checking its checksum. It
// is how a random read verifies what it fetched.
func Decode(b []byte) (Record, error) {
	var rec Record
	if len(b) < RecordHeaderSize {
		return rec, &CorruptionError{Reason: "incomplete record header"}
	}
	h, reason := parseHeader(b)
	if reason == "" && h.size() != len(b) {
		reason = "record size mismatch"
	}
	if reason == "" {
		reason = decode(b, h, &rec)
	}
	if reason != "" {
		return rec, &CorruptionError{Reason: reason}
	}
	return rec, nil
}

// Value returns the value of the put record that fills b, after checking
// its checksum and that its lengths account for b exactly. It is Decode's
// fast path for a read through an index, which already knows where the
// record starts and how long it is. The value aliases b.
func Value(b []byte) ([]byte, error) {
	if len(b) < RecordHeaderSize {
		return nil, &CorruptionError{Reason: "incomplete record header"}
	}
	if Checksum(b[4:]) != binary.LittleEndian.Uint32(b[offCRC:]) {
		return nil, &CorruptionError{Reason: "checksum mismatch"}
	}
	start := RecordHeaderSize + int(binary.LittleEndian.Uint32(b[offKeyLen:]))
	if b[offFlags]&FlagExpiry != 0 {
		start += ExpirySize
	}
	if Kind(b[offKind]) != KindPut || start+int(binary.LittleEndian.Uint32(b[offValueLen:])) != len(b) {
		return nil, &CorruptionError{Reason: "not a put record of this size"}
	}
	return b[start:], nil
}
