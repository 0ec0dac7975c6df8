package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/crabkv/crabkv/kv"
)

var getVerb = verb{
	name:    "get",
	args:    "<key>",
	summary: "print a key's value",
	help: `
Get writes the value stored under key to standard output. If the key is
absent it writes nothing on standard output, says so on standard error and
exits with status 1.

A pipe or a file gets the exact stored bytes and nothing more, so
"crabkv get photo > photo.jpg" gives back the file that was put. A terminal
gets the value followed by a newline, and a value that is not printable
UTF-8 is shown as a quoted Go string (escapes such as \x1b), so stored bytes
cannot send escape sequences to the terminal.

With --quoted the key is a Go string literal, as crabkv shows a key that is
not printable on a terminal. With --json get prints one JSON object:
{"key":...,"value":...}, where a key or value that is not valid UTF-8 comes
as "key_base64" or "value_base64" instead.`,
	run: runGet,
}

func runGet(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	asJSON := jsonFlag(fs)
	args, code, ok := e.parse(v, fs, args, 1, 1)
	if !ok {
		return code
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	db, err := e.open(true)
	if err != nil {
		return e.fail(err)
	}
	value, err := db.Get(key)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		// Best effort: the exit code says the key was not found.
		_, _ = fmt.Fprintf(e.stderr, "crabkv: key %s not found\n", strconv.Quote(string(key)))
		return e.closeDB(db, exitNotFound)
	case err != nil:
		return e.closeDB(db, e.fail(explainOpenError(e.dataDir(), err)))
	}
	var out []byte
	switch {
	case *asJSON:
		out = jsonObject(jsonField{"key", key}, jsonField{"value", value})
	case e.stdoutTTY:
		out = append(display(value, true, true), '\n')
	default:
		out = value
	}
	if _, err := e.stdout.Write(out); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write value: %w", err)))
	}
	return e.closeDB(db, exitOK)
}
