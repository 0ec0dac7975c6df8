package walfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// An expiring put carries its expiry through the Reader, Decode, Value,
// ValueBounds and AppendPlain; a put without one reads 0.
func TestExpiringPutRoundTrip(t *testing.T) {
	const at = int64(1_800_000_000_123_456_789)
	rec := AppendPutExpiring(nil, []byte("k"), []byte("value"), at)
	if len(rec) != RecordSizeExpiring(1, 5, at) || len(rec) != RecordSize(1, 5)+ExpirySize {
		t.Fatalf("record is %d bytes", len(rec))
	}
	got, err := Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got.Expiry != at || got.Flags != FlagExpiry || string(got.Key) != "k" || string(got.Value) != "value" {
		t.Fatalf("decoded %+v", got)
	}
	if v, err := Value(rec); err != nil || string(v) != "value" {
		t.Fatalf("Value = %q, %v", v, err)
	}
	vo, vl, err := ValueBounds(rec[:RecordHeaderSize])
	if err != nil || string(rec[vo:vo+vl]) != "value" {
		t.Fatalf("ValueBounds = %d, %d, %v", vo, vl, err)
	}
	if plain := AppendPlain(nil, got); !bytes.Equal(plain, rec) {
		t.Fatal("AppendPlain changed an expiring record")
	}
	if !bytes.Equal(AppendPutExpiring(nil, []byte("k"), []byte("v"), 0), AppendPut(nil, []byte("k"), []byte("v"))) {
		t.Fatal("an expiry of 0 must write a plain put")
	}
	log := append(AppendHeader(nil), rec...)
	r := NewReader(bytes.NewReader(log), int64(len(log)), "wal.log")
	if got, err := r.Next(); err != nil || got.Expiry != at {
		t.Fatalf("Next = %+v, %v", got, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("second Next: %v", err)
	}
}

// A batch's put may expire; AppendPlain copies it out of the batch with
// its expiry and without FlagBatchOp.
func TestBatchOpExpiry(t *testing.T) {
	const at = int64(42)
	b := AppendBatchHeader(nil)
	b = AppendBatchOpExpiring(b, []byte("a"), []byte("1"), at)
	b = AppendBatchOp(b, KindPut, []byte("b"), []byte("2"))
	SealBatch(b)
	rec, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var exp []int64
	var plain []byte
	if err := ForEachOp(rec, func(op Record) error {
		exp = append(exp, op.Expiry)
		plain = AppendPlain(plain, op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(exp) != 2 || exp[0] != at || exp[1] != 0 {
		t.Fatalf("expiries %v", exp)
	}
	first, err := Decode(plain[:RecordSizeExpiring(1, 1, at)])
	if err != nil || first.Expiry != at || first.Flags != FlagExpiry {
		t.Fatalf("plain copy %+v, %v", first, err)
	}
}

// A tombstone with an expiry is invalid, in the log and in a batch.
func TestTombstoneWithExpiryInvalid(t *testing.T) {
	del := AppendDelete(nil, []byte("k"))
	bad := make([]byte, 0, len(del)+ExpirySize)
	bad = append(bad, del[:RecordHeaderSize]...)
	bad[offFlags] = FlagExpiry
	bad = binary.LittleEndian.AppendUint64(bad, 7)
	bad = append(bad, 'k')
	binary.LittleEndian.PutUint32(bad, Checksum(bad[4:]))
	_, err := Decode(bad)
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Reason != "tombstone with an expiry" {
		t.Fatalf("Decode = %v", err)
	}
}

// TestExpiryOfRecord checks Expiry against the records the format writes:
// the expiry of an expiring put, inside a batch too, and 0 for a plain put,
// a tombstone and a buffer too short to hold the field.
func TestExpiryOfRecord(t *testing.T) {
	const at = int64(1_900_000_000_123_456_789)
	cases := []struct {
		name string
		rec  []byte
		want int64
	}{
		{"expiring put", AppendPutExpiring(nil, []byte("k"), []byte("v"), at), at},
		{"expiring batch op", AppendBatchOpExpiring(nil, []byte("k"), []byte("v"), at), at},
		{"put", AppendPut(nil, []byte("k"), []byte("v")), 0},
		{"tombstone", AppendDelete(nil, []byte("k")), 0},
		{"short", AppendPutExpiring(nil, []byte("k"), []byte("v"), at)[:RecordHeaderSize+ExpirySize-1], 0},
	}
	for _, c := range cases {
		if got := Expiry(c.rec); got != c.want {
			t.Errorf("%s: Expiry = %d, want %d", c.name, got, c.want)
		}
	}
}
