package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
	"github.com/hashicorp/raft"
)

// A snapshot is a stream of the store's live records, in key order:
//
//	header = magic "CRKVSNAP" | version (1 byte, snapshotVersion)
//	         | applied index (8 bytes, little endian)
//	record = tag (1 byte, tagRecord) | klen (uvarint) key | vlen (uvarint) value
//	       | tag (1 byte, tagExpiring) | klen (uvarint) key | vlen (uvarint) value
//	         | expiry (8 bytes, little endian, int64 Unix nanoseconds, > 0)
//	end    = tag (1 byte, tagEnd) | records (8 bytes, little endian)
//	         | crc (4 bytes, little endian: CRC-32C of every byte before it)
//
// The reader checks every length before it allocates, and Restore swaps
// the rebuilt store in only after the end's count and checksum match: a
// truncated or damaged snapshot never replaces a store. The cluster's own
// applied-index key is not a record: the header carries the index.
//
// Tag 2 was reserved for expiring keys from the first version on, so a
// reader that does not know it refuses the snapshot rather than restoring
// keys without their expiries. A key is in the snapshot if it had not
// expired by the clock of the node that took it; one that expires before
// the snapshot is restored is written with its expiry, and is absent.
const (
	snapshotMagic   = "CRKVSNAP"
	snapshotVersion = 1
	tagEnd          = 0
	tagRecord       = 1
	tagExpiring     = 2
)

// ErrBadSnapshot is wrapped by the error for a snapshot stream that is
// damaged, truncated or of an unknown version.
var ErrBadSnapshot = errors.New("cluster: malformed snapshot")

// cowSnapshot is a point-in-time image of the store that does not copy
// it: the key set is taken at once, and while the snapshot is persisted,
// the fsm saves the old value of each key before its first overwrite
// (preserveLocked). Persist reads a key from the saved values if it is
// there, else from the store, under snapMu, so it sees each key as it was
// when the snapshot began. It is safe for concurrent use with applies.
type cowSnapshot struct {
	f     *fsm
	db    *kv.DB // the store the snapshot was taken of
	index uint64
	keys  []string
	// saved holds old values and expiries, a nil value for a key that
	// was absent (guarded by f.snapMu).
	saved map[string]savedValue
}

// savedValue is a key's value and expiry (Unix ns, 0 for none) as of a
// snapshot.
type savedValue struct {
	value  []byte
	expiry int64
}

// startSnapshot begins a snapshot at index. The caller holds dbMu.
func (f *fsm) startSnapshot(index uint64) (*cowSnapshot, error) {
	keys, err := f.db.CheckedKeys(nil)
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot: %w", err)
	}
	s := &cowSnapshot{f: f, db: f.db, index: index, keys: keys, saved: map[string]savedValue{}}
	f.snapMu.Lock()
	defer f.snapMu.Unlock()
	if f.snap != nil {
		return nil, errors.New("cluster: a snapshot is already being persisted")
	}
	f.snap = s
	return s, nil
}

// preserveLocked saves, for the running snapshot, the value each of keys
// has before a write changes it. The caller holds snapMu.
func (f *fsm) preserveLocked(keys [][]byte) error {
	if f.snap == nil {
		return nil
	}
	for _, key := range keys {
		k := string(key)
		if _, ok := f.snap.saved[k]; ok {
			continue
		}
		v, err := getExpiring(f.db, key)
		if err != nil {
			return fmt.Errorf("cluster: save %q for the running snapshot: %w", key, err)
		}
		f.snap.saved[k] = v
	}
	return nil
}

// getExpiring returns key's value and expiry; a nil value for a key that
// is absent. The two reads agree as long as nothing writes key in
// between: the caller holds snapMu, and the only writer, an apply, saves
// the key under snapMu before it writes it.
func getExpiring(db *kv.DB, key []byte) (savedValue, error) {
	v, err := db.Get(key)
	var at time.Time
	if err == nil {
		at, err = db.ExpiresAt(key)
	}
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return savedValue{}, nil // absent, or expired between the reads
	case err != nil:
		return savedValue{}, err
	case v == nil:
		v = []byte{}
	}
	sv := savedValue{value: v}
	if !at.IsZero() {
		sv.expiry = at.UnixNano()
	}
	return sv, nil
}

// value returns key's value and expiry as of the snapshot, and whether it
// existed.
func (s *cowSnapshot) value(key string) (savedValue, bool, error) {
	s.f.snapMu.Lock()
	defer s.f.snapMu.Unlock()
	if v, ok := s.saved[key]; ok {
		return v, v.value != nil, nil
	}
	v, err := getExpiring(s.db, []byte(key))
	return v, err == nil && v.value != nil, err
}

// Persist writes the snapshot to sink, and cancels the sink if it fails.
func (s *cowSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (s *cowSnapshot) write(w io.Writer) error {
	sw := newSnapshotWriter(w, s.index)
	for _, k := range s.keys {
		if k == string(appliedKey) {
			continue
		}
		v, ok, err := s.value(k)
		if err != nil {
			return fmt.Errorf("cluster: snapshot: read %q: %w", k, err)
		}
		if ok {
			sw.record([]byte(k), v.value, v.expiry)
		}
	}
	return sw.close()
}

// Release ends the snapshot: applies stop saving old values.
func (s *cowSnapshot) Release() {
	s.f.snapMu.Lock()
	if s.f.snap == s {
		s.f.snap = nil
	}
	s.f.snapMu.Unlock()
}

// snapshotWriter encodes a snapshot stream. It keeps the first error.
type snapshotWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   uint64
	buf []byte
	err error
}

func newSnapshotWriter(w io.Writer, index uint64) *snapshotWriter {
	crc := crc32.New(castagnoli)
	sw := &snapshotWriter{w: bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10), crc: crc}
	sw.buf = append(sw.buf, snapshotMagic...)
	sw.buf = append(sw.buf, snapshotVersion)
	sw.buf = binary.LittleEndian.AppendUint64(sw.buf, index)
	sw.put(sw.buf)
	return sw
}

// record writes a key with its value and expiry (Unix ns, 0 for none).
func (sw *snapshotWriter) record(key, value []byte, expiry int64) {
	tag := byte(tagRecord)
	if expiry != 0 {
		tag = tagExpiring
	}
	b := append(sw.buf[:0], tag)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	sw.put(b)
	sw.put(value)
	if expiry != 0 {
		b = binary.LittleEndian.AppendUint64(b[:0], uint64(expiry))
		sw.put(b)
	}
	sw.buf = b
	sw.n++
}

func (sw *snapshotWriter) put(b []byte) {
	if sw.err == nil {
		_, sw.err = sw.w.Write(b)
	}
}

// close writes the end and flushes.
func (sw *snapshotWriter) close() error {
	b := append(sw.buf[:0], tagEnd)
	b = binary.LittleEndian.AppendUint64(b, sw.n)
	sw.put(b)
	if sw.err == nil {
		sw.err = sw.w.Flush()
	}
	if sw.err != nil {
		return sw.err
	}
	// The checksum covers everything flushed so far; it is written
	// past the hash, straight to the sink.
	sum := binary.LittleEndian.AppendUint32(nil, sw.crc.Sum32())
	_, sw.err = sw.w.Write(sum)
	if sw.err == nil {
		sw.err = sw.w.Flush()
	}
	return sw.err
}

// snapshotReader decodes a snapshot stream.
type snapshotReader struct {
	r     *crcReader
	index uint64
	n     uint64
}

// crcReader hashes the bytes it hands out, not those its buffer reads
// ahead.
type crcReader struct {
	r   *bufio.Reader
	crc uint32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.crc = crc32.Update(c.crc, castagnoli, []byte{b})
	}
	return b, err
}

func newSnapshotReader(r io.Reader) (*snapshotReader, error) {
	sr := &snapshotReader{r: &crcReader{r: bufio.NewReaderSize(r, 256<<10)}}
	var h [len(snapshotMagic) + 1 + 8]byte
	if _, err := io.ReadFull(sr.r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if string(h[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a CrabKv snapshot", ErrBadSnapshot)
	}
	if v := h[len(snapshotMagic)]; v != snapshotVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadSnapshot, v)
	}
	sr.index = binary.LittleEndian.Uint64(h[len(snapshotMagic)+1:])
	return sr, nil
}

// snapshotRecord is one key of a snapshot: its value and expiry (Unix
// ns, 0 for none).
type snapshotRecord struct {
	key, value []byte
	expiry     int64
}

// next returns the next record, or io.EOF after an end whose count and
// checksum match and nothing after it. key and value are fresh slices.
func (sr *snapshotReader) next() (snapshotRecord, error) {
	var r snapshotRecord
	tag, err := sr.r.ReadByte()
	if err != nil {
		return r, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, sr.n+1, noEOF(err))
	}
	switch tag {
	case tagEnd:
		if err := sr.end(); err != nil {
			return r, err
		}
		return r, io.EOF
	case tagRecord, tagExpiring:
	default:
		return r, fmt.Errorf("%w: record %d: unknown tag %d", ErrBadSnapshot, sr.n+1, tag)
	}
	if r.key, err = sr.bytes(walfmt.MaxKeyLen); err == nil {
		r.value, err = sr.bytes(walfmt.MaxValueLen)
	}
	if err == nil && tag == tagExpiring {
		r.expiry, err = sr.expiry()
	}
	if err != nil {
		return r, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, sr.n+1, err)
	}
	sr.n++
	return r, nil
}

// expiry reads the expiry of a tagExpiring record.
func (sr *snapshotReader) expiry() (int64, error) {
	var b [8]byte
	if _, err := io.ReadFull(sr.r, b[:]); err != nil {
		return 0, noEOF(err)
	}
	at := int64(binary.LittleEndian.Uint64(b[:]))
	if at <= 0 {
		return 0, fmt.Errorf("expiry %d is not after 1970", at)
	}
	return at, nil
}

func (sr *snapshotReader) end() error {
	var b [8]byte
	if _, err := io.ReadFull(sr.r, b[:]); err != nil {
		return fmt.Errorf("%w: end: %v", ErrBadSnapshot, noEOF(err))
	}
	if n := binary.LittleEndian.Uint64(b[:]); n != sr.n {
		return fmt.Errorf("%w: end counts %d records, read %d", ErrBadSnapshot, n, sr.n)
	}
	want := sr.r.crc
	var sum [4]byte
	if _, err := io.ReadFull(sr.r.r, sum[:]); err != nil {
		return fmt.Errorf("%w: checksum: %v", ErrBadSnapshot, noEOF(err))
	}
	if binary.LittleEndian.Uint32(sum[:]) != want {
		return fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	if _, err := sr.r.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: bytes after the end", ErrBadSnapshot)
	}
	return nil
}

// bytes reads a uvarint length of at most limit and that many bytes. It
// reads in pieces, so a lying length costs no more memory than the bytes
// that are there.
func (sr *snapshotReader) bytes(limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(sr.r)
	if err != nil {
		return nil, noEOF(err)
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("length %d past the limit %d", n, limit)
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, sr.r, int64(n)); err != nil {
		return nil, noEOF(err)
	}
	return buf.Bytes(), nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
