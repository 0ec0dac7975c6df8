package walfmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
)

// batchRecord encodes a batch of the given operations.
func batchRecord(ops ...testRec) []byte {
	b := AppendBatchHeader(nil)
	for _, op := range ops {
		b = AppendBatchOp(b, op.kind, []byte(op.key), []byte(op.value))
	}
	SealBatch(b)
	return b
}

var batchOps = []testRec{
	{KindPut, "k1", "v1"},
	{KindDelete, "k0", ""},
	{KindPut, "k2", "a value \x00\xff"},
}

// readOps returns the operations of every batch in log, and the kinds of
// its records.
func readOps(t *testing.T, log []byte) ([]Kind, []testRec, []int64) {
	t.Helper()
	r := NewReader(bytes.NewReader(log), int64(len(log)), "wal.log")
	var kinds []Kind
	var ops []testRec
	var offs []int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return kinds, ops, offs
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, rec.Kind)
		if rec.Kind != KindBatch {
			continue
		}
		err = ForEachOp(rec, func(op Record) error {
			ops = append(ops, testRec{op.Kind, string(op.Key), string(op.Value)})
			offs = append(offs, op.Offset)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	log := append(buildLog(sample[0]), batchRecord(batchOps...)...)
	log = AppendPut(log, []byte("after"), []byte("x"))
	kinds, ops, offs := readOps(t, log)
	if !slices.Equal(kinds, []Kind{KindPut, KindBatch, KindPut}) {
		t.Fatalf("kinds: %v", kinds)
	}
	if fmt.Sprint(ops) != fmt.Sprint(batchOps) {
		t.Fatalf("ops: got %v, want %v", ops, batchOps)
	}
	// Each operation's offset is where its bytes are in the log, and a
	// put's bytes there are readable with Value, as through an index.
	for i, off := range offs {
		n := RecordSize(len(batchOps[i].key), len(batchOps[i].value))
		got, err := Decode(log[off : off+int64(n)])
		if err == nil {
			t.Fatalf("op %d: Decode accepted a batch operation outside its batch", i)
		}
		_ = got
		if batchOps[i].kind != KindPut {
			continue
		}
		v, err := Value(log[off : off+int64(n)])
		if err != nil || string(v) != batchOps[i].value {
			t.Fatalf("op %d: Value = %q, %v", i, v, err)
		}
	}
}

// A batch cut anywhere is a torn tail as a whole: none of its operations
// is returned, however many of them were complete.
func TestBatchTruncated(t *testing.T) {
	base := buildLog(sample[0])
	full := append(append([]byte(nil), base...), batchRecord(batchOps...)...)
	for n := len(base) + 1; n < len(full); n++ {
		recs, _, err := readAll(full[:n])
		if !errors.Is(err, ErrTornTail) {
			t.Fatalf("cut at %d: got %v, want a torn tail", n, err)
		}
		if len(recs) != 1 {
			t.Fatalf("cut at %d: %d records, want 1", n, len(recs))
		}
	}
}

// A flipped byte anywhere in a batch makes the whole batch invalid.
func TestBatchFlippedByte(t *testing.T) {
	base := buildLog(sample[0])
	full := append(append([]byte(nil), base...), batchRecord(batchOps...)...)
	for i := len(base); i < len(full); i++ {
		recs, _, err := readAll(flipByte(full, i))
		if err == io.EOF || len(recs) != 1 {
			t.Fatalf("flip at %d: %d records, %v; want the batch refused", i, len(recs), err)
		}
	}
}

// The operations inside a batch are not records of the log: a reader
// that resynchronises past damage does not land on one.
func TestBatchOpsAreNotRecords(t *testing.T) {
	op := AppendBatchOp(nil, KindPut, []byte("k"), []byte("v"))
	log := append(AppendHeader(nil), op...)
	if _, _, err := readAll(log); !errors.Is(err, ErrTornTail) {
		t.Fatalf("a batch operation alone in a log: got %v, want it invalid", err)
	}
	// Damage the batch's header: no valid record follows, though every
	// operation inside it is intact.
	log = append(AppendHeader(nil), batchRecord(batchOps...)...)
	log[HeaderSize+offReserved] = 1
	if _, _, err := readAll(log); !errors.Is(err, ErrTornTail) {
		t.Fatalf("damaged batch header: got %v, want a torn tail", err)
	}
}

func TestBatchMalformed(t *testing.T) {
	reseal := func(b []byte) []byte { SealBatch(b); return b }
	op := AppendBatchOp(nil, KindPut, []byte("k"), []byte("v"))
	plain := AppendPut(nil, []byte("k"), []byte("v"))
	tests := []struct {
		name string
		rec  []byte
	}{
		{"empty", reseal(AppendBatchHeader(nil))},
		{"plain record inside", reseal(append(AppendBatchHeader(nil), plain...))},
		{"trailing bytes", reseal(append(append(AppendBatchHeader(nil), op...), 1, 2, 3))},
		{"op cut short", reseal(append(AppendBatchHeader(nil), op[:len(op)-1]...))},
		{"batch inside a batch", reseal(append(AppendBatchHeader(nil), batchRecord(batchOps...)...))},
	}
	for _, tc := range tests {
		if _, err := Decode(tc.rec); err == nil {
			t.Errorf("%s: Decode accepted it", tc.name)
		}
	}
}
