package walfmt

import (
	"encoding/binary"
	"hash/crc32"
)

// On-disk constants. They are part of the format; see the package doc.
const (
	// Magic identifies a CrabKv log.
	Magic = "CRABKVWL"
	// Version is the format version this package writes and reads.
	Version = 1
	// HeaderSize is the size of the file header at the start of every log.
	HeaderSize = 16
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
)

// String returns "put" or "delete".
func (k Kind) String() string {
	switch k {
	case KindPut:
		return "put"
	case KindDelete:
		return "delete"
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

// AppendHeader appends the file header to dst.
func AppendHeader(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, Magic...)
	dst = binary.LittleEndian.AppendUint16(dst, Version)
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	return binary.LittleEndian.AppendUint32(dst, Checksum(dst[start:]))
}

// CheckHeader reports whether b starts with a valid file header of a version
// this package reads. The error is ErrForeignFile, ErrVersion or
// ErrTornTail (a header cut short, which only a crash while creating the
// file can leave).
func CheckHeader(b []byte) error {
	if len(b) < HeaderSize {
		n := min(len(b), len(Magic))
		if string(b[:n]) == Magic[:n] {
			return ErrTornTail
		}
		return ErrForeignFile
	}
	if string(b[:8]) != Magic {
		return ErrForeignFile
	}
	if binary.LittleEndian.Uint32(b[12:16]) != Checksum(b[:12]) {
		return ErrForeignFile
	}
	if v := binary.LittleEndian.Uint16(b[8:10]); v != Version {
		return &VersionError{Version: v}
	}
	return nil
}

// RecordSize returns the encoded size of a record with the given key and
// value lengths, without an expiry.
func RecordSize(keyLen, valueLen int) int {
	return RecordHeaderSize + keyLen + valueLen
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

func appendRecord(dst []byte, kind Kind, key, value []byte) []byte {
	start := len(dst)
	var h [RecordHeaderSize]byte
	h[offKind] = byte(kind)
	binary.LittleEndian.PutUint32(h[offKeyLen:], uint32(len(key)))
	binary.LittleEndian.PutUint32(h[offValueLen:], uint32(len(value)))
	dst = append(dst, h[:]...)
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

// parseHeader decodes and checks the fixed fields of a record header. It
// never trusts a length: each is checked against the format's limits before
// anyone slices or allocates with it.
func parseHeader(b []byte) (header, string) {
	h := header{
		kind:     Kind(b[offKind]),
		flags:    b[offFlags],
		codec:    b[offCodec],
		crc:      binary.LittleEndian.Uint32(b[offCRC:]),
		keyLen:   int(binary.LittleEndian.Uint32(b[offKeyLen:])),
		valueLen: int(binary.LittleEndian.Uint32(b[offValueLen:])),
	}
	switch {
	case h.kind != KindPut && h.kind != KindDelete:
		return h, "unknown record kind"
	case h.flags&^knownFlags != 0:
		return h, "unknown record flags"
	case h.codec != 0:
		return h, "unknown value codec"
	case b[offReserved] != 0:
		return h, "reserved byte not zero"
	case h.keyLen == 0 || h.keyLen > MaxKeyLen:
		return h, "key length out of range"
	case h.valueLen > MaxValueLen:
		return h, "value length out of range"
	case h.kind == KindDelete && h.valueLen != 0:
		return h, "tombstone with a value"
	}
	return h, ""
}

// decode checks the checksum of the complete record in b (len(b) ==
// h.size()) and fills r.
func decode(b []byte, h header, r *Record) string {
	if Checksum(b[4:]) != h.crc {
		return "checksum mismatch"
	}
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
	return ""
}
