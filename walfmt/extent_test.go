package walfmt

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestRecordExtent checks RecordExtent against Extent: on records of every
// kind, and on headers with their fields changed one or two at a time, it
// accepts exactly the puts and tombstones outside batches that Extent
// accepts, with the same kind and size, and finds their keys.
func TestRecordExtent(t *testing.T) {
	key, value := []byte("key-1"), bytes.Repeat([]byte{'v'}, 40)
	var records [][]byte
	records = append(records,
		AppendPut(nil, key, value),
		AppendPut(nil, key, nil),
		AppendPutExpiring(nil, key, value, 12345),
		AppendPutCodec(nil, key, value, 1, 0),
		AppendPutCodec(nil, key, value, 2, 99),
		AppendDelete(nil, key),
		AppendBatchOp(nil, KindPut, key, value),
		AppendBatchOp(nil, KindDelete, key, nil),
	)
	batch := AppendBatchHeader(nil)
	batch = AppendBatchOp(batch, KindPut, key, value)
	SealBatch(batch)
	records = append(records, batch)
	for i, rec := range records {
		kind, size, reason := Extent(rec)
		k, n, keyOff, keyLen, ok := RecordExtent(rec)
		outside := reason == "" && kind != KindBatch && rec[offFlags]&FlagBatchOp == 0
		switch {
		case ok != outside:
			t.Errorf("record %d (kind %d, flags %#x): RecordExtent ok = %v, want %v", i, kind, rec[offFlags], ok, outside)
		case ok && (k != kind || n != size || n != len(rec)):
			t.Errorf("record %d: RecordExtent gives kind %d, size %d; Extent %d, %d; the record is %d bytes", i, k, n, kind, size, len(rec))
		case ok && !bytes.Equal(rec[keyOff:keyOff+keyLen], key):
			t.Errorf("record %d: RecordExtent's key is %q, want %q", i, rec[keyOff:keyOff+keyLen], key)
		}
	}

	// Headers with fields set to values at and around every limit.
	u32s := []uint32{0, 1, 2, MaxKeyLen - 1, MaxKeyLen, MaxKeyLen + 1, MaxValueLen - 1, MaxValueLen, MaxValueLen + 1, 1<<31 - 1, 1 << 31, 1<<32 - 1}
	bytesOf := []byte{0, 1, 2, 3, 4, 5, 0x7f, 0x80, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 200_000 {
		h := bytes.Clone(records[rng.IntN(len(records))][:RecordHeaderSize])
		for range 1 + rng.IntN(2) {
			switch rng.IntN(6) {
			case 0:
				h[offKind] = bytesOf[rng.IntN(len(bytesOf))]
			case 1:
				h[offFlags] = bytesOf[rng.IntN(len(bytesOf))]
			case 2:
				h[offCodec] = bytesOf[rng.IntN(len(bytesOf))]
			case 3:
				h[offReserved] = bytesOf[rng.IntN(len(bytesOf))]
			case 4:
				binary.LittleEndian.PutUint32(h[offKeyLen:], u32s[rng.IntN(len(u32s))])
			case 5:
				binary.LittleEndian.PutUint32(h[offValueLen:], u32s[rng.IntN(len(u32s))])
			}
		}
		kind, size, reason := Extent(h)
		k, n, keyOff, keyLen, ok := RecordExtent(h)
		outside := reason == "" && kind != KindBatch && h[offFlags]&FlagBatchOp == 0
		if ok != outside || ok && (k != kind || n != size || keyOff+keyLen > n) {
			t.Fatalf("header % x: RecordExtent = %d, %d, %d, %d, %v; Extent = %d, %d, %q", h, k, n, keyOff, keyLen, ok, kind, size, reason)
		}
		if ok {
			accepted++
		}
	}
	if accepted == 0 {
		t.Fatal("no changed header was accepted: the comparison tested only refusals")
	}
}
