package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

var importVerb = verb{
	name:    "import",
	args:    "[file|-]",
	summary: "load keys and values from NDJSON, as export writes it",
	writes:  true,
	help: `
Import reads one JSON object a line from file, or from standard input when
file is "-" or omitted, and stores each: {"key":...,"value":...}, with
"key_base64" or "value_base64" (standard base64) in place of a field whose
bytes are not valid UTF-8, and "expires_at" (Unix milliseconds) for a key
that expires — the lines export writes. A key whose expiry has passed is
stored expired: absent, as if it had expired in the store. Blank lines are
skipped.

The lines are committed in batches (--batch, default 10000 lines): each batch
is atomic and synced once, so a crash leaves every batch whole or absent. A
malformed line stops the import with an error that names it; the batches
before it are stored, and nothing of the batch it belongs to. Import prints
how many keys it stored. On a terminal it shows its progress (keys stored,
the line reached, keys a second) on one line as it goes.`,
	run: runImport,
}

func runImport(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	codecName := codecFlag(fs)
	batch := batchFlag(fs)
	args, code, ok := e.parse(v, fs, args, 0, 1)
	if !ok {
		return code
	}
	if err := checkBatchFlag(*batch); err != nil {
		return e.fail(err)
	}
	in, name := e.stdin, "standard input"
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return e.fail(err)
		}
		defer func() { _ = f.Close() }() // read-only
		in, name = f, args[0]
	}
	c, err := codecNamed(*codecName)
	if err != nil {
		return e.fail(err)
	}
	db, err := e.openWith(&kv.Options{Codec: c})
	if err != nil {
		return e.fail(err)
	}
	// One parser for every line: it reuses its buffers, and the loader
	// calls it from one goroutine.
	var p ndjson.Parser
	meter := newLoadMeter(e.stdout, e.stdoutTTY)
	n, err := loadLines(db, in, *batch, 0, importParser(&p), meter.progress())
	meter.clear()
	if err != nil {
		// Best effort: the error itself is reported just below.
		_, _ = fmt.Fprintf(e.stderr, "crabkv import: stored %d keys from %s before the error\n", n, name)
		return e.closeDB(db, e.fail(err))
	}
	if _, err := fmt.Fprintf(e.stdout, "imported %d keys\n", n); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write: %w", err)))
	}
	return e.closeDB(db, exitOK)
}

// importParser reads lines with p, and takes a line of JSON's white space
// alone (spaces, tabs, carriage returns) for a blank one. Other white
// space, such as a vertical tab or U+2028, is no JSON, and an error.
func importParser(p *ndjson.Parser) lineParser {
	return func(line []byte) (key, value []byte, expires time.Time, err error) {
		if len(bytes.Trim(line, " \t\r\n")) == 0 {
			return nil, nil, time.Time{}, errBlankLine
		}
		return p.Parse(line)
	}
}
