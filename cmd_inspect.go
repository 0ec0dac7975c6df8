package main

import (
	"errors"
	"fmt"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/tui"
	"github.com/crabkv/crabkv/tui/remote"
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

const connectFlagHelp = "open the inspector on the crabkv server at URL (password also from $" + passwordEnv + ")"

// inspectRemote runs the inspector on the crabkv server at rawURL, as
// --connect asks. It connects before the screen is taken over, so that a
// wrong address or password is reported on stderr at once. The password
// may come from $CRABKV_PASSWORD instead of the URL, which keeps it out
// of the process list.
func inspectRemote(e *env, rawURL string, readOnly bool) int {
	if !e.stdoutTTY {
		return e.fail(errors.New("the inspector needs a terminal; for scripts use redis-cli or a verb (crabkv help)"))
	}
	s, err := remote.DialOptions(rawURL, remote.Options{Password: e.getenv(passwordEnv)})
	if err != nil {
		return e.fail(err)
	}
	code := exitOK
	if err := tui.RunStore(s, tui.Config{ReadOnly: readOnly}); err != nil {
		code = e.fail(fmt.Errorf("inspector: %w", err))
	}
	if err := s.Close(); err != nil && code == exitOK {
		code = e.fail(err)
	}
	return code
}
