package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/crabkv/crabkv/kv"
)

var putVerb = verb{
	name:    "put",
	args:    "<key> <value|-> | -",
	summary: "store a value; - reads it, or many pairs, from standard input",
	writes:  true,
	help: `
Put stores value under key, replacing any earlier value. The write is synced
to disk before crabkv exits. A value of "-" is read from standard input,
byte for byte, so binary data and files can be stored:

  crabkv put photo - < photo.jpg

To store the literal value "-", pipe it in: printf - | crabkv put key -
Keys that start with "-" must come after "--": crabkv put -- -key value
With --quoted the key is a Go string literal, as crabkv shows a key that is
not printable on a terminal: crabkv put --quoted '"bin\xff\x00"' value
With --ttl the key expires after that long: crabkv put --ttl 90s session v
With --codec s2 or zstd the value is stored compressed when that saves an
eighth of it; every read gives back the original bytes.

Given "-" alone, put stores many pairs read from standard input, one a line:
the key, a tab, then the value, which runs to the end of the line (tabs
included; the newline is not part of it). Blank lines are skipped:

  printf 'user:1\talice\nuser:2\tbob\n' | crabkv put -

With --quoted, the key and the value on each line are both Go string
literals, separated by a tab, so that any bytes can be given:

  printf '"bin\\xff"\t"two\\nlines"\n' | crabkv put --quoted -

The pairs are committed in atomic batches (--batch, default 10000 lines),
each synced once, and put prints how many keys it stored (on a terminal,
with its progress shown on one line as it goes). A malformed line
stops it with an error that names the line; the batches before it are
stored, and nothing of the batch it belongs to. With --ttl every key read
expires that long after its line is read; --codec applies to every value.
For keys and values as export writes them, expiries included, use import.`,
	run: runPut,
}

func runPut(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	codecName := codecFlag(fs)
	ttl := fs.Duration("ttl", 0, "expire the key (with -, every key) after this long (90s, 10m, 1h30m); 0: never")
	batch := batchFlag(fs)
	args, code, ok := e.parse(v, fs, args, 1, 2)
	if !ok {
		return code
	}
	if len(args) == 1 && args[0] != "-" {
		return e.usageError("crabkv put: not enough arguments (give a value, or \"-\" alone to read pairs from standard input)",
			func(w io.Writer) { _, _ = fmt.Fprintf(w, "%s\nRun 'crabkv help put' for details.\n", synopsis(v)) })
	}
	if *ttl < 0 {
		return e.fail(fmt.Errorf("--ttl %s: must be positive", *ttl))
	}
	c, err := codecNamed(*codecName)
	if err != nil {
		return e.fail(err)
	}
	if len(args) == 1 {
		return putLines(e, &kv.Options{Codec: c}, *quoted, *batch, *ttl)
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	value := []byte(args[1])
	if args[1] == "-" {
		if value, err = readValue(e.stdin); err != nil {
			return e.fail(err)
		}
	}
	db, err := e.openWith(&kv.Options{Codec: c})
	if err != nil {
		return e.fail(err)
	}
	if *ttl > 0 {
		err = db.PutTTL(key, value, *ttl)
	} else {
		err = db.Put(key, value)
	}
	if err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}

// putLines implements "put -": it stores the pairs of standard input in
// a store opened with opts, each expiring ttl after its line is read when
// ttl is positive.
func putLines(e *env, opts *kv.Options, quoted bool, batch int, ttl time.Duration) int {
	if err := checkBatchFlag(batch); err != nil {
		return e.fail(err)
	}
	parse := parsePutLine
	if quoted {
		parse = parseQuotedPutLine
	}
	db, err := e.openWith(opts)
	if err != nil {
		return e.fail(err)
	}
	meter := newLoadMeter(e.stdout, e.stdoutTTY)
	n, err := loadLines(db, e.stdin, batch, ttl, parse, meter.progress())
	meter.clear()
	if err != nil {
		// Best effort: the error itself is reported just below.
		_, _ = fmt.Fprintf(e.stderr, "crabkv put: stored %d keys from standard input before the error\n", n)
		return e.closeDB(db, e.fail(err))
	}
	if _, err := fmt.Fprintf(e.stdout, "stored %d keys\n", n); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write: %w", err)))
	}
	return e.closeDB(db, exitOK)
}

// parsePutLine decodes a line of "put -": the key, a tab, the value. A
// line gives no expiry. An empty line is blank; a line of spaces and tabs
// is a pair.
func parsePutLine(line []byte) (key, value []byte, expires time.Time, err error) {
	if emptyLine(line) {
		return nil, nil, time.Time{}, errBlankLine
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	key, value, ok := bytes.Cut(line, []byte("\t"))
	if !ok {
		return nil, nil, time.Time{}, errors.New("no tab between the key and the value")
	}
	return key, value, time.Time{}, nil
}

// parseQuotedPutLine decodes a line of "put --quoted -": the key and the
// value as Go string literals, with a tab between them, the line ending in
// LF or CRLF. A line gives no expiry. An empty line is blank.
func parseQuotedPutLine(line []byte) (key, value []byte, expires time.Time, err error) {
	if emptyLine(line) {
		return nil, nil, time.Time{}, errBlankLine
	}
	// A CR before the newline ends the line too (CRLF): outside the
	// quotes, it can belong to no key or value.
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	k, err := unquotePrefix(line, "key")
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	rest, ok := bytes.CutPrefix(line[len(k.lit):], []byte("\t"))
	if !ok {
		return nil, nil, time.Time{}, errors.New("no tab after the quoted key")
	}
	v, err := unquotePrefix(rest, "value")
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	if len(v.lit) != len(rest) {
		return nil, nil, time.Time{}, errors.New("more after the quoted value")
	}
	return []byte(k.s), []byte(v.s), time.Time{}, nil
}

// emptyLine reports whether line holds nothing but its end: "\n" or
// "\r\n" (no pair is a carriage return alone).
func emptyLine(line []byte) bool {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return len(line) == 0 || len(line) == 1 && line[0] == '\r'
}

// quoted is a Go string literal and the string it spells.
type quoted struct{ lit, s string }

// unquotePrefix reads the double-quoted Go string literal that b starts
// with; what names it in an error.
func unquotePrefix(b []byte, what string) (quoted, error) {
	if len(b) == 0 || b[0] != '"' {
		return quoted{}, fmt.Errorf("the %s is not a quoted Go string", what)
	}
	lit, err := strconv.QuotedPrefix(string(b))
	if err != nil {
		return quoted{}, fmt.Errorf("the %s is not a quoted Go string", what)
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		return quoted{}, fmt.Errorf("the %s is not a quoted Go string: %w", what, err)
	}
	return quoted{lit, s}, nil
}

// readValue reads a value from r. It stops one byte past the size limit so
// that piping in a huge file fails fast instead of filling memory first.
func readValue(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, kv.DefaultMaxValueSize+1))
	if err != nil {
		return nil, fmt.Errorf("read value from standard input: %w", err)
	}
	if len(b) > kv.DefaultMaxValueSize {
		return nil, sentence(kv.ErrValueTooLarge, "the value on standard input is over the limit of %d bytes",
			kv.DefaultMaxValueSize)
	}
	return b, nil
}
