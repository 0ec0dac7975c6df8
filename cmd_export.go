package main

import (
	"bufio"
	"errors"
	"fmt"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

var exportVerb = verb{
	name:    "export",
	args:    "[prefix]",
	summary: "write keys and values as NDJSON, for import",
	help: `
Export writes every key that starts with prefix (all keys if it is omitted),
in byte order, with its value, as one JSON object a line:
{"key":...,"value":...}. A key or value whose bytes are not valid UTF-8 is
given in "key_base64" or "value_base64" instead (standard base64), so that
import restores any store byte for byte. A key that expires has an
"expires_at" field too: its expiry in Unix milliseconds.

  crabkv export > dump.ndjson
  crabkv --dir copy import dump.ndjson

Export reads without a lock, beside a writer; a key deleted while it runs
is left out.`,
	run: runExport,
}

func runExport(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	args, code, ok := e.parse(v, fs, args, 0, 1)
	if !ok {
		return code
	}
	var prefix []byte
	if len(args) == 1 {
		if prefix, code, ok = e.decodeArg(v, args[0], *quoted); !ok {
			return code
		}
	}
	db, err := e.open(true)
	if err != nil {
		return e.fail(err)
	}
	w := bufio.NewWriterSize(e.stdout, 1<<20)
	keys, damaged := db.CheckedKeys(prefix)
	for _, k := range keys {
		value, at, err := readPair(db, []byte(k))
		if errors.Is(err, kv.ErrNotFound) {
			continue // deleted or expired since the keys were listed
		}
		if err != nil {
			// Keep what was exported so far; the read error is the one to report.
			_ = w.Flush()
			return e.closeDB(db, e.fail(explainOpenError(e.dataDir(), err)))
		}
		line := jsonObject(jsonField{"key", []byte(k)}, jsonField{"value", value})
		if !at.IsZero() {
			line = ndjson.AppendExpiresAt(line, at)
		}
		if _, err := w.Write(line); err != nil {
			break // standard output is gone, or full: the Flush below reports it
		}
	}
	if err := w.Flush(); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write export: %w", err)))
	}
	if damaged != nil {
		return e.closeDB(db, e.fail(explainOpenError(e.dataDir(), damaged)))
	}
	return e.closeDB(db, exitOK)
}

// exportTries is how many times export reads a key that another process
// keeps rewriting before it gives up.
const exportTries = 8

// readPair reads key's value and the expiry of the same record. Beside a
// writer, another record of key may replace the one read between the two
// reads, and a line pairing one write's value with another's expiry holds
// a state the store never held, which import would restore: so the record
// is looked up before the value is read and after, until both name the
// same one. The error wraps kv.ErrNotFound for a key deleted or expired
// meanwhile.
func readPair(db *kv.DB, key []byte) ([]byte, time.Time, error) {
	for range exportTries {
		before, err := db.Entry(key)
		if err != nil {
			return nil, time.Time{}, err
		}
		value, err := db.Get(key)
		if err != nil {
			return nil, time.Time{}, err
		}
		after, err := db.Entry(key)
		if err != nil {
			return nil, time.Time{}, err
		}
		if before.Offset == after.Offset {
			return value, after.Expires, nil
		}
	}
	return nil, time.Time{}, fmt.Errorf("%q was rewritten each of the %d times it was read: export again", key, exportTries)
}
