package walfmt

import "encoding/binary"

// Extent returns the kind and the encoded size of the record, or the
// operation of a batch, whose fixed header starts b (at least
// RecordHeaderSize bytes), from its length fields alone. The checksum is
// not verified, so the size is only as good as the header: it lets a
// reader that is told where the records it needs start step over the
// others without reading them, and check that its steps land on those
// records. A non-empty reason means the header cannot be a record's; the
// lengths are checked against the format's limits first, as everywhere.
// A batch's size is the whole batch, its operations included.
func Extent(b []byte) (kind Kind, size int, reason string) {
	h, reason := parseFields(b, knownFlags|FlagBatchOp)
	if reason == "" && h.kind != KindBatch && h.keyLen == 0 {
		reason = "key length out of range"
	}
	if reason != "" {
		return 0, 0, reason
	}
	return h.kind, h.size(), ""
}

// RecordExtent is Extent's fast path for a record that is not part of a
// batch, a put or a tombstone: from its fixed header, which starts b (at
// least RecordHeaderSize bytes), it returns the record's kind and size and
// where its key lies, keyOff bytes from the record's start and keyLen
// long. ok is false for a batch, an operation of one, and any header that
// Extent refuses: the caller then asks Extent, which says why. A copy that
// steps over millions of records spends a fraction of Extent's time here,
// which returns no reason and decodes nothing it does not need. Like
// Extent, it does not verify the checksum.
func RecordExtent(b []byte) (kind Kind, size, keyOff, keyLen int, ok bool) {
	_ = b[RecordHeaderSize-1]
	kind, flags := Kind(b[offKind]), b[offFlags]
	k := binary.LittleEndian.Uint32(b[offKeyLen:])
	v := binary.LittleEndian.Uint32(b[offValueLen:])
	switch {
	case b[offReserved] != 0, flags&^knownFlags != 0, k-1 >= MaxKeyLen, v > MaxValueLen:
		return 0, 0, 0, 0, false
	case kind == KindPut:
	case kind == KindDelete && v == 0 && flags == 0 && b[offCodec] == 0:
	default:
		return 0, 0, 0, 0, false
	}
	keyOff = RecordHeaderSize
	if flags&FlagExpiry != 0 {
		keyOff += ExpirySize
	}
	return kind, keyOff + int(k) + int(v), keyOff, int(k), true
}
