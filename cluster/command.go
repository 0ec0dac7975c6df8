package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// A command is the payload of one raft log entry: the writes one client
// request makes, applied as one atomic batch on every node. Its encoding is
// part of the replicated log, which outlives any one binary, so it is never
// changed in place: a new layout or meaning gets a new version byte, and a
// node that meets a version it does not know fails that entry.
//
//	command = version (1 byte: 1 or 2, see below)
//	          count   (uvarint: number of operations, 1..kv.MaxBatchOps)
//	          op * count
//	          crc     (4 bytes, little endian: CRC-32C of every byte before it)
//	op      = kind    (1 byte: OpPut, OpDelete or OpPutExpiry)
//	          klen    (uvarint) key (klen bytes)
//	          for OpPut and OpPutExpiry: vlen (uvarint) value (vlen bytes)
//	          for OpPutExpiry: expiry (8 bytes, little endian, int64 Unix
//	          nanoseconds: an absolute time, so replay on any node at any
//	          later moment agrees on it)
//
// Keys and values are length-prefixed bytes, so any byte string is safe.
// The checksum covers the whole command: raft's log store and transport
// do not checksum what they carry.
//
// Versions 1 and 2 share the layout and differ in what OpPutExpiry means.
// Version 1 was written when no node applied expiries: its OpPutExpiry is
// refused with ErrUnsupported, as every node refused it then, so a log
// replayed today builds the state it built then. Version 2 applies it. A
// command is written as version 1 unless it holds an OpPutExpiry, so the
// entries of plain writes stay readable by nodes that know only version 1
// (during an upgrade of the members one by one, expiring writes wait until
// every member runs a binary that knows version 2).
const (
	commandVersionPlain  = 1
	commandVersionExpiry = 2
)

// OpKind is the kind of one operation of a command.
type OpKind uint8

// Operation kinds. Their values are part of the command encoding.
const (
	// OpPut sets a key to a value.
	OpPut OpKind = 1
	// OpDelete removes a key.
	OpDelete OpKind = 2
	// OpPutExpiry sets a key to a value that expires at an absolute time
	// (in a version 2 command; version 1 refuses it). The time is
	// decided once, by the node that proposes the write, so that every
	// node applies the same record whenever it applies it.
	OpPutExpiry OpKind = 3
)

func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpPutExpiry:
		return "put-expiry"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one write of a command.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte // OpPut and OpPutExpiry only
	// Expiry is when the key expires, in Unix nanoseconds (OpPutExpiry
	// only).
	Expiry int64
}

// Put returns an operation that sets key to value.
func Put(key, value []byte) Op { return Op{Kind: OpPut, Key: key, Value: value} }

// Delete returns an operation that removes key.
func Delete(key []byte) Op { return Op{Kind: OpDelete, Key: key} }

// PutExpiresAt returns an operation that sets key to value until at: from
// that instant on the key is absent on every node, each judging by its
// own clock. at must be after 1970; one after 2262-04-11 is that instant,
// the last an expiry holds (walfmt.ExpiryOf).
func PutExpiresAt(key, value []byte, at time.Time) Op {
	return Op{Kind: OpPutExpiry, Key: key, Value: value, Expiry: walfmt.ExpiryOf(at)}
}

// ErrBadCommand is wrapped by the error for an entry of the raft log that
// is not a well-formed command: a wrong checksum, an unknown version or
// kind, or a length that runs past the entry.
var ErrBadCommand = errors.New("cluster: malformed command")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendCommand appends the encoding of ops to dst and returns the
// extended slice.
func appendCommand(dst []byte, ops []Op) []byte {
	start := len(dst)
	version := byte(commandVersionPlain)
	for _, op := range ops {
		if op.Kind == OpPutExpiry {
			version = commandVersionExpiry
		}
	}
	dst = append(dst, version)
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for _, op := range ops {
		dst = append(dst, byte(op.Kind))
		dst = binary.AppendUvarint(dst, uint64(len(op.Key)))
		dst = append(dst, op.Key...)
		if op.Kind == OpPut || op.Kind == OpPutExpiry {
			dst = binary.AppendUvarint(dst, uint64(len(op.Value)))
			dst = append(dst, op.Value...)
		}
		if op.Kind == OpPutExpiry {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(op.Expiry))
		}
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// appendChecksum appends the CRC-32C of b to b.
func appendChecksum(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeCommand decodes a command. The keys and values of the operations
// alias b. Every length is checked against the bytes present before
// anything is sliced or allocated, and the checksum before anything is
// decoded.
func decodeCommand(b []byte) ([]Op, error) {
	if len(b) < 1+1+4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadCommand, len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadCommand)
	}
	version := body[0]
	if version != commandVersionPlain && version != commandVersionExpiry {
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadCommand, version)
	}
	d := decoder{b: body[1:]}
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > kv.MaxBatchOps || n > uint64(len(d.b))) {
		return nil, fmt.Errorf("%w: %d operations", ErrBadCommand, n)
	}
	ops := make([]Op, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		ops = append(ops, d.op())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the last operation", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCommand, d.err)
	}
	if version == commandVersionPlain {
		for i, op := range ops {
			if op.Kind == OpPutExpiry {
				return nil, fmt.Errorf("cluster: operation %d (%s) of a version 1 command: %w", i+1, op.Kind, ErrUnsupported)
			}
		}
	}
	return ops, nil
}

// decoder reads the fields of a command's body, keeping the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) op() Op {
	var op Op
	if len(d.b) == 0 {
		d.fail("operation kind missing")
		return op
	}
	op.Kind, d.b = OpKind(d.b[0]), d.b[1:]
	switch op.Kind {
	case OpPut, OpDelete, OpPutExpiry:
	default:
		d.fail(fmt.Sprintf("unknown operation kind %d", op.Kind))
		return op
	}
	op.Key = d.bytes(walfmt.MaxKeyLen)
	if op.Kind != OpDelete {
		op.Value = d.bytes(walfmt.MaxValueLen)
	}
	if op.Kind == OpPutExpiry {
		if len(d.b) < 8 {
			d.fail("expiry truncated")
			return op
		}
		op.Expiry, d.b = int64(binary.LittleEndian.Uint64(d.b)), d.b[8:]
	}
	return op
}

// bytes reads a uvarint length of at most limit and that many bytes.
func (d *decoder) bytes(limit int) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.fail(fmt.Sprintf("length %d past the limit or the entry", n))
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = errors.New(why)
	}
}
