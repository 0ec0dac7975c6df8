package main

import (
	"fmt"
	"strings"

	"github.com/crabkv/crabkv/kv"
)

var statsVerb = verb{
	name:    "stats",
	args:    "",
	summary: "show the number of keys and how much of the log is stale",
	help: `
Stats prints one "name: value" line each for the number of keys, the size of
the log, the bytes held by live records, the bytes held by superseded records
and tombstones (stale, with its share of the log), the number of
compactions run since the store was opened, and the memory the index takes. Stale bytes are what "crabkv
compact" would reclaim.`,
	run: runStats,
}

func runStats(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	db, err := e.open(true)
	if err != nil {
		return e.fail(err)
	}
	if _, err := fmt.Fprint(e.stdout, formatStats(db.Stats())); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write stats: %w", err)))
	}
	return e.closeDB(db, exitOK)
}

// formatStats renders s as "name: value" lines.
func formatStats(s kv.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "keys: %d\n", s.Keys)
	fmt.Fprintf(&b, "log: %s\n", humanBytes(s.LogBytes))
	fmt.Fprintf(&b, "live: %s\n", humanBytes(s.LiveBytes))
	fmt.Fprintf(&b, "stale: %s, %.1f%% of the log\n", humanBytes(s.StaleBytes), percent(s.StaleBytes, s.LogBytes))
	fmt.Fprintf(&b, "compactions: %d\n", s.Compactions)
	fmt.Fprintf(&b, "index memory: %s\n", humanBytes(s.IndexBytes))
	return b.String()
}
