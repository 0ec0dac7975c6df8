package walfmt

import (
	"encoding/binary"
	"errors"
)

// FlagBatchOp marks a record nested in a batch record: an operation of the
// batch. It is set on every operation and on nothing else, so a record
// inside a batch is never taken for a record of the log (for instance by a
// reader that resynchronises past damage), and a batch op outside a batch
// is invalid. Part of the on-disk format; see "Batches" in the package doc.
const FlagBatchOp = 1 << 1

// AppendBatchHeader appends the fixed header of a batch record to dst, with
// its length and checksum left zero: append the operations after it with
// AppendBatchOp, then call SealBatch on the record.
func AppendBatchHeader(dst []byte) []byte {
	var h [RecordHeaderSize]byte
	h[offKind] = byte(KindBatch)
	return append(dst, h[:]...)
}

// AppendBatchOp appends one operation of a batch, a put (KindPut) or a
// delete (KindDelete) of key, to dst. The caller checks the lengths
// against MaxKeyLen and MaxValueLen, and keeps a batch within MaxValueLen.
func AppendBatchOp(dst []byte, kind Kind, key, value []byte) []byte {
	return appendRecordFlags(dst, kind, FlagBatchOp, 0, 0, key, value)
}

// AppendBatchOpExpiring appends a put of key to value, as an operation of
// a batch, that expires at expiry (Unix nanoseconds; 0: never).
func AppendBatchOpExpiring(dst, key, value []byte, expiry int64) []byte {
	return appendRecordFlags(dst, KindPut, FlagBatchOp, 0, expiry, key, value)
}

// AppendBatchOpCodec appends a put of key to value, encoded by the value
// codec codec, as an operation of a batch that expires at expiry (0:
// never).
func AppendBatchOpCodec(dst, key, value []byte, codec uint8, expiry int64) []byte {
	return appendRecordFlags(dst, KindPut, FlagBatchOp, codec, expiry, key, value)
}

// SealBatch fills in the value length and the checksum of the batch record
// rec, which starts with AppendBatchHeader's header and ends with its last
// operation.
func SealBatch(rec []byte) {
	binary.LittleEndian.PutUint32(rec[offValueLen:], uint32(len(rec)-RecordHeaderSize))
	binary.LittleEndian.PutUint32(rec[offCRC:], Checksum(rec[4:]))
}

// errBadOp stops ForEachOp at an operation that does not decode.
var errBadOp = errors.New("walfmt: malformed batch operation")

// ForEachOp calls fn with each operation of the batch record rec, in order,
// until fn returns an error, which it returns. Each operation's Offset is its
// offset in the log (rec.Offset plus its place in the record), and its Key,
// Value and Raw alias rec's. A record the Reader or Decode returned has been
// checked: its operations decode. For any other, an operation that does not
// gives an error wrapping ErrCorrupt.
func ForEachOp(rec Record, fn func(op Record) error) error {
	return walkOps(rec, true, func(op *Record) error { return fn(*op) })
}

// ForEachSealedOp is ForEachOp for a batch record whose checksum is known
// to hold: one that Decode or the Reader returned, which checked it, or
// one the caller built and sealed itself. The batch's checksum covers its
// operations, so their own checksums are not computed again; their fields
// are checked as ForEachOp checks them. It hands fn the same *Record each
// time, valid only during the call. A writer applies each batch it
// appends this way, where copying each operation out and checksumming it
// again cost a tenth of a small put.
func ForEachSealedOp(rec Record, fn func(op *Record) error) error {
	return walkOps(rec, false, fn)
}

// walkOps is ForEachOp, verifying each operation's checksum if verify.
func walkOps(rec Record, verify bool, fn func(op *Record) error) error {
	b := rec.Value
	var op Record
	for p := 0; p < len(b); {
		if reason := decodeOp(b[p:], verify, &op); reason != "" {
			return &CorruptionError{Offset: rec.Offset + RecordHeaderSize + int64(p), Reason: reason}
		}
		op.Offset = rec.Offset + RecordHeaderSize + int64(p)
		if err := fn(&op); err != nil {
			return err
		}
		p += op.Size
	}
	return nil
}

// decodeOp decodes the operation at the start of b into op, checking its
// lengths against b and, if verify, its checksum.
func decodeOp(b []byte, verify bool, op *Record) string {
	if len(b) < RecordHeaderSize {
		return "incomplete batch operation"
	}
	h, reason := parseFields(b, FlagBatchOp|FlagExpiry)
	switch {
	case reason != "":
		return reason
	case h.flags&FlagBatchOp == 0:
		return "batch operation without its flag"
	case h.kind == KindBatch:
		return "batch inside a batch"
	case h.keyLen == 0:
		return "key length out of range"
	case h.size() > len(b):
		return "batch operation extends past its batch"
	}
	b = b[:h.size()]
	if verify && Checksum(b[4:]) != h.crc {
		return "checksum mismatch"
	}
	fill(b, h, op)
	return ""
}

// checkBatch checks that the value of a batch record is one or more
// operations, back to back, that fill it exactly.
func checkBatch(ops []byte) string {
	if len(ops) == 0 {
		return "empty batch"
	}
	err := ForEachOp(Record{Value: ops}, func(Record) error { return nil })
	var ce *CorruptionError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	if err != nil {
		return errBadOp.Error()
	}
	return ""
}
