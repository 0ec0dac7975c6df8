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
	b := rec.Value
	for p := 0; p < len(b); {
		op, reason := decodeOp(b[p:])
		if reason != "" {
			return &CorruptionError{Offset: rec.Offset + RecordHeaderSize + int64(p), Reason: reason}
		}
		op.Offset = rec.Offset + RecordHeaderSize + int64(p)
		if err := fn(op); err != nil {
			return err
		}
		p += op.Size
	}
	return nil
}

// ForEachSealedOp calls fn with each operation of the batch record rec, as
// ForEachOp does, for a record whose checksum is known to hold: one that
// Decode or the Reader returned, which checked it and every operation, or
// one the caller built and sealed itself. The batch's checksum covers its
// operations, so ForEachSealedOp checks neither their checksums nor their
// fields again: it reads each operation's lengths, and stops with an error
// wrapping ErrCorrupt only where they would run past the batch. It hands
// fn the same *Record each time, valid only during the call; its Key and
// Value alias rec's, and its Raw is not set. A writer applies each batch
// it appends this way, where decoding it afresh cost as much as the
// index's update.
func ForEachSealedOp(rec Record, fn func(op *Record) error) error {
	b := rec.Value
	var op Record
	for p := 0; p < len(b); {
		q := b[p:]
		if len(q) < RecordHeaderSize {
			return &CorruptionError{Offset: rec.Offset + RecordHeaderSize + int64(p), Reason: "incomplete batch operation"}
		}
		flags := q[offFlags]
		keyLen := int(binary.LittleEndian.Uint32(q[offKeyLen:]))
		valueLen := int(binary.LittleEndian.Uint32(q[offValueLen:]))
		at := RecordHeaderSize
		op.Expiry = 0
		if flags&FlagExpiry != 0 {
			if len(q) < at+ExpirySize {
				return &CorruptionError{Offset: rec.Offset + RecordHeaderSize + int64(p), Reason: "batch operation extends past its batch"}
			}
			op.Expiry = int64(binary.LittleEndian.Uint64(q[at:]))
			at += ExpirySize
		}
		if keyLen > MaxKeyLen || valueLen > MaxValueLen || len(q)-at < keyLen+valueLen {
			return &CorruptionError{Offset: rec.Offset + RecordHeaderSize + int64(p), Reason: "batch operation extends past its batch"}
		}
		size := at + keyLen + valueLen
		op.Kind, op.Flags, op.Codec = Kind(q[offKind]), flags, q[offCodec]
		op.Key = q[at : at+keyLen : at+keyLen]
		op.Value = q[at+keyLen : size : size]
		op.Offset = rec.Offset + RecordHeaderSize + int64(p)
		op.Size = size
		if err := fn(&op); err != nil {
			return err
		}
		p += size
	}
	return nil
}

// decodeOp decodes the operation at the start of b, checking its lengths
// against b and its checksum.
func decodeOp(b []byte) (Record, string) {
	var op Record
	if len(b) < RecordHeaderSize {
		return op, "incomplete batch operation"
	}
	h, reason := parseFields(b, FlagBatchOp|FlagExpiry)
	switch {
	case reason != "":
		return op, reason
	case h.flags&FlagBatchOp == 0:
		return op, "batch operation without its flag"
	case h.kind == KindBatch:
		return op, "batch inside a batch"
	case h.keyLen == 0:
		return op, "key length out of range"
	case h.size() > len(b):
		return op, "batch operation extends past its batch"
	}
	return op, decode(b[:h.size()], h, &op)
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
