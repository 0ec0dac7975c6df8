package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

// Import stores each line's expiry: a key whose expires_at is ahead keeps
// it exactly, one whose expires_at has passed is absent, a key without
// one never expires; and the parser's reused buffers do not leak one
// line's bytes into another's value across batches.
func TestImportLinesExpiry(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	db, err := kv.Open(t.TempDir(), &kv.Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ahead := now.Add(time.Hour)
	bin := func(b byte, n int) []byte { return append(bytes.Repeat([]byte{0xff}, n), b) }
	var in []byte
	in = ndjson.AppendPair(in, []byte("plain"), []byte("v"))
	in = ndjson.AppendExpiresAt(ndjson.AppendPair(in, []byte("later"), bin('a', 40)), ahead)
	in = ndjson.AppendExpiresAt(ndjson.AppendPair(in, []byte("gone"), bin('b', 30)), now.Add(-time.Millisecond))
	in = ndjson.AppendPair(in, []byte("bin"), bin('c', 3))
	in = append(in, `{"key":"spaced", "value":"json path", "expires_at": `+
		`1800000060000}`+"\n"...)
	var p ndjson.Parser
	n, err := loadLines(db, bytes.NewReader(in), 2, 0, p.Parse, nil)
	if err != nil || n != 5 {
		t.Fatalf("loadLines = %d, %v; want 5, nil", n, err)
	}
	for _, tc := range []struct {
		key   string
		value []byte
		exp   time.Time // zero: none
	}{
		{"plain", []byte("v"), time.Time{}},
		{"later", bin('a', 40), ahead},
		{"bin", bin('c', 3), time.Time{}},
		{"spaced", []byte("json path"), now.Add(time.Minute)},
	} {
		v, err := db.Get([]byte(tc.key))
		if err != nil || !bytes.Equal(v, tc.value) {
			t.Errorf("%s: got %q, %v; want %q", tc.key, v, err, tc.value)
		}
		exp, err := db.ExpiresAt([]byte(tc.key))
		if err != nil || !exp.Equal(tc.exp) {
			t.Errorf("%s: expires %v, %v; want %v", tc.key, exp, err, tc.exp)
		}
	}
	if _, err := db.Get([]byte("gone")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("gone: %v, want not found: its expiry had passed", err)
	}
}

// A line with an expiry that is not after 1970 stops the import with the
// line's number and stores nothing of its batch.
func TestImportLinesBadExpiry(t *testing.T) {
	db, err := kv.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := `{"key":"a","value":"1"}` + "\n" +
		`{"key":"b","value":"2"}` + "\n" +
		`{"key":"c","value":"3"}` + "\n" +
		`{"key":"d","value":"4","expires_at":0}` + "\n"
	var p ndjson.Parser
	n, err := loadLines(db, strings.NewReader(in), 2, 0, p.Parse, nil)
	if n != 2 || err == nil || !strings.Contains(err.Error(), "line 4: expires_at 0: not a time after 1970") {
		t.Fatalf("loadLines = %d, %v; want 2 and an error naming line 4's expires_at", n, err)
	}
	if _, err := db.Get([]byte("c")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("c: %v; want not found, as it shares a batch with the bad line", err)
	}
}
