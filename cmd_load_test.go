package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
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
	n, err := loadLines(db, &in, 2, 0, parsePutLine, nil)
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
	n, err := loadLines(ro, strings.NewReader(in), 3, 0, parsePutLine, nil)
	if n != 0 || !errors.Is(err, kv.ErrReadOnly) || !strings.Contains(err.Error(), "lines 1 to 3") {
		t.Fatalf("loadLines = %d, %v; want 0 and the read-only error for lines 1 to 3", n, err)
	}
}

// With a ttl, every key whose line gives no expiry expires that long
// after its line is read; a line's own expiry wins.
func TestLoadLinesTTL(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	db, err := kv.Open(t.TempDir(), &kv.Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	own := now.Add(5 * time.Minute)
	parse := func(line []byte) ([]byte, []byte, time.Time, error) {
		k, v, _, err := parsePutLine(line)
		if bytes.HasPrefix(k, []byte("own")) {
			return k, v, own, err
		}
		return k, v, time.Time{}, err
	}
	in := "a\t1\nb\t2\nown\t3\nc\t4\n"
	n, err := loadLines(db, strings.NewReader(in), 3, time.Hour, parse, nil)
	if err != nil || n != 4 {
		t.Fatalf("loadLines = %d, %v; want 4, nil", n, err)
	}
	for key, want := range map[string]time.Time{"a": now.Add(time.Hour), "b": now.Add(time.Hour), "c": now.Add(time.Hour), "own": own} {
		exp, err := db.ExpiresAt([]byte(key))
		if err != nil || !exp.Equal(want) {
			t.Errorf("%s: expires %v, %v; want %v", key, exp, err, want)
		}
	}
}

// A batch closes before the line that would take its encoding past
// kv.MaxBatchBytes, counting that line's expiry: here the last line fits
// by its record alone and overflows the batch by 4 bytes with its expiry.
func TestLoadLinesBatchBytesWithExpiry(t *testing.T) {
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Eight operations of a 2-byte key and an expiry, after the batch
	// header, take kv.MaxBatchBytes + 4 bytes.
	const lines = 8
	body := kv.MaxBatchBytes + 4 - walfmt.RecordHeaderSize
	per := body/lines - walfmt.RecordHeaderSize - 2 - walfmt.ExpirySize
	var in bytes.Buffer
	for i := range lines {
		size := per
		if i == lines-1 {
			size += body % lines
		}
		fmt.Fprintf(&in, "k%d\t%s\n", i, bytes.Repeat([]byte{'x'}, size))
	}
	n, err := loadLines(db, &in, lines, time.Hour, parsePutLine, nil)
	if err != nil || n != lines {
		t.Fatalf("loadLines = %d, %v; want %d, nil", n, err, lines)
	}
}

// On a terminal, import and put - draw their progress on one line, redrawn
// in place and cleared before the summary; elsewhere only the summary is
// printed.
func TestLoadProgressOnTerminal(t *testing.T) {
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "k%02d\tv\n", i)
	}
	te := newTestEnv(t)
	te.stdin = strings.NewReader(in.String())
	te.mustRun(t, exitOK, "put", "--batch", "10", "-")
	if got := te.out.String(); got != "stored 50 keys\n" {
		t.Fatalf("put - on a pipe printed %q", got)
	}
	te.stdoutTTY = true
	te.stdin = strings.NewReader(in.String())
	te.mustRun(t, exitOK, "put", "--batch", "10", "-")
	out := te.out.String()
	if !strings.HasPrefix(out, "\rstored 10 keys, line 10") {
		t.Fatalf("put - on a terminal starts %q, want the first batch's progress", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K"+"stored 50 keys\n") {
		t.Fatalf("put - on a terminal ends %q, want the meter cleared, then the summary", out)
	}
}

// The meter redraws at most once per step, always showing the first batch.
func TestLoadMeterThrottles(t *testing.T) {
	var b bytes.Buffer
	m := newLoadMeter(&b, true)
	now := m.start
	m.now = func() time.Time { return now }
	for i := 1; i <= 5; i++ {
		m.show(i*10, i*10)
	}
	now = now.Add(time.Second)
	m.show(60, 60)
	if got := strings.Count(b.String(), "\r"); got != 2 {
		t.Fatalf("%d redraws in %q, want 2 (the first and the one a second later)", got, b.String())
	}
	if !strings.Contains(b.String(), "stored 60 keys, line 60, 60 keys/s") {
		t.Fatalf("meter shows %q", b.String())
	}
	if newLoadMeter(&b, false).progress() != nil {
		t.Fatal("a meter off a terminal draws")
	}
}

// A line with no end in sight stops the load with an error naming it,
// once it is longer than any line of a pair the store takes can be: it
// was read whole, and `import /dev/zero` ran out of memory.
func TestLoadLinesLineTooLong(t *testing.T) {
	db, err := kv.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer func(n int) { maxLineBytes = n }(maxLineBytes)
	maxLineBytes = 4 << 20
	in := io.MultiReader(strings.NewReader("a\t1\nb\t2\n"), endless{})
	n, err := loadLines(db, in, 1, 0, parsePutLine, nil)
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("loadLines = %d, %v; want an error: line 3 is longer than the limit", n, err)
	}
	if n != 2 {
		t.Fatalf("stored %d keys, want the 2 before the long line", n)
	}
}

// endless reads as bytes without end and without a newline.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// Only an empty line is blank in `put -`: a line of spaces and tabs is a
// pair (it was skipped, with its key and value), and a line of a tab
// alone is a pair with an empty key, which is an error (it was skipped
// too). In `import`, a line of JSON's white space is blank, and one of
// other white space (a vertical tab, U+2028) is not JSON.
func TestLoadLinesBlank(t *testing.T) {
	db, err := kv.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := loadLines(db, strings.NewReader("\n \t \n\r\n\xc2\xa0\tnbsp\n\n"), 10, 0, parsePutLine, nil)
	if err != nil || n != 2 {
		t.Fatalf("put -: stored %d, %v; want 2 keys", n, err)
	}
	for key, want := range map[string]string{" ": " ", "\u00a0": "nbsp"} {
		if v, err := db.Get([]byte(key)); err != nil || string(v) != want {
			t.Errorf("put -: %q = %q, %v; want %q", key, v, err, want)
		}
	}
	if n, err := loadLines(db, strings.NewReader("a\t1\n\t\n"), 10, 0, parsePutLine, nil); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("put - of a tab alone: stored %d, %v; want an error naming line 2", n, err)
	}
	if n, err := loadLines(db, strings.NewReader("\n"+`"q"`+"\t"+`"1"`+"\n \n"), 10, 0, parseQuotedPutLine, nil); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("put --quoted - of a line of a space: stored %d, %v; want an error naming line 3", n, err)
	}
	var p ndjson.Parser
	n, err = loadLines(db, strings.NewReader("\n \t\r\n"+`{"key":"j","value":"1"}`+"\n  \n"), 10, 0, importParser(&p), nil)
	if err != nil || n != 1 {
		t.Fatalf("import: stored %d, %v; want 1 key", n, err)
	}
	for _, bad := range []string{"\v\n", "\u2028\n", "\u00a0\n"} {
		if n, err := loadLines(db, strings.NewReader("\n"+bad), 10, 0, importParser(&p), nil); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("import of %q: stored %d, %v; want an error naming line 2", bad, n, err)
		}
	}
}
