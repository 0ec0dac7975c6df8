package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

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

Given "-" alone, put stores many pairs read from standard input, one a line:
the key, a tab, then the value, which runs to the end of the line (tabs
included; the newline is not part of it). Blank lines are skipped:

  printf 'user:1\talice\nuser:2\tbob\n' | crabkv put -

With --quoted, the key and the value on each line are both Go string
literals, separated by a tab, so that any bytes can be given:

  printf '"bin\\xff"\t"two\\nlines"\n' | crabkv put --quoted -

The pairs are committed in atomic batches (--batch, default 10000 lines),
each synced once, and put prints how many keys it stored. A malformed line
stops it with an error that names the line; the batches before it are
stored, and nothing of the batch it belongs to. For keys and values as
export writes them, use import.`,
	run: runPut,
}

func runPut(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	batch := batchFlag(fs)
	args, code, ok := e.parse(v, fs, args, 1, 2)
	if !ok {
		return code
	}
	if len(args) == 1 {
		if args[0] != "-" {
			return e.usageError("crabkv put: not enough arguments (give a value, or \"-\" alone to read pairs from standard input)",
				func(w io.Writer) { _, _ = fmt.Fprintf(w, "%s\nRun 'crabkv help put' for details.\n", synopsis(v)) })
		}
		return putLines(e, *quoted, *batch)
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	value := []byte(args[1])
	if args[1] == "-" {
		var err error
		if value, err = readValue(e.stdin); err != nil {
			return e.fail(err)
		}
	}
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	if err := db.Put(key, value); err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}

// putLines implements "put -": it stores the pairs of standard input.
func putLines(e *env, quoted bool, batch int) int {
	if err := checkBatchFlag(batch); err != nil {
		return e.fail(err)
	}
	parse := parsePutLine
	if quoted {
		parse = parseQuotedPutLine
	}
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	n, err := loadLines(db, e.stdin, batch, parse)
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

// parsePutLine decodes a line of "put -": the key, a tab, the value.
func parsePutLine(line []byte) (key, value []byte, err error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	key, value, ok := bytes.Cut(line, []byte("\t"))
	if !ok {
		return nil, nil, errors.New("no tab between the key and the value")
	}
	return key, value, nil
}

// parseQuotedPutLine decodes a line of "put --quoted -": the key and the
// value as Go string literals, with a tab between them.
func parseQuotedPutLine(line []byte) (key, value []byte, err error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	k, err := unquotePrefix(line, "key")
	if err != nil {
		return nil, nil, err
	}
	rest, ok := bytes.CutPrefix(line[len(k.lit):], []byte("\t"))
	if !ok {
		return nil, nil, errors.New("no tab after the quoted key")
	}
	v, err := unquotePrefix(rest, "value")
	if err != nil {
		return nil, nil, err
	}
	if len(v.lit) != len(rest) {
		return nil, nil, errors.New("more after the quoted value")
	}
	return []byte(k.s), []byte(v.s), nil
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
