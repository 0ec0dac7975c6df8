package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/crabkv/crabkv/kv"
)

// exitDamaged is verify's status for a log with damage: a miss of sorts, not
// an error, so scripts can tell "damaged" from "could not check".
const exitDamaged = 1

var verifyVerb = verb{
	name:    "verify",
	args:    "",
	summary: "check every record of the log against its checksum",
	help: `
Verify reads the whole log and checks every record against its checksum,
without changing anything. It prints the number of records, keys and bytes,
then one line for each damaged span: its offset, its size, and what is wrong.

A torn tail — an incomplete last record, the trace of a crash during a
write, with nothing valid after it or only records a crash during a group
commit can have left within 1 MiB of it — is harmless: the next write cuts
it. A corrupt span has valid records further after it; the store will not
open until "crabkv repair" salvages them.

Verify takes no lock: it runs beside readers and beside a program that has
the store open for writing, and checks the log as it stands. Beside a
writer, an incomplete last record is most likely one being written: verify
says so and does not count it as damage.

Verify also decodes every value stored compressed. A value that does not
decode (one compressed with a zstd dictionary, in a store copied without
its wal.zdict, say) sits in a valid record: the status is "undecodable
values", each is listed with its offset and why, and repair cannot mend
it.

Exit status: 0 when every byte of the log is a valid record and every
value decodes, 1 when damage or a value that does not decode was found, 2
when the log could not be checked.

With --json the report is one JSON object (fields in the README).`,
	run: runVerify,
}

func runVerify(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	asJSON := jsonFlag(fs)
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	if err := existingDir(e.dataDir()); err != nil {
		return e.fail(err)
	}
	holder, writing, _ := kv.LockHolder(e.dataDir())
	rep, err := kv.Verify(e.dataDir())
	if err != nil {
		return e.fail(explainOpenError(e.dataDir(), err))
	}
	out := formatVerify(&rep)
	if *asJSON {
		out = verifyJSON(&rep)
	}
	if _, err := io.WriteString(e.stdout, out); err != nil {
		return e.fail(fmt.Errorf("write report: %w", err))
	}
	// The diagnoses below are best effort: the exit code carries the verdict.
	switch {
	case len(rep.BadValues) > 0:
		_, _ = fmt.Fprintf(e.stderr, "crabkv: %s has %d values that do not decode; %s\n",
			rep.Path, len(rep.BadValues), undecodableAdvice(e.dataDir(), badValueReasons(rep.BadValues)))
		return exitDamaged
	case rep.Corrupt():
		_, _ = fmt.Fprintf(e.stderr, "crabkv: %s is corrupt; run 'crabkv repair' to salvage the valid records\n", rep.Path)
		return exitDamaged
	case !rep.Clean() && writing:
		_, _ = fmt.Fprintf(e.stderr, "crabkv: %s ends in an incomplete record; %s has the store open and is probably writing it\n", rep.Path, holder)
	case !rep.Clean():
		_, _ = fmt.Fprintf(e.stderr, "crabkv: %s ends in a torn record, probably from a crash; the next write cuts it\n", rep.Path)
		return exitDamaged
	}
	return exitOK
}

// badValueReasons joins the reasons why values do not decode, each once.
func badValueReasons(bad []kv.BadValue) string {
	seen := make(map[string]bool)
	var reasons []string
	for _, bv := range bad {
		if !seen[bv.Reason] {
			seen[bv.Reason] = true
			reasons = append(reasons, bv.Reason)
		}
	}
	return strings.Join(reasons, "; ")
}

// formatVerify renders a verify report: a status line, the counts, and a
// line per damaged span.
func formatVerify(r *kv.VerifyReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", r.Path, verifyStatus(r))
	if r.Batches > 0 {
		fmt.Fprintf(&b, "records: %d (%d puts, %d deletes; %d batches hold some of them)\n", r.Records, r.Puts, r.Deletes, r.Batches)
	} else {
		fmt.Fprintf(&b, "records: %d (%d puts, %d deletes)\n", r.Records, r.Puts, r.Deletes)
	}
	fmt.Fprintf(&b, "keys: %d\n", r.Keys)
	if r.Expiring > 0 {
		fmt.Fprintf(&b, "expiring keys: %d, counted above whether or not they have expired (verify reads no clock; stats counts the keys alive)\n", r.Expiring)
	}
	fmt.Fprintf(&b, "log: %s\n", humanBytes(r.LogBytes))
	fmt.Fprintf(&b, "live: %s\n", humanBytes(r.LiveBytes))
	fmt.Fprintf(&b, "stale: %s\n", humanBytes(r.StaleBytes))
	if r.Encoded > 0 {
		fmt.Fprintf(&b, "encoded values: %d, decoded and checked\n", r.Encoded)
	}
	for _, s := range r.Damage {
		fmt.Fprintln(&b, formatSpan(spanKind(s), s))
	}
	for _, bv := range r.BadValues {
		fmt.Fprintf(&b, "value of the record at offset %d does not decode: %s\n", bv.Offset, bv.Reason)
	}
	return b.String()
}

// verifyReportJSON is the --json form of a verify report.
type verifyReportJSON struct {
	Path       string     `json:"path"`
	Status     string     `json:"status"` // "ok", "torn tail", "corrupt" or "undecodable values"
	Records    int        `json:"records"`
	Puts       int        `json:"puts"`
	Deletes    int        `json:"deletes"`
	Batches    int        `json:"batches,omitempty"` // batch records; puts and deletes count their operations
	Keys       int        `json:"keys"`
	LogBytes   int64      `json:"log_bytes"`
	LiveBytes  int64      `json:"live_bytes"`
	StaleBytes int64      `json:"stale_bytes"`
	Damage     []spanJSON `json:"damage"`
	// Values of valid records that do not decode (a zstd-dict store
	// without its wal.zdict, say); added after damage, as new fields are.
	Undecodable []badValueJSON `json:"undecodable_values"`
}

type badValueJSON struct {
	Offset int64  `json:"offset"`
	Reason string `json:"reason"`
}

type spanJSON struct {
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Torn   bool   `json:"torn"`
	Reason string `json:"reason"`
}

func verifyJSON(r *kv.VerifyReport) string {
	out := verifyReportJSON{
		Path: r.Path, Status: verifyStatus(r), Records: r.Records, Puts: r.Puts, Deletes: r.Deletes, Batches: r.Batches,
		Keys: r.Keys, LogBytes: r.LogBytes, LiveBytes: r.LiveBytes, StaleBytes: r.StaleBytes,
		Damage: []spanJSON{}, Undecodable: []badValueJSON{},
	}
	for _, s := range r.Damage {
		out.Damage = append(out.Damage, spanJSON{Offset: s.Offset, Length: s.Length, Torn: s.Torn, Reason: s.Reason})
	}
	for _, bv := range r.BadValues {
		out.Undecodable = append(out.Undecodable, badValueJSON{Offset: bv.Offset, Reason: bv.Reason})
	}
	return string(marshalJSON(out)) + "\n"
}

// verifyStatus sums up a report in a word or two: the worst it found.
func verifyStatus(r *kv.VerifyReport) string {
	switch {
	case r.Corrupt():
		return "corrupt"
	case len(r.BadValues) > 0:
		return "undecodable values"
	case !r.Clean():
		return "torn tail"
	}
	return "ok"
}

// spanKind names a damaged span for a person.
func spanKind(s kv.Span) string {
	if s.Torn {
		return "torn tail"
	}
	return "corrupt"
}

// formatSpan renders one damaged span on a line starting with label.
func formatSpan(label string, s kv.Span) string {
	return fmt.Sprintf("%s: offset %d, %s: %s", label, s.Offset, humanBytes(s.Length), s.Reason)
}
