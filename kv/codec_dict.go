package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/crabkv/crabkv/walfmt"
	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"
)

// ZstdDict is zstd with a dictionary trained on the store's own values:
// small values that resemble each other (JSON documents of one shape, say)
// share most of what a compressor learns, and a dictionary lets each value
// refer to it instead of spelling it out again. On 1 KiB JSON documents it
// stores about a quarter less than Zstd, and encodes as fast.
//
// A store that writes with ZstdDict stores its first values as zstd frames
// without a dictionary (they are valid ZstdDict values too) while it keeps
// copies of them as samples; once it has zstdDictSamples of them it trains
// a dictionary on them (in the Put that brings the last sample, which takes
// that long, about a tenth of a second, once), appends it to the store's
// dictionary file, wal.zdict, syncs it, and only then encodes values with
// it. Each frame names its dictionary by ID (zstd's frame header field), so
// a store can hold values encoded with several dictionaries, and a store
// reopened keeps using the last dictionary of its file instead of training
// another. A store that cannot write or train a dictionary goes on without
// one. A compaction copies the values as they are; the file is never
// rewritten, only appended to, so every dictionary stays while a value may
// need it.
//
// The dictionary file belongs to the store as much as the log does: a copy
// of the store must copy both (export and import carry decoded values and
// need neither). A value whose dictionary is missing reads, and verifies,
// as an error that names the dictionary's ID.
var ZstdDict Codec = zstdDictCodec{}

// The dictionary file, wal.zdict, is a sequence of entries, each
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------
//	     0     8  magic "CRABKVZD"
//	     8     2  version (1), little-endian like every field
//	    10     2  reserved, zero
//	    12     4  dictionary length D, 0 < D <= zdictMaxLen
//	    16     4  CRC-32C of bytes 0..15 and of the dictionary
//	    20     D  the dictionary, in zstd's dictionary format (its ID in it)
//
// An entry of another version, with a sound checksum, is an error: a later
// build wrote it, and this one cannot tell what its values need.
//
// An entry is appended and synced (and, for a new file, the directory
// synced) before the writer encodes any value with its dictionary, so every
// dictionary a value in the log names is in the file. Bytes that hold no
// sound entry (incomplete, or failing its checksum) are stepped over to
// the next sound entry, and left in place: a crash while appending leaves
// such an entry at the end, which no value names; damage may hit one that
// values name, which a copy of the file can then mend. The next entry is
// written after them.
const (
	zdictName    = "wal.zdict"
	zdictMagic   = "CRABKVZD"
	zdictHeader  = 20
	zdictVersion = 1
	zdictMaxLen  = 1 << 20
	// zdictMaxFile bounds the part of a dictionary file read at once: a
	// store trains one dictionary, and another only when its file is lost.
	zdictMaxFile = 64 * (zdictHeader + zdictMaxLen)
)

// The training: zstdDictSamples values of at least MinCodecValue bytes,
// of which zstdDictSampleMax bytes each at most, make a dictionary of at
// most zstdDictMaxSize bytes, tuned for zstdDictLevel, the level its values
// are encoded at. With a dictionary the fastest level compresses about as
// well as the default one and takes half its time.
const (
	zstdDictSamples   = 256
	zstdDictSampleMax = 4 << 10
	zstdDictMaxSize   = 16 << 10
	zstdDictLevel     = zstd.SpeedFastest
)

type zstdDictCodec struct{}

func (zstdDictCodec) ID() uint8    { return 3 }
func (zstdDictCodec) Name() string { return "zstd-dict" }

// Encode, outside a store that trains (see zstdDictWriter), writes a frame
// without a dictionary.
func (zstdDictCodec) Encode(dst, src []byte) []byte { return Zstd.Encode(dst, src) }

func (zstdDictCodec) DecodedLen(src []byte) (int, error) { return Zstd.DecodedLen(src) }

// Decode decodes with the dictionary the frame names, from the dictionary
// files of the stores open in the program.
func (zstdDictCodec) Decode(dst, src []byte) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return nil, err
	}
	if h.DictionaryID == 0 {
		return Zstd.Decode(dst, src)
	}
	dec, err := zdicts.decoder(h.DictionaryID)
	if err != nil {
		return nil, err
	}
	return dec.DecodeAll(src, dst)
}

// zdicts holds the dictionaries of the dictionary files of the stores open
// in the program, by file, so that a value's dictionary is looked up among
// the stores that are open, and a store closed takes its dictionaries with
// it. A store registers its file at Open and drops it at Close.
var zdicts = dictFiles{open: map[dictFileKey]*dictFile{}}

type dictFiles struct {
	mu   sync.RWMutex // guards open and every dictFile's fields
	open map[dictFileKey]*dictFile
}

type dictFileKey struct {
	fs   FS
	path string
}

// A dictFile is the dictionaries read from one store's wal.zdict.
type dictFile struct {
	key  dictFileKey
	refs int                      // stores open on the file
	byID map[uint32]*zstd.Decoder // decoders, by dictionary ID
	sums map[uint32]uint32        // the dictionaries' CRC-32Cs, by ID
	last []byte                   // the last dictionary in the file
	end  int64                    // how far the file has been read
	bad  []zdictBad               // the stretches read past that hold no sound entry
	tail *zdictBad                // the end of the file, if it holds no sound entry yet
}

// register loads the dictionary file of the store in dir and keeps it
// until release. A file that is missing has no dictionaries yet; one that
// cannot be read is an error.
func (d *dictFiles) register(fsys FS, dir string) (*dictFile, error) {
	key := dictFileKey{fsys, filepath.Join(dir, zdictName)}
	d.mu.Lock()
	defer d.mu.Unlock()
	if f := d.open[key]; f != nil {
		f.refs++
		return f, nil
	}
	f := &dictFile{key: key, refs: 1, byID: map[uint32]*zstd.Decoder{}, sums: map[uint32]uint32{}}
	if err := f.loadLocked(); err != nil {
		return nil, err
	}
	d.open[key] = f
	return f, nil
}

// release drops a store's hold on its dictionary file.
func (d *dictFiles) release(f *dictFile) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.refs--; f.refs == 0 {
		delete(d.open, f.key)
	}
}

// decoder returns a decoder for the dictionary id. A dictionary no open
// store has loaded yet may have been appended since by a writer another
// process runs (a follower reads its values): the files are read again
// before the answer is no.
func (d *dictFiles) decoder(id uint32) (*zstd.Decoder, error) {
	d.mu.RLock()
	dec, err := d.findLocked(id)
	d.mu.RUnlock()
	if dec != nil || err != nil {
		return dec, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, f := range d.open {
		if err := f.loadLocked(); err != nil {
			errs = append(errs, err)
		}
	}
	if dec, err := d.findLocked(id); dec != nil || err != nil {
		return dec, err
	}
	for _, f := range d.open {
		if err := f.damage(); err != nil {
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(append([]error{fmt.Errorf("zstd dictionary %d is not in the store's %s", id, zdictName)}, errs...)...)
}

// findLocked returns the decoder of dictionary id. Dictionary IDs are
// drawn at random from 2^31 when a store trains one, so two stores open
// in one program may, very rarely, hold different dictionaries under one
// ID; a frame names only the ID, and decoding it with the other store's
// dictionary would return wrong bytes (the frames carry no checksum of
// their contents). Such an ID is an error, never a guess.
func (d *dictFiles) findLocked(id uint32) (*zstd.Decoder, error) {
	var dec *zstd.Decoder
	var sum uint32
	for _, f := range d.open {
		fd := f.byID[id]
		if fd == nil {
			continue
		}
		if dec != nil && f.sums[id] != sum {
			return nil, fmt.Errorf("zstd dictionary %d: two stores open in this program hold different dictionaries with this ID; read the store in a program of its own", id)
		}
		dec, sum = fd, f.sums[id]
	}
	return dec, nil
}

// hasIDLocked reports whether an open store's file holds dictionary id.
func (d *dictFiles) hasIDLocked(id uint32) bool {
	for _, f := range d.open {
		if f.byID[id] != nil {
			return true
		}
	}
	return false
}

// loadLocked reads the file's entries from where the last read ended.
//
// Bytes that are no sound entry are stepped over, to the next sound entry
// if there is one: an entry torn by a crash while it was appended (no
// value names it: a dictionary is used only once it is durable), or one
// damaged since (values name it). Either way they stay where they are —
// appendDict writes after them, never over them — and the error for a
// value whose dictionary is missing names them (see damage), so that a
// damaged entry can still be mended from a copy.
func (f *dictFile) loadLocked() error {
	h, err := f.key.fs.OpenFile(f.key.path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kv: open %s: %w", f.key.path, err)
	}
	defer func() { _ = h.Close() }() // read only
	fi, err := h.Stat()
	if err != nil {
		return fmt.Errorf("kv: stat %s: %w", f.key.path, err)
	}
	if fi.Size() <= f.end {
		return nil
	}
	if fi.Size()-f.end > zdictMaxFile {
		return fmt.Errorf("kv: %s is %d bytes, more than any store writes (%d): not a dictionary file", f.key.path, fi.Size(), zdictMaxFile)
	}
	data := make([]byte, fi.Size()-f.end)
	if _, err := h.ReadAt(data, f.end); err != nil {
		return fmt.Errorf("kv: read %s: %w", f.key.path, err)
	}
	f.tail = nil
	pos := 0
	for pos < len(data) {
		b, n, reason := zdictEntry(data[pos:])
		if reason != "" {
			next := nextZdictEntry(data, pos+1)
			bad := zdictBad{from: f.end + int64(pos), to: f.end + int64(next), reason: reason}
			if next == len(data) {
				// The end of the file: an entry its writer is still
				// appending, or one a crash tore (or damage). Read again
				// from here next time, and report it until then.
				f.tail = &bad
				break
			}
			f.bad = append(f.bad, bad)
			pos = next
			continue
		}
		off := f.end + int64(pos)
		if v := binary.LittleEndian.Uint16(data[pos+8:]); v != zdictVersion || data[pos+10] != 0 || data[pos+11] != 0 {
			return fmt.Errorf("kv: %s at offset %d: entry of version %d, reserved %x: this build reads version %d",
				f.key.path, off, v, data[pos+10:pos+12], zdictVersion)
		}
		if err := f.addLocked(b); err != nil {
			return fmt.Errorf("kv: %s at offset %d: %w", f.key.path, off, err)
		}
		pos += n
	}
	f.end += int64(pos)
	return nil
}

// zdictEntry reads the entry data starts with: its dictionary and its
// length, or why it is no sound entry.
func zdictEntry(data []byte) (dict []byte, size int, reason string) {
	if len(data) < zdictHeader {
		return nil, 0, "an incomplete entry header"
	}
	n := int64(binary.LittleEndian.Uint32(data[12:]))
	switch {
	case string(data[:8]) != zdictMagic:
		return nil, 0, "no entry's magic"
	case n == 0 || n > zdictMaxLen:
		return nil, 0, fmt.Sprintf("an entry of %d bytes", n)
	case int64(len(data))-zdictHeader < n:
		return nil, 0, "an entry cut short"
	}
	b := data[zdictHeader : zdictHeader+n]
	if zdictChecksum(data[:16], b) != binary.LittleEndian.Uint32(data[16:]) {
		return nil, 0, "an entry whose checksum does not match"
	}
	return b, zdictHeader + int(n), ""
}

// nextZdictEntry returns where the next sound entry in data starts at or
// after from, or len(data).
func nextZdictEntry(data []byte, from int) int {
	for from < len(data) {
		i := bytes.Index(data[from:], []byte(zdictMagic))
		if i < 0 {
			break
		}
		if _, _, reason := zdictEntry(data[from+i:]); reason == "" {
			return from + i
		}
		from += i + 1
	}
	return len(data)
}

// zdictBad is a stretch of the dictionary file that holds no sound entry.
type zdictBad struct {
	from, to int64
	reason   string
}

// damage describes the stretches of the file that hold no sound entry, for
// the error of a value whose dictionary is missing, or nil if there are
// none.
func (f *dictFile) damage() error {
	bad := f.bad
	if f.tail != nil {
		bad = append(slices.Clip(bad), *f.tail)
	}
	if len(bad) == 0 {
		return nil
	}
	parts := make([]string, len(bad))
	for i, b := range bad {
		parts[i] = fmt.Sprintf("bytes %d to %d (%s)", b.from, b.to, b.reason)
	}
	return fmt.Errorf("%s holds no sound dictionary at %s: torn by a crash while a dictionary was written, which no value names, or damaged, which loses the values of its dictionary until the file is mended from a copy",
		f.key.path, strings.Join(parts, ", "))
}

// addLocked makes dictionary b usable for decoding.
func (f *dictFile) addLocked(b []byte) error {
	id, err := zdictID(b)
	if err != nil {
		return err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderDicts(b),
		zstd.WithDecoderMaxMemory(walfmt.MaxValueLen), zstd.WithDecoderMaxWindow(walfmt.MaxValueLen))
	if err != nil {
		return fmt.Errorf("dictionary %d: %w", id, err)
	}
	f.byID[id] = dec
	f.sums[id] = crc32.Checksum(b, castagnoli)
	f.last = b
	return nil
}

func zdictID(b []byte) (uint32, error) {
	info, err := zstd.InspectDictionary(b)
	if err != nil {
		return 0, fmt.Errorf("not a zstd dictionary: %w", err)
	}
	if info.ID() == 0 {
		return 0, errors.New("zstd dictionary without an ID")
	}
	return info.ID(), nil
}

func zdictChecksum(head, b []byte) uint32 {
	return crc32.Update(walfmt.Checksum(head), crc32.MakeTable(crc32.Castagnoli), b)
}

// appendDict appends dictionary b to the file, makes it durable, and then
// makes it usable for decoding. The caller is the store's only writer. It
// writes at the end of the file, after any bytes that hold no sound entry
// (see loadLocked).
func (f *dictFile) appendDict(b []byte) error {
	// Read what the file holds first: a writer in another process may
	// have added dictionaries since this program last read it, which the
	// new end must not pass over unread.
	zdicts.mu.Lock()
	err := f.loadLocked()
	first := f.last == nil
	zdicts.mu.Unlock()
	if err != nil {
		return err
	}
	h, err := f.key.fs.OpenFile(f.key.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fi, err := h.Stat()
	if err != nil {
		_ = h.Close() // the stat's error is the one to report
		return err
	}
	end := fi.Size() // after every byte there, sound or not
	entry := make([]byte, zdictHeader, zdictHeader+len(b))
	copy(entry, zdictMagic)
	binary.LittleEndian.PutUint16(entry[8:], zdictVersion)
	binary.LittleEndian.PutUint32(entry[12:], uint32(len(b)))
	binary.LittleEndian.PutUint32(entry[16:], zdictChecksum(entry[:16], b))
	entry = append(entry, b...)
	_, err = h.WriteAt(entry, end)
	if err == nil {
		err = h.Sync()
	}
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	if err == nil && first {
		// The file's entry: new, or left by a crash before it was synced.
		err = f.key.fs.SyncDir(filepath.Dir(f.key.path))
	}
	if err != nil {
		return err
	}
	zdicts.mu.Lock()
	defer zdicts.mu.Unlock()
	if err := f.addLocked(b); err != nil {
		return err
	}
	if f.tail != nil {
		if f.tail.from < end { // else the tail was this entry, half written when read
			f.bad = append(f.bad, zdictBad{from: f.tail.from, to: end, reason: f.tail.reason})
		}
		f.tail = nil
	}
	f.end = end + int64(len(entry))
	return nil
}

// A zstdDictWriter is ZstdDict as a store that writes uses it: it trains
// the store's dictionary and encodes with it (see ZstdDict). Its methods
// are safe for concurrent use: writers encode outside the store's locks.
type zstdDictWriter struct {
	zstdDictCodec
	file *dictFile
	enc  atomic.Pointer[zstd.Encoder] // with the dictionary, once there is one

	mu      sync.Mutex // guards the fields below
	samples [][]byte
	done    bool // trained, training, or given up
	err     error
}

// newZstdDictWriter returns the codec a store that writes with ZstdDict
// uses, with the last dictionary of its file if it has one.
func newZstdDictWriter(f *dictFile) *zstdDictWriter {
	w := &zstdDictWriter{file: f}
	zdicts.mu.RLock()
	last := f.last
	zdicts.mu.RUnlock()
	if last != nil {
		if enc, err := newDictEncoder(last); err == nil {
			w.enc.Store(enc)
			w.done = true
		}
	}
	return w
}

func newDictEncoder(b []byte) (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true),
		zstd.WithSingleSegment(true), zstd.WithEncoderCRC(false),
		zstd.WithEncoderLevel(zstdDictLevel), zstd.WithEncoderDict(b))
}

func (w *zstdDictWriter) Encode(dst, src []byte) []byte {
	if enc := w.enc.Load(); enc != nil {
		return enc.EncodeAll(src, dst)
	}
	w.sample(src)
	return Zstd.Encode(dst, src)
}

// sample keeps a copy of src for the training, and trains once it has
// enough.
func (w *zstdDictWriter) sample(src []byte) {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	w.samples = append(w.samples, append([]byte(nil), src[:min(len(src), zstdDictSampleMax)]...))
	if len(w.samples) < zstdDictSamples {
		w.mu.Unlock()
		return
	}
	samples := w.samples
	w.samples, w.done = nil, true
	w.mu.Unlock()
	err := w.train(samples)
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

// train builds a dictionary from samples, stores it, and encodes with it
// from then on.
func (w *zstdDictWriter) train(samples [][]byte) error {
	b, err := dict.BuildZstdDict(samples, dict.Options{
		MaxDictSize: zstdDictMaxSize, HashBytes: 6, ZstdLevel: zstdDictLevel,
		ZstdDictID: zdicts.newID(),
	})
	if err != nil {
		return fmt.Errorf("kv: train a zstd dictionary: %w", err)
	}
	enc, err := newDictEncoder(b)
	if err != nil {
		return fmt.Errorf("kv: zstd dictionary: %w", err)
	}
	if err := w.file.appendDict(b); err != nil {
		return fmt.Errorf("kv: store the zstd dictionary in %s: %w", w.file.key.path, err)
	}
	w.enc.Store(enc)
	return nil
}

// newID draws a dictionary ID that no store open in the program uses
// (see findLocked). zstd reserves IDs below 32768.
func (d *dictFiles) newID() uint32 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var id uint32
	for range 64 { // a handful of IDs among 2^31: the first draw is all but certain
		if id = 32768 + rand.Uint32N(1<<31-32768); !d.hasIDLocked(id) {
			break
		}
	}
	return id
}

// trainErr reports why the store encodes without a dictionary, if it
// tried to train one and failed.
func (w *zstdDictWriter) trainErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// openDicts loads the store's zstd dictionaries, and gives a store that
// writes with ZstdDict the codec that trains and uses them.
func (db *DB) openDicts() error {
	f, err := zdicts.register(db.fs, db.dir)
	if err != nil {
		return err
	}
	db.zdict = f
	if db.opts.Codec == ZstdDict && !db.opts.ReadOnly {
		db.opts.Codec = newZstdDictWriter(f)
	}
	return nil
}
