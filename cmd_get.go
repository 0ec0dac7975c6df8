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
Get prints the value stored under key, followed by a newline. If the key is
absent it prints nothing on standard output, says so on standard error and
exits with status 1.

When standard output is a terminal, a value that is not printable UTF-8 is
shown as a quoted Go string (escapes such as \x1b), so stored bytes cannot
send escape sequences to the terminal. Pipes and files get the exact bytes.`,
	run: runGet,
}

func runGet(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	args, code, ok := e.parse(v, fs, args, 1, 1)
	if !ok {
		return code
	}
	if err := checkKey(args[0]); err != nil {
		return e.fail(err)
	}
	key := []byte(args[0])
	db, err := e.open(true)
	if err != nil {
		return e.fail(err)
	}
	value, err := db.Get(key)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		fmt.Fprintf(e.stderr, "crabkv: key %s not found\n", strconv.Quote(args[0]))
		return e.closeDB(db, exitNotFound)
	case err != nil:
		return e.closeDB(db, e.fail(err))
	}
	out := append(display(value, e.stdoutTTY, true), '\n')
	if _, err := e.stdout.Write(out); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write value: %w", err)))
	}
	return e.closeDB(db, exitOK)
}
