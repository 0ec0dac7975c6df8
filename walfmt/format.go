package walfmt

import (
	"crypto/rand"
	"encoding/binary"
	"hash/crc32"
	"math"
	"time"
)

// On-disk constants. They are part of the format; see the package doc.
const (
	// Magic identifies a CrabKv log.
	Magic = "CRABKVWL"
	// Version is the format version this package writes. It reads it and
	// version 1.
	Version = 2
	// HeaderSize is the size of the file header this package writes: the
	// offset of the first record of a version 2 log.
	HeaderSize = 64
	// HeaderSizeV1 is the size of a version 1 file header.
	HeaderSizeV1 = 16
	// RecordHeaderSize is the size of a record's fixed header.
	RecordHeaderSize = 16
	// ExpirySize is the size of the optional expiry field.
	ExpirySize = 8

	// MaxKeyLen is the largest key the format accepts.
	MaxKeyLen = 1<<16 - 1
	// MaxValueLen is the largest value the format accepts. A decoded length
	// above it is corruption, never an allocation.
	MaxValueLen = 256 << 20

	// SyncWindow bounds what a crash can leave damaged at the end of a log:
	// a writer never has more than SyncWindow bytes of records appended past
	// its last durable point, except a single record larger than that,
	// which is then alone. A reader may therefore treat an invalid record
	// as a torn tail when every valid record after it ends within
	// SyncWindow bytes of its start. See "Endings" in the package doc.
	SyncWindow = 1 << 20
)

// Kind says what a record does to its key.
type Kind uint8

// Record kinds.
const (
	KindPut    Kind = 1
	KindDelete Kind = 2
	// KindBatch is a batch: a record whose value holds the operations of
	// one atomic write, each a put or delete record of its own. See
	// "Batches" in the package doc.
	KindBatch Kind = 3
)

// String returns "put", "delete" or "batch".
func (k Kind) String() string {
	switch k {
	case KindPut:
		return "put"
	case KindDelete:
		return "delete"
	case KindBatch:
		return "batch"
	}
	return "unknown"
}

// Record flag bits.
const (
	// FlagExpiry marks a record that carries an expiry time.
	FlagExpiry = 1 << 0

	knownFlags = FlagExpiry
)

// Field offsets within a record header.
const (
	offCRC      = 0
	offKind     = 4
	offFlags    = 5
	offCodec    = 6
	offReserved = 7
	offKeyLen   = 8
	offValueLen = 12
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of b, the checksum the format uses.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// FileHeader is the decoded file header of a log.
type FileHeader struct {
	// Version is the log's format version.
	Version uint16
	// ID identifies the log file: random, and new for every log a writer
	// creates (a new store, a compaction, a repair). A hint file records
	// the ID of the log it describes. Zero in version 1 logs.
	ID [16]byte
	// HashKey is the secret key of the index's hash function for this
	// log's keys: random, new with every log, so that nobody who cannot
	// read the log can choose keys that collide in the index. Zero in
	// version 1 logs.
	HashKey [16]byte
	// SyncWindow is the sync window the log's writers keep (see "Sync
	// window" in the package doc): how far past damage a reader may find
	// valid records and still take the damage for a crash's. Zero in
	// version 1 logs, whose writers promised nothing.
	SyncWindow uint32
}

// NewFileHeader returns the header of a new log: the current version, and
// a fresh random ID and hash key.
func NewFileHeader() FileHeader {
	h := FileHeader{Version: Version, SyncWindow: SyncWindow}
	rand.Read(h.ID[:])      // never fails (crypto/rand)
	rand.Read(h.HashKey[:]) // never fails (crypto/rand)
	return h
}

// Size returns the length of the header in the file: the offset of the
// log's first record.
func (h FileHeader) Size() int64 {
	if h.Version == 1 {
		return HeaderSizeV1
	}
	return HeaderSize
}

// Field offsets within a version 2 file header.
const (
	offHdrID      = 16
	offHdrHashKey = 32
	offHdrWindow  = 48
	offHdrCRC2    = 60
)

// AppendHeader appends the header of a new log, with a fresh ID and hash
// key, to dst.
func AppendHeader(dst []byte) []byte { return AppendFileHeader(dst, NewFileHeader()) }

// AppendFileHeader appends h, as a version 2 header, to dst.
func AppendFileHeader(dst []byte, h FileHeader) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	b := dst[start:]
	copy(b, Magic)
	binary.LittleEndian.PutUint16(b[8:], Version)
	binary.LittleEndian.PutUint32(b[12:], Checksum(b[:12]))
	copy(b[offHdrID:], h.ID[:])
	copy(b[offHdrHashKey:], h.HashKey[:])
	binary.LittleEndian.PutUint32(b[offHdrWindow:], h.SyncWindow)
	binary.LittleEndian.PutUint32(b[offHdrCRC2:], Checksum(b[16:offHdrCRC2]))
	return dst
}

// CheckHeader reports whether b starts with a valid file header of a version
// this package reads. The error is ErrForeignFile, ErrVersion, ErrTornTail
// (a header cut short, which only a crash while creating the file can
// leave), or a *CorruptionError wrapping ErrCorrupt for a version 2 header
// whose first 16 bytes are valid and whose own fields (log ID, hash key,
// sync window) are damaged: a CrabKv log whose records may all be whole,
// which a repair salvages under a new header.
func CheckHeader(b []byte) error {
	_, err := ParseHeader(b)
	return err
}

// ParseHeader decodes the file header at the start of b, which holds the
// first HeaderSize bytes of the log or the whole log if it is shorter. Its
// errors are CheckHeader's.
func ParseHeader(b []byte) (FileHeader, error) {
	var h FileHeader
	if len(b) < HeaderSizeV1 {
		n := min(len(b), len(Magic))
		if string(b[:n]) == Magic[:n] {
			return h, ErrTornTail
		}
		return h, ErrForeignFile
	}
	// The first 16 bytes have the same layout in every version, so that
	// any version tells a future one from a foreign file.
	if string(b[:8]) != Magic {
		return h, ErrForeignFile
	}
	if binary.LittleEndian.Uint32(b[12:16]) != Checksum(b[:12]) {
		return h, ErrForeignFile
	}
	h.Version = binary.LittleEndian.Uint16(b[8:10])
	switch h.Version {
	case 1:
		return h, nil
	case Version:
	default:
		return h, &VersionError{Version: h.Version}
	}
	if len(b) < HeaderSize {
		return h, ErrTornTail
	}
	if binary.LittleEndian.Uint32(b[offHdrCRC2:]) != Checksum(b[16:offHdrCRC2]) {
		// Magic, version and their checksum are right: not a foreign
		// file, but one whose header fields cannot be trusted. h keeps
		// the version, and the default sync window, for a reader that
		// goes on to check the records.
		h.SyncWindow = SyncWindow
		return h, &CorruptionError{Offset: offHdrID, Reason: "damaged file header (log ID, hash key or sync window)"}
	}
	copy(h.ID[:], b[offHdrID:])
	copy(h.HashKey[:], b[offHdrHashKey:])
	h.SyncWindow = binary.LittleEndian.Uint32(b[offHdrWindow:])
	return h, nil
}

// RecordSize returns the encoded size of a record with the given key and
// value lengths, without an expiry.
func RecordSize(keyLen, valueLen int) int {
	return RecordHeaderSize + keyLen + valueLen
}

// RecordSizeExpiring returns the encoded size of a record with the given
// key and value lengths and an expiry field when expiry is not zero.
func RecordSizeExpiring(keyLen, valueLen int, expiry int64) int {
	if expiry != 0 {
		return RecordSize(keyLen, valueLen) + ExpirySize
	}
	return RecordSize(keyLen, valueLen)
}

// Record is one decoded record. Key and Value alias the reader's buffer and
// are valid only until the next call to Next.
type Record struct {
	Kind   Kind
	Flags  uint8
	Codec  uint8
	Expiry int64 // Unix nanoseconds; 0 when the record has none
	Key    []byte
	Value  []byte
	// Offset is the byte offset of the record in the log.
	Offset int64
	// Size is the encoded size of the record in bytes.
	Size int
	// Raw is the whole encoded record, for copying it verbatim.
	Raw []byte
}

// AppendPut appends a put record for key and value to dst and returns the
// extended buffer. It does not allocate when dst has room. The caller checks
// the lengths against MaxKeyLen and MaxValueLen.
func AppendPut(dst, key, value []byte) []byte {
	return appendRecord(dst, KindPut, key, value)
}

// AppendDelete appends a tombstone for key to dst.
func AppendDelete(dst, key []byte) []byte {
	return appendRecord(dst, KindDelete, key, nil)
}

// AppendPutExpiring appends a put record for key and value that expires at
// expiry, in Unix nanoseconds; an expiry of 0 means none, and gives
// AppendPut's record. It does not allocate when dst has room.
func AppendPutExpiring(dst, key, value []byte, expiry int64) []byte {
	return appendRecordFlags(dst, KindPut, 0, 0, expiry, key, value)
}

// AppendPutCodec appends a put record whose value was encoded by the value
// codec codec (0: raw; see "Value codecs" in the package doc) and that
// expires at expiry (Unix ns; 0: never).
func AppendPutCodec(dst, key, value []byte, codec uint8, expiry int64) []byte {
	return appendRecordFlags(dst, KindPut, 0, codec, expiry, key, value)
}

// AppendPlain appends rec, a record of the log or an operation of a batch,
// as a record of the log of its own: the same kind, key, value, codec and
// expiry, without FlagBatchOp. It is how a compaction copies a batch's
// operation out of its batch.
func AppendPlain(dst []byte, rec Record) []byte {
	return appendRecordFlags(dst, rec.Kind, 0, rec.Codec, rec.Expiry, rec.Key, rec.Value)
}

func appendRecord(dst []byte, kind Kind, key, value []byte) []byte {
	return appendRecordFlags(dst, kind, 0, 0, 0, key, value)
}

// appendRecordFlags appends a record with the given flags and, when expiry
// is not zero, an expiry field (and FlagExpiry).
func appendRecordFlags(dst []byte, kind Kind, flags, codec uint8, expiry int64, key, value []byte) []byte {
	start := len(dst)
	var h [RecordHeaderSize]byte
	h[offKind] = byte(kind)
	h[offCodec] = codec
	if expiry != 0 {
		flags |= FlagExpiry
	}
	h[offFlags] = flags
	binary.LittleEndian.PutUint32(h[offKeyLen:], uint32(len(key)))
	binary.LittleEndian.PutUint32(h[offValueLen:], uint32(len(value)))
	dst = append(dst, h[:]...)
	if expiry != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(expiry))
	}
	dst = append(dst, key...)
	dst = append(dst, value...)
	binary.LittleEndian.PutUint32(dst[start:], Checksum(dst[start+4:]))
	return dst
}

// header holds the decoded fixed fields of a record.
type header struct {
	kind     Kind
	flags    uint8
	codec    uint8
	keyLen   int
	valueLen int
	crc      uint32
}

// size returns the encoded size of the record the header describes.
func (h header) size() int {
	n := RecordHeaderSize + h.keyLen + h.valueLen
	if h.flags&FlagExpiry != 0 {
		n += ExpirySize
	}
	return n
}

// parseHeader decodes and checks the fixed fields of the header of a record
// of the log. It never trusts a length: each is checked against the
// format's limits before anyone slices or allocates with it.
func parseHeader(b []byte) (header, string) {
	h, reason := parseFields(b, knownFlags)
	switch {
	case reason != "":
	case h.kind == KindBatch && (h.keyLen != 0 || h.flags != 0):
		reason = "batch with a key or flags"
	case h.kind == KindBatch && h.valueLen < RecordHeaderSize+1:
		reason = "batch too short for an operation"
	case h.kind != KindBatch && h.keyLen == 0:
		reason = "key length out of range"
	}
	return h, reason
}

// parseFields decodes the fixed fields of a record header, of the log or
// of a batch, and checks what every record shares; flags are the flag bits
// allowed.
func parseFields(b []byte, flags uint8) (header, string) {
	h := header{
		kind:     Kind(b[offKind]),
		flags:    b[offFlags],
		codec:    b[offCodec],
		crc:      binary.LittleEndian.Uint32(b[offCRC:]),
		keyLen:   int(binary.LittleEndian.Uint32(b[offKeyLen:])),
		valueLen: int(binary.LittleEndian.Uint32(b[offValueLen:])),
	}
	switch {
	case h.kind != KindPut && h.kind != KindDelete && h.kind != KindBatch:
		return h, "unknown record kind"
	case h.flags&^flags != 0:
		return h, "unknown record flags"
	case h.codec != 0 && h.kind != KindPut:
		return h, "value codec on a record without a value"
	case b[offReserved] != 0:
		return h, "reserved byte not zero"
	case h.keyLen > MaxKeyLen:
		return h, "key length out of range"
	case h.valueLen > MaxValueLen:
		return h, "value length out of range"
	case h.kind == KindDelete && h.valueLen != 0:
		return h, "tombstone with a value"
	case h.kind == KindDelete && h.flags&FlagExpiry != 0:
		return h, "tombstone with an expiry"
	}
	return h, ""
}

// decode checks the checksum of the complete record in b (len(b) ==
// h.size()) and fills r.
func decode(b []byte, h header, r *Record) string {
	if Checksum(b[4:]) != h.crc {
		return "checksum mismatch"
	}
	fill(b, h, r)
	if h.kind == KindBatch {
		return checkBatch(r.Value)
	}
	return ""
}

// fill fills r from the record in b (len(b) == h.size()), whose fields
// parseFields has checked.
func fill(b []byte, h header, r *Record) {
	p := b[RecordHeaderSize:]
	r.Expiry = 0
	if h.flags&FlagExpiry != 0 {
		r.Expiry = int64(binary.LittleEndian.Uint64(p))
		p = p[ExpirySize:]
	}
	r.Kind, r.Flags, r.Codec = h.kind, h.flags, h.codec
	r.Key = p[:h.keyLen:h.keyLen]
	r.Value = p[h.keyLen : h.keyLen+h.valueLen : h.keyLen+h.valueLen]
	r.Size = len(b)
	r.Raw = b
}

// ValueCodec returns the value codec byte of the record whose header
// starts b (at least RecordHeaderSize bytes): 0 for a raw value.
func ValueCodec(b []byte) uint8 { return b[offCodec] }

// Expiry returns the expiry of the record b starts with (Unix
// nanoseconds), or 0 if it has none. Like ValueBounds it trusts the
// header: the caller verifies the checksum.
func Expiry(b []byte) int64 {
	if len(b) < RecordHeaderSize+ExpirySize || b[offFlags]&FlagExpiry == 0 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b[RecordHeaderSize:]))
}

// ExpiryOf returns the instant t as an expiry field holds it, in Unix
// nanoseconds, clamped to what an int64 of them holds: from 1677-09-21 to
// 2262-04-11. t.UnixNano is undefined outside that range, and wraps, so an
// expiry in the year 2300 would come out in the past (deleting the key) or
// in 2077; clamped, it is the latest instant there is.
func ExpiryOf(t time.Time) int64 {
	switch {
	case t.After(lastExpiry):
		return math.MaxInt64
	case t.Before(firstExpiry):
		return math.MinInt64
	}
	return t.UnixNano()
}

var (
	lastExpiry  = time.Unix(0, math.MaxInt64)
	firstExpiry = time.Unix(0, math.MinInt64)
)

// ChecksumMatches reports whether the checksum in the header of rec, a
// whole record, matches the record's bytes.
func ChecksumMatches(rec []byte) bool {
	return len(rec) >= RecordHeaderSize && Checksum(rec[4:]) == binary.LittleEndian.Uint32(rec[offCRC:])
}

// PlainPut reports whether header is that of a plain put — a put record
// or a batch's put operation, with no expiry and no codec — whose key and
// value lengths are within the format's limits, and returns them: the
// record is then RecordHeaderSize+keyLen+valueLen bytes, its key and
// value following the header. Like ValueBounds it does not verify the
// checksum (ChecksumMatches), which the caller must.
func PlainPut(header *[RecordHeaderSize]byte) (keyLen, valueLen int, ok bool) {
	k := binary.LittleEndian.Uint32(header[offKeyLen:])
	v := binary.LittleEndian.Uint32(header[offValueLen:])
	ok = Kind(header[offKind]) == KindPut && header[offFlags]&^FlagBatchOp == 0 && header[offCodec] == 0 &&
		k != 0 && k <= MaxKeyLen && v <= MaxValueLen
	return int(k), int(v), ok
}

// ValueBounds returns where the value of a put record lies, from the
// record's fixed header: valueOff bytes from the record's start, valueLen
// bytes long, so that the record is valueOff+valueLen bytes. It checks the
// kind and the lengths against the format's limits, but not the checksum,
// which covers the whole record: a reader that trusts the bounds must
// verify it. The error wraps ErrCorrupt.
func ValueBounds(header []byte) (valueOff, valueLen int, err error) {
	if len(header) < RecordHeaderSize {
		return 0, 0, &CorruptionError{Reason: "incomplete record header"}
	}
	if Kind(header[offKind]) != KindPut {
		return 0, 0, &CorruptionError{Reason: "not a put record"}
	}
	keyLen := int(binary.LittleEndian.Uint32(header[offKeyLen:]))
	valueLen = int(binary.LittleEndian.Uint32(header[offValueLen:]))
	if keyLen > MaxKeyLen || valueLen > MaxValueLen {
		return 0, 0, &CorruptionError{Reason: "length out of range"}
	}
	valueOff = RecordHeaderSize + keyLen
	if header[offFlags]&FlagExpiry != 0 {
		valueOff += ExpirySize
	}
	return valueOff, valueLen, nil
}
