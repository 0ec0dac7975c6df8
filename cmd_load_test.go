package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// Lines longer than the reader's buffer are read whole, and batches end
// at the line count asked for.
func TestLoadLinesLong(t *testing.T) {
	db, err := kv.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	long := strings.Repeat("x", 3<<20)
	var in bytes.Buffer
	for i := range 5 {
		fmt.Fprintf(&in, "k%d\t%s%d\n", i, long, i)
	}
	n, err := loadLines(db, &in, 2, parsePutLine)
	if err != nil || n != 5 {
		t.Fatalf("loadLines = %d, %v; want 5, nil", n, err)
	}
	for i := range 5 {
		v, err := db.Get(fmt.Appendf(nil, "k%d", i))
		if err != nil || string(v) != long+fmt.Sprint(i) {
			t.Fatalf("k%d: %d bytes, %v", i, len(v), err)
		}
	}
	if st := db.Stats(); st.Keys != 5 {
		t.Fatalf("%d keys, want 5", st.Keys)
	}
}

// A batch that cannot be written stops the load, and the goroutine that
// reads ahead with it.
func TestLoadLinesWriteError(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	in := strings.Repeat("k\tv\n", 100)
	n, err := loadLines(ro, strings.NewReader(in), 3, parsePutLine)
	if n != 0 || !errors.Is(err, kv.ErrReadOnly) || !strings.Contains(err.Error(), "lines 1 to 3") {
		t.Fatalf("loadLines = %d, %v; want 0 and the read-only error for lines 1 to 3", n, err)
	}
}
