package kv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

var jsonDoc = []byte(strings.Repeat(`{"id":42,"name":"Ada Lovelace","email":"ada@example.com","roles":["admin","dev"]}`, 12))

// FuzzDecodeValue feeds arbitrary stored values, under each codec, to the
// decode path of a read: through a record with a sound checksum in a log
// that Open accepts, so only the codec stands between the bytes and Get.
// Get must return an error naming the file and offset, or the bytes, and
// never panic or allocate by a length it has not checked.
func FuzzDecodeValue(f *testing.F) {
	f.Add(uint8(1), S2.Encode(nil, jsonDoc))
	f.Add(uint8(2), Zstd.Encode(nil, jsonDoc))
	f.Add(uint8(1), []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0})
	f.Add(uint8(2), []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0xff})
	f.Add(uint8(3), ZstdDict.Encode(nil, jsonDoc))
	f.Add(uint8(3), unknownDictFrame())
	f.Add(uint8(77), []byte("x"))
	f.Fuzz(func(t *testing.T, id uint8, stored []byte) {
		if len(stored) > 1<<16 {
			return
		}
		out, derr := decodeValue(nil, id, stored)
		if derr == nil && len(out) > walfmt.MaxValueLen {
			t.Fatalf("decoded %d bytes", len(out))
		}
		if id == 0 {
			return
		}
		dir := t.TempDir()
		log := walfmt.AppendPutCodec(walfmt.AppendHeader(nil), []byte("k"), stored, id, 0)
		if err := os.WriteFile(filepath.Join(dir, logName), log, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := Open(dir, &Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		got, gerr := db.Get([]byte("k"))
		switch {
		case derr == nil && (gerr != nil || !bytes.Equal(got, out)):
			t.Fatalf("Get = %q, %v; decode gave %q", got, gerr, out)
		case derr != nil && (gerr == nil || !strings.Contains(gerr.Error(), filepath.Join(dir, logName)) || !strings.Contains(gerr.Error(), "offset 64")):
			t.Fatalf("Get of a value that does not decode: %v", gerr)
		}
	})
}

// The registry refuses reserved and taken IDs, and an unknown ID reads as
// an error that names it.
func TestCodecRegistry(t *testing.T) {
	if err := RegisterCodec(fakeCodec{id: 3}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("RegisterCodec of a reserved ID: %v", err)
	}
	if err := RegisterCodec(fakeCodec{id: 200}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // the table is the program's: leave it as found
		codecs.Lock()
		codecs.byID[200] = nil
		codecs.Unlock()
	})
	if err := RegisterCodec(fakeCodec{id: 200}); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("RegisterCodec of a taken ID: %v", err)
	}
	_, err := decodeValue(nil, 99, []byte("x"))
	if !errors.Is(err, ErrUnknownCodec) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("unknown codec: %v", err)
	}
	if _, err := Open(t.TempDir(), &Options{Codec: fakeCodec{id: 201}}); err == nil {
		t.Fatal("Open took a codec that is not registered")
	}
}

// fakeCodec reverses its input: enough to tell encoded from raw.
type fakeCodec struct{ id uint8 }

func (c fakeCodec) ID() uint8                          { return c.id }
func (c fakeCodec) Name() string                       { return "reverse" }
func (c fakeCodec) DecodedLen(src []byte) (int, error) { return len(src), nil }
func (c fakeCodec) Encode(dst, src []byte) []byte {
	for i := len(src) - 1; i >= 0; i-- {
		dst = append(dst, src[i])
	}
	return dst
}
func (c fakeCodec) Decode(dst, src []byte) ([]byte, error) { return c.Encode(dst, src), nil }

// Values stored encoded cost the expiry table no entry: their growth is
// read from the log when they are replaced. The logical sizes agree
// however the store was opened.
func TestEncodedGrowthWithoutEntries(t *testing.T) {
	dir := t.TempDir()
	opts := *manualPolicy
	opts.Codec = S2
	db, err := Open(dir, &opts)
	if err != nil {
		t.Fatal(err)
	}
	doc := jsonDoc[:800]
	grow := int64(len(doc) - len(S2.Encode(nil, doc)))
	for i := range 100 {
		if err := db.Put([]byte{'k', byte(i)}, doc); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 { // replaced by raw values, then deleted
		if err := db.Put([]byte{'k', byte(i)}, []byte("raw")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 30; i < 40; i++ {
		if err := db.Delete([]byte{'k', byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	st := db.Stats()
	if n := db.mu.c.exp.len() + len(db.mu.c.exp.byOff); n != 0 {
		t.Fatalf("%d table entries for values that do not expire", n)
	}
	if st.LogicalLiveBytes-st.LiveBytes != 60*grow || st.LogicalStaleBytes-st.StaleBytes != 40*grow {
		t.Fatalf("growth live %d, stale %d; want %d and %d", st.LogicalLiveBytes-st.LiveBytes, st.LogicalStaleBytes-st.StaleBytes, 60*grow, 40*grow)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, hint := range []bool{true, false} {
		if !hint {
			if err := os.Remove(filepath.Join(dir, hintName)); err != nil {
				t.Fatal(err)
			}
		}
		db, err := Open(dir, &opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := db.Stats(); got.LogicalLiveBytes != st.LogicalLiveBytes || got.LogicalStaleBytes != st.LogicalStaleBytes || (db.hintCovered != 0) != hint {
			t.Fatalf("hint %v: %+v, want %+v", hint, got, st)
		}
		if err := db.Put([]byte{'k', 99}, []byte("raw")); err != nil { // replaces an encoded value
			t.Fatal(err)
		}
		got := db.Stats()
		if got.LogicalLiveBytes-got.LiveBytes != 59*grow {
			t.Fatalf("hint %v: live growth %d after an overwrite, want %d", hint, got.LogicalLiveBytes-got.LiveBytes, 59*grow)
		}
		if err := db.Delete([]byte{'k', 99}); err != nil {
			t.Fatal(err)
		}
		if err := db.Put([]byte{'k', 99}, doc); err != nil {
			t.Fatal(err)
		}
		st = db.Stats() // what the next Open must find
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
