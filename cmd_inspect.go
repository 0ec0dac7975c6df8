package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/crabkv/crabkv/tui"
)

// runInspector is what crabkv does when no verb is given: it opens the
// terminal inspector on the data directory. args may hold --read-only.
func runInspector(e *env, args []string) int {
	fs := flag.NewFlagSet("crabkv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	readOnly := fs.Bool("read-only", false, "open the store read-only; editing is disabled")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printToolUsage(e.stdout)
			return exitOK
		}
		return e.usageError(fmt.Sprintf("crabkv: %v", err), printToolUsage)
	}
	if fs.NArg() > 0 {
		return e.usageError(fmt.Sprintf("crabkv: unexpected argument %q", fs.Arg(0)), printToolUsage)
	}
	return inspect(e, *readOnly)
}

// inspect opens the store and runs the inspector on it. The store is opened
// before the screen is taken over, so that a locked or damaged directory is
// reported on stderr at once.
func inspect(e *env, readOnly bool) int {
	if !e.stdoutTTY {
		return e.fail(errors.New("the inspector needs a terminal; for scripts use a verb (crabkv help)"))
	}
	db, err := e.open(readOnly)
	if err != nil {
		return e.fail(err)
	}
	if err := tui.Run(db, tui.Config{ReadOnly: readOnly}); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("inspector: %w", err)))
	}
	return e.closeDB(db, exitOK)
}
