package cluster

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestCommandRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ops  []Op
	}{
		{"put", []Op{Put([]byte("k"), []byte("v"))}},
		{"empty value", []Op{Put([]byte("k"), nil)}},
		{"delete", []Op{Delete([]byte("k"))}},
		{"binary", []Op{Put([]byte{0, 0xff, '\r', '\n'}, []byte{0, 1, 2, 0xfe})}},
		{"expiry", []Op{{Kind: OpPutExpiry, Key: []byte("k"), Value: []byte("v"), Expiry: -1 << 62}}},
		{"batch", []Op{Put([]byte("a"), []byte("1")), Delete([]byte("b")), Put([]byte("a"), bytes.Repeat([]byte("x"), 300))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := appendCommand([]byte("prefix"), tt.ops)
			if !bytes.HasPrefix(enc, []byte("prefix")) {
				t.Fatal("appendCommand lost the caller's bytes")
			}
			got, err := decodeCommand(enc[len("prefix"):])
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.ops) {
				t.Fatalf("decoded %d ops, want %d", len(got), len(tt.ops))
			}
			for i := range got {
				want := tt.ops[i]
				if want.Value == nil && want.Kind != OpDelete {
					want.Value = []byte{}
				}
				if got[i].Kind != want.Kind || !bytes.Equal(got[i].Key, want.Key) ||
					!bytes.Equal(got[i].Value, want.Value) || got[i].Expiry != want.Expiry {
					t.Errorf("op %d: got %+v, want %+v", i, got[i], want)
				}
			}
		})
	}
}

// Every truncated prefix and every flipped byte of a command is refused,
// never decoded into other writes.
func TestCommandDamage(t *testing.T) {
	enc := appendCommand(nil, []Op{Put([]byte("key"), []byte("value")), Delete([]byte("gone"))})
	for n := range len(enc) {
		if _, err := decodeCommand(enc[:n]); !errors.Is(err, ErrBadCommand) {
			t.Errorf("prefix of %d bytes: err = %v, want ErrBadCommand", n, err)
		}
	}
	for i := range enc {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(enc)
			b[i] ^= bit
			if _, err := decodeCommand(b); !errors.Is(err, ErrBadCommand) {
				t.Errorf("byte %d flipped by %#x: err = %v, want ErrBadCommand", i, bit, err)
			}
		}
	}
}

// A well-checksummed command whose lengths lie is refused before anything
// is sliced.
func TestCommandLyingLengths(t *testing.T) {
	tests := map[string][]byte{
		"no ops":         {commandVersionPlain, 0},
		"too many ops":   {commandVersionPlain, 0xff, 0xff, 0xff, 0x7f, byte(OpDelete), 1, 'k'},
		"key past end":   {commandVersionPlain, 1, byte(OpDelete), 9, 'k'},
		"value past end": {commandVersionPlain, 1, byte(OpPut), 1, 'k', 9, 'v'},
		"unknown kind":   {commandVersionPlain, 1, 9, 1, 'k'},
		"version":        {commandVersionExpiry + 1, 1, byte(OpDelete), 1, 'k'},
		"trailing bytes": {commandVersionPlain, 1, byte(OpDelete), 1, 'k', 0},
		"expiry cut":     {commandVersionPlain, 1, byte(OpPutExpiry), 1, 'k', 1, 'v', 0, 0},
	}
	for name, body := range tests {
		b := appendCRC(body)
		if _, err := decodeCommand(b); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%s: err = %v, want ErrBadCommand", name, err)
		}
	}
}

func appendCRC(body []byte) []byte {
	return appendChecksum(bytes.Clone(body))
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(appendCommand(nil, []Op{Put([]byte("k"), []byte("v")), Delete([]byte("d"))}))
	f.Add(appendCommand(nil, []Op{{Kind: OpPutExpiry, Key: []byte("k"), Value: []byte("v"), Expiry: 7}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := decodeCommand(b)
		if err != nil {
			return
		}
		again, err := decodeCommand(appendCommand(nil, ops))
		if err != nil || !reflect.DeepEqual(normalize(again), normalize(ops)) {
			t.Fatalf("re-encoding changed the command: %v", err)
		}
	})
}

func normalize(ops []Op) []Op {
	out := make([]Op, len(ops))
	for i, op := range ops {
		out[i] = Op{Kind: op.Kind, Key: bytes.Clone(op.Key), Value: bytes.Clone(op.Value), Expiry: op.Expiry}
		if out[i].Value == nil {
			out[i].Value = []byte{}
		}
	}
	return out
}

// TestPutExpiresAtPastTheLastInstant: an expiry after 2262-04-11 wrapped
// through time.UnixNano into the past or into 2077; it is the last instant
// an expiry holds.
func TestPutExpiresAtPastTheLastInstant(t *testing.T) {
	for _, at := range []time.Time{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if op := PutExpiresAt([]byte("k"), []byte("v"), at); op.Expiry != math.MaxInt64 {
			t.Errorf("PutExpiresAt(%s).Expiry = %d (%s), want %d", at, op.Expiry, time.Unix(0, op.Expiry).UTC(), int64(math.MaxInt64))
		}
	}
}
