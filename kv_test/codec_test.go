package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// jsonValue is a compressible 1 KiB JSON document, like the demo's users.
func jsonValue(i int) []byte {
	b := fmt.Appendf(nil, `{"id":%d,"name":"user %d","email":"user%d@example.com","active":true,"roles":["reader","writer"],"bio":"`, i, i, i)
	for len(b) < 1000 {
		b = append(b, "likes long walks and short keys. "...)
	}
	return append(b[:1000], `"}`...)
}

// codecValues are values of every kind a codec meets: compressible,
// incompressible, and too small to try.
func codecValues() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return map[string][]byte{
		"json":   jsonValue(1),
		"big":    bytes.Repeat(jsonValue(2), 40),
		"random": random,
		"tiny":   []byte("0123456789"),
		"short":  bytes.Repeat([]byte("ab"), 60), // under 256 bytes: zstd's short frames
		"empty":  {},
	}
}

// Each codec stores compressible values encoded and the rest raw, and
// every read returns the original bytes: Get, ReadValueAt in pieces,
// after a replay, from a hint, after a compaction, and after Expire
// rewrote the record.
func TestCodecRoundTrip(t *testing.T) {
	for _, c := range []kv.Codec{kv.Raw, kv.S2, kv.Zstd} {
		t.Run(c.Name(), func(t *testing.T) {
			dir := t.TempDir()
			opts := &kv.Options{Codec: c, NoSync: true, Compaction: compact.Policy{Disabled: true}}
			db, err := kv.Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			vals := codecValues()
			for k, v := range vals {
				if err := db.Put([]byte(k), v); err != nil {
					t.Fatal(err)
				}
			}
			b := db.NewBatch()
			b.Put([]byte("batched"), jsonValue(3))
			b.PutTTL([]byte("batched-ttl"), jsonValue(4), time.Hour)
			if err := db.Write(b); err != nil {
				t.Fatal(err)
			}
			vals["batched"], vals["batched-ttl"] = jsonValue(3), jsonValue(4)
			if err := db.Expire([]byte("json"), time.Hour); err != nil {
				t.Fatal(err)
			}
			check := func(when string, db *kv.DB) kv.Stats {
				t.Helper()
				for k, v := range vals {
					got, err := db.Get([]byte(k))
					if err != nil || !bytes.Equal(got, v) {
						t.Fatalf("%s: Get(%s) = %d bytes, %v; want %d", when, k, len(got), err, len(v))
					}
					var pieces []byte
					p := make([]byte, 3333)
					for off := int64(0); ; off += int64(len(p)) {
						n, size, err := db.ReadValueAt([]byte(k), p, off)
						pieces = append(pieces, p[:n]...)
						if size != len(v) {
							t.Fatalf("%s: ReadValueAt(%s) size %d, want %d", when, k, size, len(v))
						}
						if err == io.EOF {
							break
						}
						if err != nil {
							t.Fatal(err)
						}
					}
					if !bytes.Equal(pieces, v) {
						t.Fatalf("%s: ReadValueAt(%s) in pieces differs", when, k)
					}
					var viewed, scanned []byte
					if err := db.View([]byte(k), func(b []byte) error { viewed = bytes.Clone(b); return nil }); err != nil || !bytes.Equal(viewed, v) {
						t.Fatalf("%s: View(%s) = %d bytes, %v; want %d", when, k, len(viewed), err, len(v))
					}
					end := append([]byte(k), 0)
					if err := db.Scan([]byte(k), end, func(_, b []byte) bool { scanned = bytes.Clone(b); return true }); err != nil || !bytes.Equal(scanned, v) {
						t.Fatalf("%s: Scan(%s) = %d bytes, %v; want %d", when, k, len(scanned), err, len(v))
					}
					e, err := db.Entry([]byte(k))
					if err != nil || e.ValueSize != len(v) {
						t.Fatalf("%s: Entry(%s) = %+v, %v", when, k, e, err)
					}
					wantCodec := c.Name()
					if k == "random" || k == "tiny" || k == "empty" {
						wantCodec = "raw"
					}
					if e.Codec != wantCodec || (wantCodec != "raw") != (e.StoredValueSize < e.ValueSize-e.ValueSize/8) {
						t.Fatalf("%s: Entry(%s) = %+v, want codec %s", when, k, e, wantCodec)
					}
				}
				st := checkAccounting(t, db)
				if encoded := c != kv.Raw; encoded != (st.LogicalLiveBytes > 2*st.LiveBytes) {
					t.Fatalf("%s: %+v", when, st)
				}
				return st
			}
			before := check("written", db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir, opts)
			if st := check("from the hint", db); st.LogicalLiveBytes != before.LogicalLiveBytes || st.LogicalStaleBytes != before.LogicalStaleBytes {
				t.Fatalf("from the hint: %+v, was %+v", st, before)
			}
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			if st := check("compacted", db); st.LogicalLiveBytes != before.LogicalLiveBytes || st.StaleBytes != 0 {
				t.Fatalf("compacted: %+v, was %+v", st, before)
			}
			if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			ro := *opts
			ro.ReadOnly = true
			check("replayed", openDB(t, dir, &ro))
			rep, err := kv.Verify(dir)
			if err != nil || len(rep.BadValues) != 0 || (c != kv.Raw) != (rep.Encoded == 5) {
				t.Fatalf("Verify = %+v, %v", rep, err)
			}
		})
	}
}

// A store holds values of several codecs: a change of Options.Codec needs
// no migration, and Verify decodes every encoded value.
func TestCodecChange(t *testing.T) {
	dir := t.TempDir()
	want := map[string][]byte{}
	for i, c := range []kv.Codec{kv.S2, kv.Zstd, kv.Raw, kv.S2} {
		db, err := kv.Open(dir, &kv.Options{Codec: c})
		if err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			k := fmt.Sprintf("%s-%d-%d", c.Name(), i, j)
			want[k] = jsonValue(i*10 + j)
			if err := db.Put([]byte(k), want[k]); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range want {
			if got, err := db.Get([]byte(k)); err != nil || !bytes.Equal(got, v) {
				t.Fatalf("with %s: Get(%s): %v", c.Name(), k, err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := kv.Verify(dir)
	if err != nil || len(rep.BadValues) != 0 || rep.Encoded != 15 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// A value that does not decode — a codec this program does not know, or
// encoded bytes damaged before their checksum was computed — is an error
// naming the file, the offset and the codec, for Get and ReadValueAt, and
// Verify lists it; the other keys read.
func TestCodecBadValues(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "good", "fine")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wal.log")
	log, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unknownAt := int64(len(log))
	log = walfmt.AppendPutCodec(log, []byte("unknown"), []byte("whatever"), 77, 0)
	badAt := int64(len(log))
	enc := kv.S2.Encode(nil, jsonValue(1))
	enc[len(enc)/2] ^= 0xff
	enc = append(enc[:len(enc)-5], 0xff, 0xff, 0xff, 0xff, 0xff)
	log = walfmt.AppendPutCodec(log, []byte("damaged"), enc, kv.S2.ID(), 0)
	if err := os.WriteFile(path, log, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	rep, err := kv.Verify(dir)
	if err != nil || len(rep.BadValues) != 2 || rep.BadValues[0].Offset != unknownAt || rep.BadValues[1].Offset != badAt ||
		!strings.Contains(rep.BadValues[0].Reason, "77") || !strings.Contains(rep.BadValues[1].Reason, "s2") {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	db = openDB(t, dir, nil)
	wantValue(t, db, "good", "fine")
	for key, at := range map[string]int64{"unknown": unknownAt, "damaged": badAt} {
		_, gerr := db.Get([]byte(key))
		_, _, rerr := db.ReadValueAt([]byte(key), make([]byte, 10), 0)
		for _, err := range []error{gerr, rerr} {
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", at)) {
				t.Fatalf("read of %s: %v", key, err)
			}
		}
		if key == "unknown" && !errors.Is(gerr, kv.ErrUnknownCodec) {
			t.Fatalf("read of a value of an unknown codec: %v", gerr)
		}
		if key == "damaged" && !errors.Is(gerr, walfmt.ErrCorrupt) {
			t.Fatalf("read of a damaged encoded value: %v", gerr)
		}
	}
}
