package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
)

// logView is the log as a reader sees it: the open file and, where the
// system has them, a memory map of it. Reads come from the map without a
// system call; without one they use ReadAt.
type logView struct {
	f File
	m *mapping
	// end bounds what may be read through m: bytes past the end of the
	// file are in the map's range, but touching them faults.
	end int64
}

// recordBufs holds buffers for reading records with ReadAt, so a Get
// allocates only the value it returns.
var recordBufs = sync.Pool{New: func() any { return new([]byte) }}

// keyAt returns the key of the record at off. With a map the key aliases
// it; the caller must not keep it past the read lock. Offsets come from the
// index, which may have been loaded from a damaged hint, so every bound is
// checked, without overflow, before anything is sliced.
func (v *logView) keyAt(off int64) ([]byte, error) {
	h, err := v.header(off)
	if err != nil {
		return nil, err
	}
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

// header returns the fixed header of the record at off.
func (v *logView) header(off int64) ([walfmt.RecordHeaderSize]byte, error) {
	var h [walfmt.RecordHeaderSize]byte
	if v.m == nil {
		return v.readHeader(off)
	}
	if off < walfmt.HeaderSize || off > v.end-walfmt.RecordHeaderSize {
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
func (v *logView) value(s slot, path string) ([]byte, error) {
	off, size := int64(s.off), int(s.size)
	if size > maxRecord || off < walfmt.HeaderSize {
		return nil, fmt.Errorf("kv: %s: index holds an impossible record at offset %d: %w", path, off, walfmt.ErrCorrupt)
	}
	var b []byte
	if v.m != nil {
		if off > v.end-int64(size) {
			return nil, fmt.Errorf("kv: %s: index points past the log at offset %d: %w", path, off, walfmt.ErrCorrupt)
		}
		b = v.m.data[off : off+int64(size)]
	} else {
		bp := recordBufs.Get().(*[]byte)
		defer recordBufs.Put(bp)
		if cap(*bp) < size {
			*bp = make([]byte, size)
		}
		b = (*bp)[:size]
		if _, err := v.f.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("kv: read %s at offset %d: %w", path, off, err)
		}
	}
	val, err := walfmt.Value(b)
	if err != nil {
		return nil, locateCorruption(err, path, off)
	}
	out := make([]byte, len(val))
	copy(out, val)
	return out, nil
}

// locateCorruption fills in where a record that failed to decode sits.
func locateCorruption(err error, path string, off int64) error {
	var ce *walfmt.CorruptionError
	if errors.As(err, &ce) {
		ce.File, ce.Offset = path, off
		return fmt.Errorf("kv: read: %w", ce)
	}
	return err
}
