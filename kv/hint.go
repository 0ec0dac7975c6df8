package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/crabkv/crabkv/walfmt"
)

// A hint file, wal.hint, lets Open skip replaying the log. It is the index
// itself, written out: a header, then the slot table exactly as it sits in
// memory, so that Open can map it and use it in place, and replay only the
// records appended to the log after it was written.
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------
//	     0     8  magic "CRABKVHI"
//	     8     2  version (2), little-endian like every field
//	    10     2  reserved, zero
//	    12     4  slot size in bytes (16)
//	    16     8  number of slots, a power of two
//	    24     8  number of keys
//	    32     8  log bytes covered: the table describes wal.log up to here
//	    40     8  live bytes in that prefix
//	    48     8  stale bytes in that prefix
//	    56     4  CRC-32C of the last (up to 4096) log bytes before the end
//	              of the covered prefix
//	    60     4  CRC-32C of the first half of the slots
//	    64    16  the ID of the log described, from its file header
//	    80     4  CRC-32C of the second half of the slots
//	    84     4  CRC-32C of bytes 0..83
//	  4096     …  slots: {offset uint64, key hash uint32, record size
//	              uint32} each; offset 0 marks an empty slot. The hashes
//	              are keyed with the log's hash key (see walfmt).
//
// The log ID, the covered length and the checksum of the log's bytes before
// that length tie the hint to the very log it describes: every log file a
// writer creates — a new store, a compaction, a repair — gets a new random
// ID, so a hint is rejected beside any other log, whatever its length and
// contents. (Version 1 logs have no ID and never use a hint.)
//
// The hint is written to a temporary file, synced and renamed into place,
// so it is whole or absent. Anything that does not match — a missing file,
// another version, another log, a log shorter than the covered prefix or
// with other bytes at its end, a replay of the rest of the log that does
// not end cleanly — makes Open fall back to a full replay; a hint never
// stops a store from opening. Open maps the slots and checks them against
// their checksums and their count before it applies a single record to
// them (checkSlots, at the speed of memory: about 30 MiB of table for a
// million keys); slots that fail are not used, so a damaged hint costs a
// full replay, never a wrong answer. The records the hint covers have not
// had their checksums read: a lookup verifies one before it trusts that
// its key differs (see logView.unverified).
const (
	hintName     = "wal.hint"
	hintTempName = "wal.hint.tmp"
	hintNextName = "wal.hint.compact" // a compaction's hint, waiting for its log
	hintMagic    = "CRABKVHI"
	hintVersion  = 2
	hintHeader   = 4096 // page-aligned, so the slots can be mapped
	hintTieBytes = 4096
	hintMetaSize = 88 // the fields of the header, checksum included
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hintsSupported is false on big-endian systems, where the in-memory slot
// layout is not the file's.
var hintsSupported = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// hintMeta is the header of a hint file.
type hintMeta struct {
	slots, keys uint64
	covered     int64
	live, stale int64
	tie         uint32
	slotsCRC    [2]uint32 // of each half of the table, checked in parallel
	logID       [16]byte
}

func (h hintMeta) encode() []byte {
	b := make([]byte, hintHeader)
	copy(b, hintMagic)
	le := binary.LittleEndian
	le.PutUint16(b[8:], hintVersion)
	le.PutUint32(b[12:], uint32(unsafe.Sizeof(slot{})))
	le.PutUint64(b[16:], h.slots)
	le.PutUint64(b[24:], h.keys)
	le.PutUint64(b[32:], uint64(h.covered))
	le.PutUint64(b[40:], uint64(h.live))
	le.PutUint64(b[48:], uint64(h.stale))
	le.PutUint32(b[56:], h.tie)
	le.PutUint32(b[60:], h.slotsCRC[0])
	copy(b[64:80], h.logID[:])
	le.PutUint32(b[80:], h.slotsCRC[1])
	le.PutUint32(b[84:], walfmt.Checksum(b[:84]))
	return b
}

var errHint = errors.New("kv: hint file does not match")

func decodeHint(b []byte) (hintMeta, error) {
	le := binary.LittleEndian
	if len(b) < hintMetaSize || string(b[:8]) != hintMagic || le.Uint32(b[84:]) != walfmt.Checksum(b[:84]) ||
		le.Uint16(b[8:]) != hintVersion || le.Uint32(b[12:]) != uint32(unsafe.Sizeof(slot{})) {
		return hintMeta{}, errHint
	}
	h := hintMeta{
		slots: le.Uint64(b[16:]), keys: le.Uint64(b[24:]), covered: int64(le.Uint64(b[32:])),
		live: int64(le.Uint64(b[40:])), stale: int64(le.Uint64(b[48:])), tie: le.Uint32(b[56:]),
		slotsCRC: [2]uint32{le.Uint32(b[60:]), le.Uint32(b[80:])},
	}
	copy(h.logID[:], b[64:80])
	if h.slots < minSlots || h.slots&(h.slots-1) != 0 || h.slots > 1<<32 || h.keys >= h.slots ||
		h.covered < walfmt.HeaderSize || h.live < 0 || h.stale < 0 || h.live+h.stale+walfmt.HeaderSize != h.covered {
		return hintMeta{}, errHint
	}
	return h, nil
}

// logTie returns the CRC-32C of the log's last hintTieBytes bytes before
// end.
func logTie(log File, end int64) (uint32, error) {
	start := max(0, end-hintTieBytes)
	b := make([]byte, end-start)
	if _, err := log.ReadAt(b, start); err != nil {
		return 0, err
	}
	return walfmt.Checksum(b), nil
}

// loadHint returns the index and counters the hint file describes, and how
// much of the log they cover, if the hint matches log (of size bytes, with
// header hdr).
func (db *DB) loadHint(log File, size int64, hdr walfmt.FileHeader) (*index, counters, bool) {
	if !hintsSupported || hdr.Version < 2 {
		return nil, counters{}, false
	}
	f, err := db.fs.OpenFile(filepath.Join(db.dir, hintName), os.O_RDONLY, 0)
	if err != nil {
		return nil, counters{}, false
	}
	defer func() { _ = f.Close() }() // read-only
	head := make([]byte, hintMetaSize)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, counters{}, false
	}
	h, err := decodeHint(head)
	if err != nil || h.logID != hdr.ID || h.covered > size {
		return nil, counters{}, false
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != hintHeader+int64(h.slots)*int64(unsafe.Sizeof(slot{})) {
		return nil, counters{}, false
	}
	if tie, err := logTie(log, h.covered); err != nil || tie != h.tie {
		return nil, counters{}, false
	}
	slots, mapped, err := loadSlots(f, int(h.slots))
	if err != nil {
		return nil, counters{}, false
	}
	x := &index{slots: slots, count: int(h.keys), mask: uint32(h.slots - 1)}
	x.setMapped(mapped)
	if err := checkSlots(slots, h); err != nil {
		_ = x.close() // harmless: see mapping.unmap
		return nil, counters{}, false
	}
	x.setHashKey(hdr)
	return x, counters{size: h.covered, live: h.live, stale: h.stale}, true
}

// checkSlots checks a table loaded from a hint with header h, before
// anything uses or changes it: its size, the checksums of its halves, and
// that as many slots are occupied as the header says and at least one is
// empty — both halves in parallel, at the speed of memory (about 30 MiB of
// table for a million keys). A hint is used only once it has passed, so no
// answer and no write decision ever comes from a damaged one. Offsets are
// bounds-checked wherever the log is read through them.
func checkSlots(slots []slot, h hintMeta) error {
	if uint64(len(slots)) != h.slots {
		return fmt.Errorf("%w: %d slots, header says %d", errHint, len(slots), h.slots)
	}
	crc, used := scanSlots(slots)
	switch {
	case crc != h.slotsCRC:
		return fmt.Errorf("%w: slots checksum mismatch", errHint)
	case used != h.keys || used >= h.slots:
		return fmt.Errorf("%w: %d slots used, header says %d", errHint, used, h.keys)
	}
	return nil
}

// checksumSlots returns the CRC-32C of each half of the table.
func checksumSlots(slots []slot) [2]uint32 {
	crc, _ := scanSlots(slots)
	return crc
}

// scanSlots returns the CRC-32C of each half of the table and the number
// of occupied slots, the second half on another goroutine. It works 64 KiB
// at a time: the checksum's assembly loop cannot be preempted, and on a
// table of many megabytes one call would hold up every goroutine of the
// program whenever the garbage collector needs them all stopped.
func scanSlots(slots []slot) (crc [2]uint32, used uint64) {
	var n [2]uint64
	half := len(slots) / 2
	scan := func(part []slot, i int) {
		const chunk = 4096 // slots, 64 KiB
		for len(part) > 0 {
			p := part[:min(chunk, len(part))]
			crc[i] = crc32.Update(crc[i], castagnoli, slotBytes(p))
			for _, s := range p {
				if s.off != 0 {
					n[i]++
				}
			}
			part = part[len(p):]
		}
	}
	done := make(chan struct{})
	go func() {
		scan(slots[half:], 1)
		close(done)
	}()
	scan(slots[:half], 0)
	<-done
	return crc, n[0] + n[1]
}

// saveHint writes x, which describes the first c.size bytes of log, to a
// temporary file, syncs it and renames it to name. It runs where nothing
// changes x: at Close, and on a compaction's new index before anyone else
// sees it.
func (db *DB) saveHint(x *index, c counters, log File, name string) error {
	if !hintsSupported || db.opts.ReadOnly || x.hdr.Version < 2 {
		return nil // no hint is ever used beside a version 1 log
	}
	x.finishGrowth() // a hint is one table, with no slot marked moved
	tie, err := logTie(log, c.size)
	if err != nil {
		return err
	}
	meta := hintMeta{
		slots: uint64(len(x.slots)), keys: uint64(x.count), covered: c.size,
		live: c.live, stale: c.stale, tie: tie, slotsCRC: checksumSlots(x.slots),
		logID: x.hdr.ID,
	}
	tmp := filepath.Join(db.dir, hintTempName)
	f, err := db.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = writeHintFile(f, meta, x.slots)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = db.fs.Rename(tmp, filepath.Join(db.dir, name))
	}
	if err != nil {
		// The next Open removes a leftover temporary hint, so a failure
		// to remove it now costs nothing; err says what went wrong.
		_ = db.fs.Remove(tmp)
		return fmt.Errorf("kv: write hint file: %w", err)
	}
	return nil
}

func writeHintFile(f File, meta hintMeta, slots []slot) error {
	if _, err := f.WriteAt(meta.encode(), 0); err != nil {
		return err
	}
	b := slotBytes(slots)
	for off := 0; off < len(b); off += 4 << 20 {
		if _, err := f.WriteAt(b[off:min(off+4<<20, len(b))], hintHeader+int64(off)); err != nil {
			return err
		}
	}
	return f.Sync()
}

// removeHint deletes the hint file, before the log it describes is
// replaced.
func removeHint(fsys FS, dir string) error {
	err := fsys.Remove(filepath.Join(dir, hintName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// slotBytes returns the table's memory as bytes: the hint file's layout on
// a little-endian system.
func slotBytes(slots []slot) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(slots))), len(slots)*int(unsafe.Sizeof(slot{})))
}

// readSlots reads the hint file's slots into memory.
func readSlots(f File, n int) ([]slot, []byte, error) {
	slots := make([]slot, n)
	b := slotBytes(slots)
	if _, err := f.ReadAt(b, hintHeader); err != nil {
		return nil, nil, err
	}
	return slots, nil, nil
}
