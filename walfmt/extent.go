package walfmt

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
