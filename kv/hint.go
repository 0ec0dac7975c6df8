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
// itself, written out: a header, a table of checksums, then the slot table
// exactly as it sits in memory, so that Open can map it and use it in
// place, and replay only the records appended to the log after it was
// written.
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------
//	     0     8  magic "CRABKVHI"
//	     8     2  version (3), little-endian like every field
//	    10     2  reserved, zero
//	    12     4  slot size in bytes (16)
//	    16     8  number of slots, a power of two
//	    24     8  number of keys
//	    32     8  log bytes covered: the table describes wal.log up to here
//	    40     8  live bytes in that prefix
//	    48     8  stale bytes in that prefix
//	    56     4  CRC-32C of the last (up to 4096) log bytes before the end
//	              of the covered prefix
//	    60     4  CRC-32C of the chunk table
//	    64    16  the ID of the log described, from its file header
//	    80     4  slots per chunk (256: 4 KiB)
//	    84     4  CRC-32C of bytes 0..83
//	  4096     …  chunk table: for each chunk of 256 slots, in order, the
//	              CRC-32C of its 4096 bytes (uint32) and the number of its
//	              slots that are occupied (uint32); zeros after it up to a
//	              multiple of 4096 bytes
//	     S     …  slots, at S = 4096 + the chunk table's padded size:
//	              {offset uint64, key hash uint32, record size uint32} each;
//	              offset 0 marks an empty slot. The hashes are keyed with
//	              the log's hash key (see walfmt).
//
// Version 2 had no chunk table and a checksum of each half of the slots in
// its place; Open ignores it, as any other version, and replays the log.
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
// stops a store from opening. Open checks the chunk table against its
// checksum and its counts against the header's number of keys, and maps
// the slots; each chunk of slots is checked against its checksum and
// count the first time anything touches it (see hintCheck), so Open costs
// the same at any size. A chunk that fails is never used: the lookup that
// met it has the index replayed from the log (DB.rebuildIndexMuLocked)
// and answers from that, so a damaged hint costs a replay, never a wrong
// answer. The records the hint covers have not
// had their checksums read: a lookup verifies one before it trusts that
// its key differs (see logView.unverified).
const (
	hintName     = "wal.hint"
	hintTempName = "wal.hint.tmp"
	hintNextName = "wal.hint.compact" // a compaction's hint, waiting for its log
	hintMagic    = "CRABKVHI"
	hintVersion  = 3
	hintHeader   = 4096 // page-aligned, so the slots can be mapped
	hintTieBytes = 4096
	hintMetaSize = 88 // the fields of the header, checksum included
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// littleEndian says whether this system stores integers little-endian,
// as the hint and order files do.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// hintsSupported is false on big-endian systems, where the in-memory slot
// layout is not the file's.
var hintsSupported = littleEndian

// hintMeta is the header of a hint file, and its chunk table.
type hintMeta struct {
	slots, keys uint64
	covered     int64
	live, stale int64
	tie         uint32
	chunksCRC   uint32 // of the encoded chunk table
	logID       [16]byte
	chunks      []chunkSum
}

// chunkTableSize returns the padded size of the chunk table of a hint of n
// slots.
func chunkTableSize(n uint64) int64 {
	b := int64((n+chunkSlots-1)/chunkSlots) * chunkSumSize
	return (b + hintHeader - 1) / hintHeader * hintHeader
}

// slotsAt returns where the slots of a hint of n slots start.
func slotsAt(n uint64) int64 { return hintHeader + chunkTableSize(n) }

// encode returns the header and the padded chunk table, the bytes before
// the slots. It sets the chunk table's checksum.
func (h hintMeta) encode() []byte {
	b := make([]byte, slotsAt(h.slots))
	table := appendChunkSums(b[hintHeader:hintHeader], h.chunks)
	h.chunksCRC = walfmt.Checksum(table)
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
	le.PutUint32(b[60:], h.chunksCRC)
	copy(b[64:80], h.logID[:])
	le.PutUint32(b[80:], chunkSlots)
	le.PutUint32(b[84:], walfmt.Checksum(b[:84]))
	return b
}

var errHint = errors.New("kv: hint file does not match")

func decodeHint(b []byte) (hintMeta, error) {
	le := binary.LittleEndian
	if len(b) < hintMetaSize || string(b[:8]) != hintMagic || le.Uint32(b[84:]) != walfmt.Checksum(b[:84]) ||
		le.Uint16(b[8:]) != hintVersion || le.Uint32(b[12:]) != uint32(unsafe.Sizeof(slot{})) ||
		le.Uint32(b[80:]) != chunkSlots {
		return hintMeta{}, errHint
	}
	h := hintMeta{
		slots: le.Uint64(b[16:]), keys: le.Uint64(b[24:]), covered: int64(le.Uint64(b[32:])),
		live: int64(le.Uint64(b[40:])), stale: int64(le.Uint64(b[48:])), tie: le.Uint32(b[56:]),
		chunksCRC: le.Uint32(b[60:]),
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
	// The shared flock keeps a writer that replaces the hint from
	// cutting it while its slots are mapped (see releaseOldHint). The
	// writer's own index opens it for writing, to cut it once it lets go
	// of the map (see retireHint).
	path := filepath.Join(db.dir, hintName)
	flag, release := os.O_RDONLY, (func(File))(nil)
	if !db.opts.ReadOnly {
		flag, release = os.O_RDWR, db.retireHint
	}
	f, err := reopenShared(db.fs, path, flag)
	if err != nil && flag != os.O_RDONLY {
		f, err = reopenShared(db.fs, path, os.O_RDONLY)
		release = nil
	}
	if err != nil {
		return nil, counters{}, false
	}
	held := false
	defer func() {
		if !held {
			_ = f.Close() // nothing was written through it
		}
	}()
	head := make([]byte, hintMetaSize)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, counters{}, false
	}
	h, err := decodeHint(head)
	if err != nil || h.logID != hdr.ID || h.covered > size {
		return nil, counters{}, false
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != slotsAt(h.slots)+int64(h.slots)*int64(unsafe.Sizeof(slot{})) {
		return nil, counters{}, false
	}
	if tie, err := logTie(log, h.covered); err != nil || tie != h.tie {
		return nil, counters{}, false
	}
	if h.chunks, err = readChunkTable(f, h); err != nil {
		return nil, counters{}, false
	}
	slots, mapped, err := loadSlots(f, slotsAt(h.slots), int(h.slots))
	if err != nil {
		return nil, counters{}, false
	}
	if mapped != nil {
		holdHint(mapped, f, release) // until the map is unmapped
		held = true
	}
	x := &index{slots: slots, count: int(h.keys), mask: uint32(h.slots - 1)}
	x.setMapped(mapped)
	x.chk = newHintCheck(slots, h.chunks)
	exp, err := db.loadExpiries(h.logID, h.covered, h.keys)
	if err != nil {
		_ = x.close() // harmless: see mapping.unmap
		return nil, counters{}, false
	}
	x.setHashKey(hdr)
	return x, counters{size: h.covered, live: h.live, stale: h.stale, exp: exp, floor: exp.floor}, true
}

// readChunkTable reads and checks the chunk table of the hint f with
// header h: its checksum, and that its counts add up to the header's
// number of keys, which leaves at least one slot empty (decodeHint checked
// that). The slots themselves are checked a chunk at a time, later.
func readChunkTable(f File, h hintMeta) ([]chunkSum, error) {
	n := (h.slots + chunkSlots - 1) / chunkSlots
	b := make([]byte, n*chunkSumSize)
	if _, err := f.ReadAt(b, hintHeader); err != nil {
		return nil, err
	}
	if walfmt.Checksum(b) != h.chunksCRC {
		return nil, fmt.Errorf("%w: chunk table checksum mismatch", errHint)
	}
	sums := decodeChunkSums(b)
	var used uint64
	for _, c := range sums {
		if c.used > chunkSlots {
			return nil, fmt.Errorf("%w: a chunk of %d slots has %d used", errHint, chunkSlots, c.used)
		}
		used += uint64(c.used)
	}
	if used != h.keys {
		return nil, fmt.Errorf("%w: %d slots used, header says %d", errHint, used, h.keys)
	}
	return sums, nil
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
	if x.bad.Load() || (x.chk != nil && !x.chk.checkAll()) {
		// Slots from a damaged hint must not get fresh checksums. The
		// index is replaced before it answers again; until then the hint
		// on disk, whose damage the next Open finds as this one did,
		// stays.
		return nil
	}
	tie, err := logTie(log, c.size)
	if err != nil {
		return err
	}
	meta := hintMeta{
		slots: uint64(len(x.slots)), keys: uint64(x.count), covered: c.size,
		live: c.live, stale: c.stale, tie: tie, chunks: sumChunks(x.slots),
		logID: x.hdr.ID,
	}
	// The expiry table goes beside it, first (see expiryhint.go).
	if err := db.saveExpiries(c, x.hdr.ID, name); err != nil {
		return err
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
	at := slotsAt(meta.slots)
	// Paced, so that the Sync does not hand the disk the whole table at
	// once for synced writers to queue behind (see writeback).
	w := &pacedWriter{w: f, off: at, wb: newWriteback(f, at)}
	for off := 0; off < len(b); off += writebackStep {
		if _, err := w.Write(b[off:min(off+writebackStep, len(b))]); err != nil {
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

// readSlots reads the n slots of the hint file, which start at off, into
// memory.
func readSlots(f File, off int64, n int) ([]slot, []byte, error) {
	slots := make([]slot, n)
	b := slotBytes(slots)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, nil, err
	}
	return slots, nil, nil
}
