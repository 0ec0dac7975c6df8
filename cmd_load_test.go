package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
