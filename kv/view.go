package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
)

// logView is the log as a reader sees it: the open file and, where the
// system has them, a memory map of it. Small records are read from the
// map without a system call, large ones with one pread (see largeRecord);
// without a map every read uses ReadAt.
type logView struct {
	f File
	m *mapping
	// path names the log in errors.
	path string
	// unverified is the end of the part of the log whose records this
	// process has not read through their checksums: the prefix a hint
	// file covered at Open. A key read from there is trusted only after
	// its record's checksum is (see checkRecord); elsewhere every record
	// was verified when it was replayed, copied or written.
	unverified int64
	// Every publish writes end, and the lock-free Get reads m and
	// unverified, not end (getfast.go): the padding keeps them on
	// different cache lines.
	_ [64]byte
	// end bounds what may be read through m: bytes past the end of the
	// file are in the map's range, but touching them faults.
	end int64
}

// recordBufs holds buffers for reading records with ReadAt, so a Get
// allocates only the value it returns.
var recordBufs = sync.Pool{New: func() any { return new([]byte) }}

// checkRecord verifies the checksum of the record of size bytes at off,
// if it lies in the unverified prefix.
func (v *logView) checkRecord(off int64, size int) error {
	if off >= v.unverified {
		return nil
	}
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	b, err := v.recordBytes(slot{off: uint64(off), size: uint32(size)}, bp)
	if err == nil {
		_, err = walfmt.Value(b)
		err = locateCorruption(err, v.path, off)
	}
	return err
}

// keyAt returns the key of the record at off. With a map the key aliases
// it; the caller must not keep it past the read lock. Offsets come from the
// index, which may have been loaded from a damaged hint, so every bound is
// checked, without overflow, before anything is sliced.
func (v *logView) keyAt(off int64) ([]byte, error) {
	if v.mapsHeader(off) {
		// The header where it lies in the map, uncopied.
		return v.keyOfHeader(off, (*[walfmt.RecordHeaderSize]byte)(v.m.data[off:]))
	}
	h, err := v.header(off) // which says what is wrong, or reads the file
	if err != nil {
		return nil, err
	}
	return v.keyOfHeader(off, &h)
}

// mapsHeader reports whether a record header at off lies in the map,
// below the end: where it may be read in place.
func (v *logView) mapsHeader(off int64) bool {
	return v.m != nil && off >= walfmt.HeaderSizeV1 && off <= v.end-walfmt.RecordHeaderSize &&
		off+walfmt.RecordHeaderSize <= int64(len(v.m.data))
}

// keyOfHeader is keyAt for the record at off whose header h has been read.
func (v *logView) keyOfHeader(off int64, h *[walfmt.RecordHeaderSize]byte) ([]byte, error) {
	start := off + walfmt.RecordHeaderSize
	if h[5]&walfmt.FlagExpiry != 0 {
		start += walfmt.ExpirySize
	}
	n := int64(binary.LittleEndian.Uint32(h[8:12]))
	if n > walfmt.MaxKeyLen {
		return nil, fmt.Errorf("kv: record at offset %d: %w: key length %d", off, walfmt.ErrCorrupt, n)
	}
	if v.m != nil {
		if start > v.end-n {
			return nil, fmt.Errorf("kv: record at offset %d: %w: key runs past the log", off, walfmt.ErrCorrupt)
		}
		return v.m.data[start : start+n], nil
	}
	k := make([]byte, n)
	if _, err := v.f.ReadAt(k, start); err != nil {
		return nil, fmt.Errorf("kv: read key at offset %d: %w", off, err)
	}
	return k, nil
}

// keyAndSize is keyAt that also returns the size of the record, from the
// header it reads, and whether it carries an expiry: a scan reads the
// header once. The size is 0 where the header is not a record's (the read
// of the record reports why).
func (v *logView) keyAndSize(off int64) (key []byte, size int, expiring bool, err error) {
	if !v.mapsHeader(off) {
		h, err := v.header(off) // which says what is wrong, or reads the file
		if err != nil {
			return nil, 0, false, err
		}
		k, err := v.keyOfHeader(off, &h)
		return k, max(recordSize(h[:]), 0), h[5]&walfmt.FlagExpiry != 0, err
	}
	// The header where it lies in the map, uncopied.
	h := (*[walfmt.RecordHeaderSize]byte)(v.m.data[off:])
	k, err := v.keyOfHeader(off, h)
	return k, max(recordSize(h[:]), 0), h[5]&walfmt.FlagExpiry != 0, err
}

// readAt reads len(b) bytes of the log at off: from the map where they lie
// below the published end, else from the file.
func (v *logView) readAt(b []byte, off int64) (int, error) {
	if m := v.m; m != nil && off >= 0 && off+int64(len(b)) <= min(v.end, int64(len(m.data))) {
		return copy(b, m.data[off:]), nil
	}
	return v.f.ReadAt(b, off)
}

// header returns the fixed header of the record at off.
func (v *logView) header(off int64) ([walfmt.RecordHeaderSize]byte, error) {
	var h [walfmt.RecordHeaderSize]byte
	if v.m == nil {
		return v.readHeader(off)
	}
	if off < walfmt.HeaderSizeV1 || off > v.end-walfmt.RecordHeaderSize {
		return h, fmt.Errorf("kv: index points at offset %d, outside the log: %w", off, walfmt.ErrCorrupt)
	}
	copy(h[:], v.m.data[off:])
	return h, nil
}

// readHeader reads a record header without the map. It is apart from
// header because its buffer escapes to the heap.
func (v *logView) readHeader(off int64) ([walfmt.RecordHeaderSize]byte, error) {
	var h [walfmt.RecordHeaderSize]byte
	if _, err := v.f.ReadAt(h[:], off); err != nil {
		return h, fmt.Errorf("kv: read record header at offset %d: %w", off, err)
	}
	return h, nil
}

// maxRecord is the largest record the format allows.
const maxRecord = walfmt.RecordHeaderSize + walfmt.ExpirySize + walfmt.MaxKeyLen + walfmt.MaxValueLen

// value returns a copy of the value of the record s points to, after
// verifying the record's checksum.
func (v *logView) value(s slot) ([]byte, error) {
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	b, err := v.recordBytes(s, bp)
	if err != nil {
		return nil, err
	}
	val, err := v.heldValue(b, int64(s.off))
	if err != nil || walfmt.ValueCodec(b) != 0 {
		return val, err // decoded into a buffer of its own
	}
	out := make([]byte, len(val)) // val is part of the pooled *bp
	copy(out, val)
	return out, nil
}

// codecError places err, a failure to decode the value of the record at
// off, in the log.
func (v *logView) codecError(err error, off int64) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnknownCodec) {
		return fmt.Errorf("kv: %s: record at offset %d: %w", v.path, off, err)
	}
	return locateCorruption(err, v.path, off)
}

// decodedAt copies the decoded value of the encoded record s points to,
// from offset off, into p: a value stored encoded is decoded whole to be
// read in part.
func (v *logView) decodedAt(s slot, p []byte, off int64) (int, int, error) {
	val, err := v.value(s)
	if err != nil {
		return 0, 0, err
	}
	if off >= int64(len(val)) {
		return 0, len(val), nil
	}
	return copy(p, val[off:]), len(val), nil
}

// recordBytes returns the bytes of the record s points to: from the map,
// or read into *bp (into a buffer of their own past recordPoolMax). A
// large record is read, not taken from the map, when there is a bp (see
// largeRecord). They are valid until the read lock or *bp is let go.
func (v *logView) recordBytes(s slot, bp *[]byte) ([]byte, error) {
	off, size := int64(s.off), int(s.size)
	if size > maxRecord || off < walfmt.HeaderSizeV1 {
		return nil, fmt.Errorf("kv: %s: index holds an impossible record at offset %d: %w", v.path, off, walfmt.ErrCorrupt)
	}
	if v.m != nil && (bp == nil || !large(s)) {
		if off > v.end-int64(size) {
			return nil, fmt.Errorf("kv: %s: index points past the log at offset %d: %w", v.path, off, walfmt.ErrCorrupt)
		}
		return v.m.data[off : off+int64(size)], nil
	}
	r := recordReader{v: v, max: maxRecord, bp: bp}
	return r.read(s)
}

// locateCorruption fills in where a record that failed to decode sits.
func locateCorruption(err error, path string, off int64) error {
	if err == nil {
		return nil
	}
	var ce *walfmt.CorruptionError
	if errors.As(err, &ce) {
		ce.File, ce.Offset = path, off
		return fmt.Errorf("kv: read: %w", ce)
	}
	return err
}

// streamChunk is the size of the buffer valueAt reads a record through
// when the log is not mapped.
const streamChunk = 64 << 10

// streamBufs holds valueAt's buffers.
var streamBufs = sync.Pool{New: func() any {
	b := make([]byte, streamChunk)
	return &b
}}

// valueAt copies the value of the record s points to, from offset off,
// into p, after verifying the record's checksum, and returns how many
// bytes it copied and the value's size. With a map it checksums a small
// record in place; it reads a large one, or any without a map, through a
// buffer of streamChunk bytes. Either way it allocates nothing in proportion to
// the value.
func (v *logView) valueAt(s slot, p []byte, off int64) (int, int, error) {
	if v.m != nil && !large(s) {
		b, err := v.recordBytes(s, nil)
		if err != nil {
			return 0, 0, err
		}
		if len(b) >= walfmt.RecordHeaderSize && walfmt.ValueCodec(b) != 0 {
			return v.decodedAt(s, p, off)
		}
		val, err := walfmt.Value(b)
		if err != nil {
			return 0, 0, locateCorruption(err, v.path, int64(s.off))
		}
		if off >= int64(len(val)) {
			return 0, len(val), nil
		}
		return copy(p, val[off:]), len(val), nil
	}
	rec, size := int64(s.off), int64(s.size)
	if size > maxRecord || rec < walfmt.HeaderSizeV1 {
		return 0, 0, fmt.Errorf("kv: %s: index holds an impossible record at offset %d: %w", v.path, rec, walfmt.ErrCorrupt)
	}
	bp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bp)
	buf := *bp
	if size < walfmt.RecordHeaderSize {
		return 0, 0, locateCorruption(&walfmt.CorruptionError{Reason: "incomplete record header"}, v.path, rec)
	}
	if _, err := v.f.ReadAt(buf[:walfmt.RecordHeaderSize], rec); err != nil {
		return 0, 0, fmt.Errorf("kv: read %s at offset %d: %w", v.path, rec, err)
	}
	if walfmt.ValueCodec(buf) != 0 {
		return v.decodedAt(s, p, off)
	}
	stored := binary.LittleEndian.Uint32(buf)
	crc := crc32.Update(0, castagnoli, buf[4:walfmt.RecordHeaderSize])
	vo, vl, err := walfmt.ValueBounds(buf[:walfmt.RecordHeaderSize])
	if err == nil && int64(vo+vl) != size {
		err = &walfmt.CorruptionError{Reason: "not a put record of this size"}
	}
	if err != nil {
		return 0, 0, locateCorruption(err, v.path, rec)
	}
	// The bytes of the record that land in p: [want, wantEnd) from its
	// start.
	var want, wantEnd int64
	if off < int64(vl) {
		want = int64(vo) + off
		wantEnd = want + min(int64(len(p)), int64(vl)-off)
	}
	n := 0
	for pos := int64(walfmt.RecordHeaderSize); pos < size; {
		b := buf[:min(int64(len(buf)), size-pos)]
		if _, err := v.f.ReadAt(b, rec+pos); err != nil {
			return 0, 0, fmt.Errorf("kv: read %s at offset %d: %w", v.path, rec+pos, err)
		}
		crc = crc32.Update(crc, castagnoli, b)
		if lo, hi := max(want, pos), min(wantEnd, pos+int64(len(b))); lo < hi {
			n += copy(p[lo-want:], b[lo-pos:hi-pos])
		}
		pos += int64(len(b))
	}
	if crc != stored {
		return 0, 0, locateCorruption(&walfmt.CorruptionError{Reason: "checksum mismatch"}, v.path, rec)
	}
	return n, vl, nil
}
