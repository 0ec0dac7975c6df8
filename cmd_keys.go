package main

import (
	"bufio"
	"fmt"
)

var keysVerb = verb{
	name:    "keys",
	args:    "[prefix]",
	summary: "list keys in order, optionally only those with a prefix",
	help: `
Keys prints the stored keys that start with prefix (all keys if it is
omitted), one per line, in byte order.

When standard output is a terminal, a key that is not printable UTF-8 (or
that begins with a double quote) is shown as a quoted Go string; give it
back to put, get or delete with --quoted, as it is shown. Pipes and files
get the exact bytes; use -0 to end each key with a NUL byte so that keys
containing newlines survive (for example with xargs -0). On a terminal,
keys are escaped with -0 too.

With --json each key is a JSON object on a line of its own: {"key":...},
or {"key_base64":...} for a key that is not valid UTF-8.`,
	run: runKeys,
}

func runKeys(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	nul := fs.Bool("0", false, "end each key with a NUL byte instead of a newline")
	quoted := quotedFlag(fs)
	asJSON := jsonFlag(fs)
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
	end := byte('\n')
	if *nul {
		end = 0
	}
	// bufio.Writer keeps the first write error, so the loop ignores them and
	// the Flush below reports it.
	w := bufio.NewWriter(e.stdout)
	keys, damaged := db.CheckedKeys(prefix)
	for _, k := range keys {
		if *asJSON {
			_, _ = w.Write(jsonObject(jsonField{"key", []byte(k)}))
			continue
		}
		// A terminal gets escaped keys whatever ends them: -0 chooses the
		// terminator, not whether stored bytes may reach the terminal.
		_, _ = w.Write(display([]byte(k), e.stdoutTTY, false))
		_ = w.WriteByte(end)
	}
	if err := w.Flush(); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write keys: %w", err)))
	}
	if damaged != nil {
		// The keys of the sound records are out; the damage is an error.
		return e.closeDB(db, e.fail(explainOpenError(e.dataDir(), damaged)))
	}
	return e.closeDB(db, exitOK)
}
