package kv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/crabkv/crabkv/walfmt"
)

// An order file, wal.order, lets the first scan after Open skip sorting
// the keys: it is a sorted run (see order.go), written at Close beside the
// hint, for the log up to the length it covers.
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------
//	     0     8  magic "CRABKVOR"
//	     8     2  version (2; 1 has no fence), little-endian like every field
//	    10     2  reserved, zero
//	    12     4  entry size in bytes (8)
//	    16     8  number of entries
//	    24     8  log bytes covered: the run orders wal.log up to here
//	    32     4  CRC-32C of the last (up to 4096) log bytes before the end
//	              of the covered prefix
//	    36     4  CRC-32C of the entries
//	    40    16  the ID of the log described, from its file header
//	    56     4  CRC-32C of bytes 0..55
//	    60     4  reserved, zero
//	    64     …  entries: the offset (uint64) of a record of the log for
//	              each key, in the byte order of the keys
//
// Version 2 follows the entries with the run's fence (order_fence.go), so
// that loading the order need not read every 16th key from the log to
// build it, a read of the whole log (about a second for ten million keys
// of 100-byte values here):
//
//	size  field
//	----  -----------------------------------------------------------------
//	   4  length c of the prefix every key of the run shares
//	   4  number m of fence numbers: 0 (no fence), or one for every 16th
//	      entry, the first included
//	   c  the shared prefix
//	  8m  the numbers, each the 8 bytes of its key after the shared
//	      prefix, big-endian, zero-padded, as a little-endian uint64
//	   4  CRC-32C of the fence's fields before this one
//
// A fence that does not check out is built again from the log; the
// entries still serve.
//
// As with the hint, the log ID, the covered length and the checksum of the
// log's last bytes before it tie the file to the very log it describes;
// anything that does not match — a missing or short file, a bad checksum,
// another log, an offset outside the covered prefix — makes the first scan
// sort the keys again. The run holds the keys live at the end of the prefix
// it covers; what was written after that prefix is read from the log's
// tail into the snapshot's overlay (order.go), so a run older than the
// log's end is still right for the prefix it covers. The file is written to
// a temporary file, synced and renamed into place, so it is whole or absent.
const (
	orderName     = "wal.order"
	orderTempName = "wal.order.tmp"
	orderMagic    = "CRABKVOR"
	orderVersion  = 2
	orderHeader   = 64
)

// orderMeta is the header of an order file.
type orderMeta struct {
	version    uint16
	entries    uint64
	covered    int64
	tie        uint32
	entriesCRC uint32
	logID      [16]byte
}

func (h orderMeta) encode() []byte {
	b := make([]byte, orderHeader)
	le := binary.LittleEndian
	copy(b, orderMagic)
	le.PutUint16(b[8:], orderVersion)
	le.PutUint32(b[12:], 8)
	le.PutUint64(b[16:], h.entries)
	le.PutUint64(b[24:], uint64(h.covered))
	le.PutUint32(b[32:], h.tie)
	le.PutUint32(b[36:], h.entriesCRC)
	copy(b[40:56], h.logID[:])
	le.PutUint32(b[56:], walfmt.Checksum(b[:56]))
	return b
}

var errOrderFile = errors.New("kv: order file does not match")

func decodeOrder(b []byte) (orderMeta, error) {
	le := binary.LittleEndian
	if len(b) < orderHeader || string(b[:8]) != orderMagic || le.Uint32(b[56:]) != walfmt.Checksum(b[:56]) ||
		(le.Uint16(b[8:]) != 1 && le.Uint16(b[8:]) != orderVersion) || le.Uint32(b[12:]) != 8 {
		return orderMeta{}, errOrderFile
	}
	h := orderMeta{
		version: le.Uint16(b[8:]),
		entries: le.Uint64(b[16:]), covered: int64(le.Uint64(b[24:])),
		tie: le.Uint32(b[32:]), entriesCRC: le.Uint32(b[36:]),
	}
	copy(h.logID[:], b[40:56])
	if h.covered < walfmt.HeaderSize || h.entries > uint64(h.covered)/walfmt.RecordHeaderSize {
		return orderMeta{}, errOrderFile
	}
	return h, nil
}

// loadOrderFile returns the key order wal.order records for the log idx
// describes, read through src, or nil when there is none that matches it.
func (db *DB) loadOrderFile(src *logView, idx *index) *orderSnap {
	if src.f == nil || idx.hdr.Version < 2 {
		return nil // a version 1 log has no ID to tie a file to
	}
	f, err := db.fs.OpenFile(filepath.Join(db.dir, orderName), os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }() // read-only
	head := make([]byte, orderHeader)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil
	}
	h, err := decodeOrder(head)
	if err != nil || h.logID != idx.hdr.ID || h.covered > src.end {
		return nil
	}
	fi, err := f.Stat()
	entriesEnd := orderHeader + int64(h.entries)*8
	if err != nil || (h.version == 1 && fi.Size() != entriesEnd) || (h.version > 1 && fi.Size() < entriesEnd) {
		return nil
	}
	if tie, err := logTie(src.f, h.covered); err != nil || tie != h.tie {
		return nil
	}
	// The entries are read a block at a time, checksummed and decoded
	// as they come, so that loading ten million keys' order holds one
	// copy of it (80 MB), not two. (Read straight into the run's memory,
	// new to the process, ten million took 0.1 s longer here: the page
	// faults taken inside the read cost more than those of the decode.)
	run := make([]uint64, h.entries)
	b := make([]byte, min(len(run)*8, orderReadBlock))
	var crc uint32
	for i := 0; i < len(run); {
		n := min(len(run)-i, len(b)/8)
		chunk := b[:8*n]
		if _, err := f.ReadAt(chunk, orderHeader+8*int64(i)); err != nil {
			return nil
		}
		crc = crc32.Update(crc, castagnoli, chunk)
		for j := range n {
			off := binary.LittleEndian.Uint64(chunk[8*j:])
			if off < walfmt.HeaderSizeV1 || off >= uint64(h.covered) {
				return nil
			}
			run[i+j] = off
		}
		i += n
	}
	if crc != h.entriesCRC {
		return nil
	}
	s := &orderSnap{idx: idx, run: run, runEnd: h.covered, end: h.covered}
	if h.version > 1 {
		s.fence = readFence(f, entriesEnd, fi.Size(), len(run))
	}
	return s
}

// fenceFixed is the size of a stored fence's fixed fields: its two counts
// and its checksum.
const fenceFixed = 12

// appendFence appends the fence fc of a run of n entries to b, as version
// 2 of the order file stores it; nil, or a fence of another run's length,
// is stored as none.
func appendFence(b []byte, fc *fence, n int) []byte {
	start := len(b)
	le := binary.LittleEndian
	if fc == nil || len(fc.pfx) != (n+fenceStride-1)/fenceStride {
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, 0)
	} else {
		b = le.AppendUint32(b, uint32(len(fc.common)))
		b = le.AppendUint32(b, uint32(len(fc.pfx)))
		b = append(b, fc.common...)
		for _, p := range fc.pfx {
			b = le.AppendUint64(b, p)
		}
	}
	return le.AppendUint32(b, checksumChunked(b[start:]))
}

// readFence reads the fence stored in f from off to the file's end, size,
// for a run of n entries, or returns nil if there is none or it does not
// check out: its counts and size agree, its checksum holds and its numbers
// do not fall.
func readFence(f File, off, size int64, n int) *fence {
	le := binary.LittleEndian
	head := make([]byte, 8)
	if _, err := f.ReadAt(head, off); err != nil {
		return nil
	}
	c, m := int64(le.Uint32(head)), int64(le.Uint32(head[4:]))
	if m == 0 || c > walfmt.MaxKeyLen || m != int64((n+fenceStride-1)/fenceStride) || size-off != fenceFixed+c+8*m {
		return nil
	}
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil
	}
	body := b[:len(b)-4]
	if checksumChunked(body) != le.Uint32(b[len(b)-4:]) {
		return nil
	}
	fc := &fence{common: string(body[8 : 8+c]), pfx: make([]uint64, m)}
	nums := body[8+c:]
	for j := range fc.pfx {
		fc.pfx[j] = le.Uint64(nums[8*j:])
	}
	if !fc.rising() {
		return nil
	}
	return fc
}

// orderReadBlock is how many bytes of entries loadOrderFile reads at once:
// small enough that the checksum's loop, which cannot be preempted, is
// short (see checksumChunked).
const orderReadBlock = 64 << 10

// saveOrderOnClose writes the store's key order to wal.order, when it has
// one for its log, so that the next Open's first scan need not sort. The
// overlay is merged into the run first. The background writer is stopped
// first: this is the last write. The caller holds wmu and mu.
func (db *DB) saveOrderOnClose(syncErr error) error {
	db.stopOrderSaves()
	s := db.ord.cur.Load()
	if db.opts.ReadOnly || db.failed != nil || syncErr != nil || db.mu.view.f == nil ||
		s == nil || s.idx != db.mu.index || db.mu.index.hdr.Version < 2 {
		return nil
	}
	v := db.mu.view // mu is held: its map stays
	src := &logView{f: v.f, m: v.m, end: db.mu.c.size, path: v.path}
	if s.end == src.end && len(s.ovl) == 0 && db.ord.saver.holds(s) {
		return nil // wal.order holds this run already
	}
	if s.end < src.end {
		var err error
		if s, err = extendSnap(s, src, src.end, false); err != nil {
			return fmt.Errorf("kv: write order file: %w", err)
		}
	}
	if len(s.ovl) == 0 {
		return db.writeOrderFile(wholeRun(s.run), len(s.run), s.fence, s.end, v.f, s.idx.hdr.ID)
	}
	// The merged run needs a fence of its own, or the next Open would
	// read the log to build it.
	m, fc := mergeWithFence(s, src)
	return db.writeOrderFile(m.each, m.n, fc, s.end, v.f, s.idx.hdr.ID)
}

// writeOrderFile writes a run of n entries, which entries hands out a
// piece at a time, the order of log's first covered bytes, with its fence
// fc (or none), to a temporary file, syncs it and renames it to wal.order.
func (db *DB) writeOrderFile(entries func(func([]uint64) error) error, n int, fc *fence, covered int64, log File, id [16]byte) error {
	tie, err := logTie(log, covered)
	if err != nil {
		return fmt.Errorf("kv: write order file: %w", err)
	}
	tmp := filepath.Join(db.dir, orderTempName)
	f, err := db.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("kv: write order file: %w", err)
	}
	// The entries first, summed as they go, then the header, which holds
	// their checksum.
	w := bufio.NewWriterSize(io.NewOffsetWriter(f, orderHeader), orderWriteBuf)
	var crc uint32
	var written int64
	err = entries(func(offs []uint64) error {
		b := offsetBytes(offs)
		crc = updateChunked(crc, b)
		written += int64(len(b))
		_, err := w.Write(b)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil && written != 8*int64(n) {
		err = fmt.Errorf("%d entries written, %d expected", written/8, n)
	}
	if err == nil {
		_, err = f.WriteAt(appendFence(nil, fc, n), orderHeader+written)
	}
	if err == nil {
		meta := orderMeta{entries: uint64(n), covered: covered, tie: tie, entriesCRC: crc, logID: id}
		_, err = f.WriteAt(meta.encode(), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = db.fs.Rename(tmp, filepath.Join(db.dir, orderName))
	}
	if err != nil {
		// The next Open removes a leftover temporary file; err says what
		// went wrong.
		_ = db.fs.Remove(tmp)
		return fmt.Errorf("kv: write order file: %w", err)
	}
	return nil
}

// wholeRun hands out run in one piece, as writeOrderFile takes it.
func wholeRun(run []uint64) func(func([]uint64) error) error {
	return func(fn func([]uint64) error) error { return fn(run) }
}

// orderWriteBuf is the buffer writeOrderFile gathers small pieces in; a
// piece larger than it is written as it is.
const orderWriteBuf = 1 << 20

// offsetBytes returns run as the file stores it: each offset as 8
// little-endian bytes. On a little-endian system that is run's own memory,
// written as it is: a copy of a run of ten million offsets, 80 MB of
// memory new to the process, cost a Close 0.3-0.4 s here, mostly in page
// faults.
func offsetBytes(run []uint64) []byte {
	if len(run) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(run))), 8*len(run))
	}
	b := make([]byte, 8*len(run))
	for i, off := range run {
		binary.LittleEndian.PutUint64(b[8*i:], off)
	}
	return b
}

// checksumChunked returns the CRC-32C of b, 64 KiB at a time: the
// checksum's assembly loop cannot be preempted (see scanSlots).
func checksumChunked(b []byte) uint32 { return updateChunked(0, b) }

// updateChunked returns crc, a CRC-32C, updated with b, 64 KiB at a time.
func updateChunked(crc uint32, b []byte) uint32 {
	for len(b) > 0 {
		n := min(len(b), 64<<10)
		crc = crc32.Update(crc, castagnoli, b[:n])
		b = b[n:]
	}
	return crc
}
