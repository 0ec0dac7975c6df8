package walfmt

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestForEachSealedOpMatchesForEachOp builds random batches of puts,
// deletes, expiring puts and puts with a codec byte, and checks that
// ForEachSealedOp hands out the same operations as ForEachOp: kind, flags,
// codec, expiry, key, value, offset and size.
func TestForEachSealedOpMatchesForEachOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		b := AppendBatchHeader(nil)
		for range 1 + rng.IntN(20) {
			key := make([]byte, 1+rng.IntN(40))
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			value := make([]byte, rng.IntN(300))
			switch rng.IntN(4) {
			case 0:
				b = AppendBatchOp(b, KindDelete, key, nil)
			case 1:
				b = AppendBatchOpExpiring(b, key, value, rng.Int64N(1<<62)+1)
			case 2:
				b = AppendBatchOpCodec(b, key, value, uint8(1+rng.IntN(3)), 0)
			default:
				b = AppendBatchOp(b, KindPut, key, value)
			}
		}
		SealBatch(b)
		rec, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		rec.Offset = int64(1000 * round)
		var want []Record
		if err := ForEachOp(rec, func(op Record) error { want = append(want, op); return nil }); err != nil {
			t.Fatal(err)
		}
		i := 0
		err = ForEachSealedOp(rec, func(op *Record) error {
			w := want[i]
			if op.Kind != w.Kind || op.Flags != w.Flags || op.Codec != w.Codec || op.Expiry != w.Expiry ||
				string(op.Key) != string(w.Key) || string(op.Value) != string(w.Value) || op.Offset != w.Offset || op.Size != w.Size {
				t.Fatalf("round %d op %d: sealed walk gave %+v, ForEachOp %+v", round, i, *op, w)
			}
			i++
			return nil
		})
		if err != nil || i != len(want) {
			t.Fatalf("round %d: %d of %d operations, %v", round, i, len(want), err)
		}
	}
}

// TestForEachSealedOpBounds gives ForEachSealedOp batches cut short and
// bytes at random: it never reads past the batch, and reports a cut
// operation as corruption.
func TestForEachSealedOpBounds(t *testing.T) {
	b := AppendBatchHeader(nil)
	b = AppendBatchOpExpiring(b, []byte("key"), []byte("value"), 7)
	b = AppendBatchOp(b, KindPut, []byte("k2"), []byte("v2"))
	SealBatch(b)
	ops := b[RecordHeaderSize:]
	for cut := 1; cut < len(ops); cut++ {
		err := ForEachSealedOp(Record{Value: ops[:cut]}, func(*Record) error { return nil })
		if cut == len(ops)-RecordSize(2, 2) {
			if err != nil {
				t.Fatalf("cut at an operation's end: %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d of %d: %v, want corruption", cut, len(ops), err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		junk := make([]byte, rng.IntN(80))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		_ = ForEachSealedOp(Record{Value: junk}, func(op *Record) error {
			if len(op.Key)+len(op.Value) > len(junk) {
				t.Fatalf("operation of %d bytes out of %d", len(op.Key)+len(op.Value), len(junk))
			}
			return nil
		})
	}
}
