package main

import (
	"errors"
	"fmt"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/tui"
)

// inspect opens the store and runs the inspector on it: what crabkv does
// when no verb is given. The store is opened before the screen is taken
// over, so that a damaged or missing directory is reported on stderr at
// once; a read-only inspector, like every reader, does not create a
// missing directory.
//
// The inspector browses as a follower: it takes no lock, so get, keys,
// stats, verify, other inspectors and a program that writes the store all
// keep working beside it, and it shows what such a program writes as it
// writes it. It takes the write lock only for the moment one of its own
// writes takes (see tui.Config.OpenWriter).
func inspect(e *env, readOnly bool) int {
	if !e.stdoutTTY {
		return e.fail(errors.New("the inspector needs a terminal; for scripts use a verb (crabkv help)"))
	}
	dir := e.dataDir()
	if !readOnly {
		if err := ensureDir(dir); err != nil {
			return e.fail(err)
		}
	}
	db, err := e.open(true)
	if err != nil {
		return e.fail(err)
	}
	cfg := tui.Config{ReadOnly: readOnly}
	if !readOnly {
		cfg.OpenWriter = func() (*kv.DB, error) {
			w, err := kv.Open(dir, nil)
			if err != nil {
				return nil, explainOpenError(dir, err)
			}
			return w, nil
		}
	}
	if err := tui.Run(db, cfg); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("inspector: %w", err)))
	}
	return e.closeDB(db, exitOK)
}
