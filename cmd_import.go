package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
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

The lines are committed in batches (--batch, default 1000 lines): each batch
is atomic and synced once, so a crash leaves every batch whole or absent. A
malformed line stops the import with an error that names it; the batches
before it are stored, and nothing of the batch it belongs to. Import prints
how many keys it stored.`,
	run: runImport,
}

// defaultImportBatch is how many lines import commits at a time.
const defaultImportBatch = 1000

func runImport(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	codecName := codecFlag(fs)
	batch := fs.Int("batch", defaultImportBatch, "lines committed together, atomically (1 to 100000)")
	args, code, ok := e.parse(v, fs, args, 0, 1)
	if !ok {
		return code
	}
	if *batch < 1 || *batch > kv.MaxBatchOps {
		return e.fail(fmt.Errorf("--batch %d: out of range (1 to %d)", *batch, kv.MaxBatchOps))
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
	n, err := importLines(db, in, *batch)
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

// importLines stores the NDJSON lines of r in db, per batches of size
// lines, and returns how many keys the committed batches stored.
func importLines(db *kv.DB, r io.Reader, size int) (int, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	b := db.NewBatch()
	stored := 0
	commit := func() error {
		if err := db.Write(b); err != nil {
			return err
		}
		stored += b.Len()
		b.Reset()
		return nil
	}
	for line := 1; ; line++ {
		text, err := br.ReadBytes('\n')
		if len(text) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return stored, fmt.Errorf("read line %d: %w", line, err)
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		key, value, expires, perr := parseImportLine(text)
		if perr != nil {
			return stored, fmt.Errorf("line %d: %w", line, perr)
		}
		if b.Len() == size || b.Size()+walfmt.RecordSize(len(key), len(value)) > kv.MaxBatchBytes {
			if err := commit(); err != nil {
				return stored, fmt.Errorf("before line %d: %w", line, err)
			}
		}
		if expires.IsZero() {
			b.Put(key, value)
		} else {
			b.PutExpiresAt(key, value, expires)
		}
		if err := b.Err(); err != nil {
			return stored, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := commit(); err != nil {
		return stored, err
	}
	return stored, nil
}

// parseImportLine decodes one line of import's input: the key, the value
// and the expiry, the zero time for none (ndjson.ParsePair).
func parseImportLine(text []byte) (key, value []byte, expires time.Time, err error) {
	return ndjson.ParsePair(text)
}

// parsePlainLine is parseImportLine's fast path (ndjson.ParsePlain).
func parsePlainLine(text []byte) (key, value []byte, ok bool) { return ndjson.ParsePlain(text) }
