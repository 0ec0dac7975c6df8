package kv

import (
	"errors"
	"fmt"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// A Codec encodes values as they are written and decodes them as they are
// read: compression. Options.Codec is the one a store writes with; each
// record names the codec that wrote it (its codec byte, see "Value codecs"
// in walfmt's package doc), so a store holds values of several codecs at
// once, reads every codec registered in the program, and a change of
// Options.Codec needs no migration: new writes use the new codec, older
// values stay as they were written until they are written again. A
// compaction copies records as they are and does not re-encode them.
//
// A value is stored encoded only when that saves at least an eighth of
// its size; values under MinCodecValue bytes are not tried. Get, and every
// other read, return the original bytes.
//
// An embedding program adds a codec by implementing Codec and calling
// RegisterCodec with an ID of its own, from FirstCustomCodec up; IDs below
// it are reserved for the codecs built in. A log that names an ID the
// program has not registered reads with an error that names the ID.
type Codec interface {
	// ID is the codec byte of the records it writes: never 0 (raw) for a
	// registered codec.
	ID() uint8
	// Name is a short name for errors and statistics: "s2", "zstd".
	Name() string
	// Encode appends the encoding of src to dst and returns it.
	Encode(dst, src []byte) []byte
	// DecodedLen returns the length src decodes to, from its header,
	// without decoding it. It must not trust src: a length it cannot
	// read is an error.
	DecodedLen(src []byte) (int, error)
	// Decode appends the decoding of src to dst and returns it. dst has
	// room for DecodedLen(src) bytes. A src that does not decode is an
	// error, never a panic.
	Decode(dst, src []byte) ([]byte, error)
}

// Codec IDs.
const (
	// FirstCustomCodec is the first ID an embedding program may register;
	// the IDs below it are reserved for the codecs built in.
	FirstCustomCodec = 16
	// MinCodecValue is the size under which values are stored raw
	// without trying the codec: too small to save anything worth the work.
	MinCodecValue = 64
)

// The codecs built in. Raw stores values as they are (the default); S2 is
// Snappy-compatible, very fast compression; Zstd compresses more, at more
// CPU cost (level "default", about zstd's level 3); ZstdDict (see
// codec_dict.go) is zstd with a dictionary the store trains on its own
// values, for small values that resemble each other.
var (
	Raw  Codec = rawCodec{}
	S2   Codec = s2Codec{}
	Zstd Codec = zstdCodec{}
)

// ErrUnknownCodec is wrapped by the error a read returns for a value
// whose record names a codec the program has not registered.
var ErrUnknownCodec = errors.New("kv: unknown value codec")

// codecs is the registry, by ID.
var codecs = struct {
	sync.RWMutex
	byID [256]Codec
}{byID: [256]Codec{0: Raw, 1: S2, 2: Zstd, 3: ZstdDict}}

// RegisterCodec makes c known to every store of the program, under its ID,
// for reading and for use as Options.Codec. Its ID must be at least
// FirstCustomCodec and not taken; a codec is registered once, before any
// store that uses it is opened.
func RegisterCodec(c Codec) error {
	if c == nil {
		return errors.New("kv: RegisterCodec: nil codec")
	}
	id := c.ID()
	if id < FirstCustomCodec {
		return fmt.Errorf("kv: RegisterCodec %q: ID %d is reserved for the codecs built in (use %d to 255)", c.Name(), id, FirstCustomCodec)
	}
	codecs.Lock()
	defer codecs.Unlock()
	if old := codecs.byID[id]; old != nil {
		return fmt.Errorf("kv: RegisterCodec %q: ID %d is taken by %q", c.Name(), id, old.Name())
	}
	codecs.byID[id] = c
	return nil
}

// codecByID returns the registered codec with the given ID.
func codecByID(id uint8) (Codec, error) {
	codecs.RLock()
	c := codecs.byID[id]
	codecs.RUnlock()
	if c == nil {
		return nil, fmt.Errorf("%w %d (not built in, and not registered by this program)", ErrUnknownCodec, id)
	}
	return c, nil
}

// encodeBufs holds the buffers writers encode values into, outside wmu.
var encodeBufs = sync.Pool{New: func() any { return new([]byte) }}

// encodeValue returns how value is to be stored with codec c: encoded, and
// c's ID, when that saves at least an eighth; else value itself and 0.
// An encoding lands in *buf.
func encodeValue(c Codec, value []byte, buf *[]byte) ([]byte, uint8) {
	if c == nil || c.ID() == 0 || len(value) < MinCodecValue {
		return value, 0
	}
	enc := c.Encode((*buf)[:0], value)
	*buf = enc
	if len(enc) > len(value)-len(value)/8 {
		return value, 0
	}
	return enc, c.ID()
}

// decodeValue decodes stored, the value of a record with codec id, and
// appends it to dst. The error says what went wrong, without a place;
// the caller adds the file and offset.
func decodeValue(dst []byte, id uint8, stored []byte) ([]byte, error) {
	c, err := codecByID(id)
	if err != nil {
		return nil, err
	}
	n, err := c.DecodedLen(stored)
	if err != nil {
		return nil, &walfmt.CorruptionError{Reason: fmt.Sprintf("%s value does not decode: %v", c.Name(), err)}
	}
	if n < 0 || n > walfmt.MaxValueLen {
		return nil, &walfmt.CorruptionError{Reason: fmt.Sprintf("%s value claims %d bytes decoded", c.Name(), n)}
	}
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	out, err := c.Decode(dst, stored)
	if err == nil && len(out)-len(dst) != n {
		err = fmt.Errorf("decoded to %d bytes, header says %d", len(out)-len(dst), n)
	}
	if err != nil {
		return nil, &walfmt.CorruptionError{Reason: fmt.Sprintf("%s value does not decode: %v", c.Name(), err)}
	}
	return out, nil
}

// logicalSize returns the decoded size of stored, the value of a record
// with codec id, from its header; the stored size itself when it is raw
// or cannot be read (a read of it then reports why).
func logicalSize(id uint8, stored []byte) int {
	if id == 0 {
		return len(stored)
	}
	c, err := codecByID(id)
	if err != nil {
		return len(stored)
	}
	n, err := c.DecodedLen(stored)
	if err != nil || n < 0 || n > walfmt.MaxValueLen {
		return len(stored)
	}
	return n
}

type rawCodec struct{}

func (rawCodec) ID() uint8                              { return 0 }
func (rawCodec) Name() string                           { return "raw" }
func (rawCodec) Encode(dst, src []byte) []byte          { return append(dst, src...) }
func (rawCodec) DecodedLen(src []byte) (int, error)     { return len(src), nil }
func (rawCodec) Decode(dst, src []byte) ([]byte, error) { return append(dst, src...), nil }

type s2Codec struct{}

func (s2Codec) ID() uint8    { return 1 }
func (s2Codec) Name() string { return "s2" }

// Encode writes S2's block format, which Snappy's block decoder reads.
func (s2Codec) Encode(dst, src []byte) []byte {
	n, start := s2.MaxEncodedLen(len(src)), len(dst)
	if cap(dst)-start < n {
		dst = append(make([]byte, 0, start+n), dst...)
	}
	enc := s2.EncodeSnappy(dst[start:start+n], src)
	return dst[:start+len(enc)]
}

func (s2Codec) DecodedLen(src []byte) (int, error) { return s2.DecodedLen(src) }

func (s2Codec) Decode(dst, src []byte) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	out, err := s2.Decode(dst[len(dst):len(dst)+n], src)
	if err != nil {
		return nil, err
	}
	return dst[:len(dst)+len(out)], nil
}

// The zstd encoder and decoder are made once, on first use, and shared:
// their EncodeAll and DecodeAll are safe for concurrent use.
var zstdState struct {
	once sync.Once
	enc  *zstd.Encoder
	dec  *zstd.Decoder
}

func zstdCoders() (*zstd.Encoder, *zstd.Decoder) {
	zstdState.once.Do(func() {
		// Neither fails with these options. A single segment makes
		// every frame state its content size, which DecodedLen reads;
		// the record's checksum makes zstd's own redundant.
		zstdState.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true),
			zstd.WithSingleSegment(true), zstd.WithEncoderCRC(false))
		zstdState.dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(walfmt.MaxValueLen), zstd.WithDecoderMaxWindow(walfmt.MaxValueLen))
	})
	return zstdState.enc, zstdState.dec
}

type zstdCodec struct{}

func (zstdCodec) ID() uint8    { return 2 }
func (zstdCodec) Name() string { return "zstd" }

func (zstdCodec) Encode(dst, src []byte) []byte {
	enc, _ := zstdCoders()
	return enc.EncodeAll(src, dst)
}

// DecodedLen reads the frame's content size, which EncodeAll always
// writes.
func (zstdCodec) DecodedLen(src []byte) (int, error) {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return 0, err
	}
	if !h.HasFCS {
		return 0, errors.New("zstd frame without its content size")
	}
	if h.FrameContentSize > walfmt.MaxValueLen {
		return 0, fmt.Errorf("zstd frame of %d bytes", h.FrameContentSize)
	}
	return int(h.FrameContentSize), nil
}

func (zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	_, dec := zstdCoders()
	return dec.DecodeAll(src, dst)
}
