package main

import (
	"errors"
	"fmt"

	"github.com/crabkv/crabkv/kv"
)

var demoVerb = verb{
	name:    "demo",
	args:    "",
	summary: "fill an empty store with sample data and open the inspector",
	writes:  true,
	help: `
Demo fills the data directory, if it holds no keys yet, with a sample data
set: JSON user records, text sessions, config entries, binary blobs and a
few keys holding control characters. Some values are overwritten and some
keys deleted, so that about 27% of the log is stale: below the automatic
compaction threshold, with something for a compaction to reclaim. Then it
opens the terminal inspector on the store.

--scale N multiplies the data set (1 is a few thousand keys, about 2 MiB);
--fill-only fills the store and exits without opening the inspector.`,
	run: runDemo,
}

func runDemo(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	scale := fs.Int("scale", 1, "make the sample data set `N` times larger, 1 to 1000")
	fillOnly := fs.Bool("fill-only", false, "fill the store and exit")
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	if *scale < 1 || *scale > 1000 {
		return e.fail(fmt.Errorf("demo: --scale must be between 1 and 1000, not %d", *scale))
	}
	if err := fillDemo(e, *scale); err != nil {
		return e.fail(err)
	}
	if *fillOnly {
		return exitOK
	}
	return inspect(e, false)
}

// fillDemo writes the sample data without syncing each record, which would
// make the fill take minutes, and syncs once by closing the store.
func fillDemo(e *env, scale int) error {
	dir := e.dataDir()
	if err := ensureDir(dir); err != nil {
		return err
	}
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err != nil {
		return explainOpenError(dir, err)
	}
	if err := fillDemoData(db, scale); err != nil {
		return errors.Join(err, db.Close())
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("demo: close: %w", err)
	}
	return nil
}
