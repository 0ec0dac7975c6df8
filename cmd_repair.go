package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/crabkv/crabkv/kv"
)

var repairVerb = verb{
	name:    "repair",
	args:    "",
	summary: "salvage the valid records of a damaged log",
	writes:  true,
	help: `
Repair copies every valid record of a damaged log, in order, into a new log,
skipping each damaged span, and prints what it kept and what it lost: the
offset and size of each span dropped. A clean log is left alone.

Before changing anything it copies the damaged log to
wal.log.broken-<timestamp> beside it; the new log replaces wal.log only once
it is complete and synced, so an interrupted repair can simply be run again.

Repair cannot bring back what the damage destroyed. A key whose latest record
was in a lost span reverts to its previous value, and a key whose deletion
was lost comes back. It needs the store to itself: close every other program
using it first. Run "crabkv verify" to see the damage without changing
anything.`,
	run: runRepair,
}

func runRepair(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	rep, err := kv.Repair(e.dataDir())
	if err != nil {
		return e.fail(explainOpenError(e.dataDir(), err))
	}
	if _, err := io.WriteString(e.stdout, formatRepair(&rep)); err != nil {
		return e.fail(fmt.Errorf("write report: %w", err))
	}
	return exitOK
}

// formatRepair renders a repair report.
func formatRepair(r *kv.RepairReport) string {
	if !r.Repaired() {
		return fmt.Sprintf("%s is clean (%d records, %d keys); nothing to repair\n", r.Path, r.Salvaged, r.Keys)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "repaired %s: salvaged %d records (%d keys); lost %d %s, %s\n",
		r.Path, r.Salvaged, r.Keys, len(r.Lost), plural(len(r.Lost), "span", "spans"), humanBytes(r.LostBytes))
	for _, s := range r.Lost {
		fmt.Fprintln(&b, formatSpan("lost", s))
	}
	fmt.Fprintf(&b, "log: %s → %s\n", humanBytes(r.OldBytes), humanBytes(r.NewBytes))
	fmt.Fprintf(&b, "the damaged log is kept as %s\n", r.Backup)
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
