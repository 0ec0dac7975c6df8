package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/crabkv/crabkv/internal/escape"
	"github.com/crabkv/crabkv/kv"
)

var deleteVerb = verb{
	name:    "delete",
	args:    "<key> | --prefix P",
	summary: "remove a key, or every key with a prefix",
	writes:  true,
	help: `
Delete removes key and its value. Deleting a key that is not there is not an
error. The deletion is synced to disk before crabkv exits; the space the old
value used is reclaimed by the next compaction.

With --prefix P it removes every key that starts with P (every key, for an
empty P), in atomic batches of 1000 keys, and prints how many it removed.
On a terminal it asks first; elsewhere it refuses unless --yes is given.

With --quoted the key (or prefix) is a Go string literal, as crabkv shows a
key that is not printable on a terminal: crabkv delete --quoted '"bin\xff\x00"'`,
	run: runDelete,
}

// deleteChunk is how many keys delete --prefix removes in one batch.
const deleteChunk = 1000

func runDelete(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	var prefixArg *string
	fs.Func("prefix", "remove every key that starts with `P`", func(s string) error {
		prefixArg = &s
		return nil
	})
	yes := fs.Bool("yes", false, "with --prefix: do not ask, even where no one can answer")
	min, max := 1, 1
	if hasFlag(args, "prefix") {
		min, max = 0, 0
	}
	args, code, ok := e.parse(v, fs, args, min, max)
	if !ok {
		return code
	}
	if prefixArg != nil {
		prefix, code, ok := e.decodeArg(v, *prefixArg, *quoted)
		if !ok {
			return code
		}
		return deletePrefix(e, prefix, *yes)
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	if err := db.Delete(key); err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}

// hasFlag reports whether args give the flag name, before any "--".
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if !strings.HasPrefix(a, "-") {
			continue // a key, however it is spelled
		}
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// deletePrefix removes every key that starts with prefix, after asking.
func deletePrefix(e *env, prefix []byte, yes bool) int {
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	keys, damaged := db.CheckedKeys(prefix)
	if damaged != nil {
		return e.closeDB(db, e.fail(explainOpenError(e.dataDir(), damaged)))
	}
	what := fmt.Sprintf("%d keys that start with %s", len(keys), escape.Quote(string(prefix), false))
	if len(keys) > 0 && !yes {
		if !e.stdinTTY {
			return e.closeDB(db, e.fail(fmt.Errorf("refusing to delete %s without --yes (standard input is not a terminal)", what)))
		}
		// The prompt and its answer go to the terminal; if stderr is gone, the
		// answer read below decides all the same.
		_, _ = fmt.Fprintf(e.stderr, "delete %s? [y/N] ", what)
		answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			_, _ = fmt.Fprintln(e.stderr, "crabkv: nothing deleted")
			return e.closeDB(db, exitError)
		}
	}
	n, err := deleteKeys(db, keys)
	if _, werr := fmt.Fprintf(e.stdout, "deleted %d keys\n", n); werr != nil {
		err = errors.Join(err, fmt.Errorf("write: %w", werr))
	}
	if err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}

// deleteKeys deletes keys in batches of deleteChunk and returns how many
// the committed batches deleted.
func deleteKeys(db *kv.DB, keys []string) (int, error) {
	b := db.NewBatch()
	done := 0
	for len(keys) > 0 {
		chunk := keys[:min(deleteChunk, len(keys))]
		keys = keys[len(chunk):]
		b.Reset()
		for _, k := range chunk {
			b.Delete([]byte(k))
		}
		if err := db.Write(b); err != nil {
			return done, err
		}
		done += len(chunk)
	}
	return done, nil
}
