package main

import (
	"errors"
	"fmt"

	"github.com/crabkv/crabkv/tui"
)

// inspect opens the store and runs the inspector on it: what crabkv does
// when no verb is given. The store is opened before the screen is taken
// over, so that a locked, damaged or missing directory is reported on
// stderr at once; a read-only inspector, like every reader, does not create
// a missing directory.
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
