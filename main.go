// Command crabkv is the command-line interface to a CrabKv store. It stores,
// reads, deletes and lists keys, compacts the log, and, with no verb, opens the
// terminal inspector.
//
// This file only parses the tool's own flags and dispatches; each verb lives in
// its own cmd_<verb>.go file as a function that takes an *env and returns an
// exit code, so tests can run it in-process.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
)

// Exit codes. A miss is not an error, so scripts can tell "absent" from "broken".
const (
	exitOK       = 0
	exitNotFound = 1 // get: the key is not in the store
	exitError    = 2 // bad usage, or the store could not do what was asked
)

// verbs lists the subcommands in the order usage shows them. Adding a verb is
// one line here plus its cmd_<verb>.go file. "help" is not listed because it
// reads this list itself; run dispatches it directly.
var verbs = []*verb{
	&putVerb,
	&getVerb,
	&deleteVerb,
	&ttlVerb,
	&expireVerb,
	&persistVerb,
	&keysVerb,
	&importVerb,
	&exportVerb,
	&statsVerb,
	&compactVerb,
	&verifyVerb,
	&repairVerb,
	&serveVerb,
	&clusterVerb,
	&demoVerb,
	&versionVerb,
}

func main() {
	os.Exit(run(os.Args[1:], &env{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		getenv:    os.Getenv,
		stdoutTTY: isTerminal(os.Stdout),
		stdinTTY:  isTerminal(os.Stdin),
	}))
}

// run parses the flags that come before the verb and hands the rest to it;
// the verb parses its own, which include these.
func run(args []string, e *env) int {
	fs := flag.NewFlagSet("crabkv", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // we print our own usage, on stdout for --help and stderr for mistakes
	e.globalFlags(fs)
	version := fs.Bool("version", false, "print the version and exit")
	connect := fs.String("connect", "", connectFlagHelp)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printToolUsage(e.stdout)
			return exitOK
		}
		return e.usageError(fmt.Sprintf("crabkv: %v", err), printToolUsage)
	}
	args = fs.Args()
	switch {
	case *version:
		return e.printVersion()
	case *connect != "" && len(args) > 0:
		return e.usageError("crabkv: --connect opens the inspector on a server; it takes no verb", printToolUsage)
	case *connect != "":
		return inspectRemote(e, *connect, e.readOnly)
	case len(args) == 0:
		return inspect(e, e.readOnly)
	}
	name, args := args[0], args[1:]
	if name == "help" {
		return runHelp(e, args)
	}
	v := lookupVerb(name)
	if v == nil {
		return e.usageError(fmt.Sprintf("crabkv: unknown verb %q", name), printToolUsage)
	}
	return v.run(e, v, args)
}

// lookupVerb returns the verb called name, or nil.
func lookupVerb(name string) *verb {
	for _, v := range verbs {
		if v.name == name {
			return v
		}
	}
	return nil
}

// runHelp implements "crabkv help [verb]" by showing the same text as --help.
func runHelp(e *env, args []string) int {
	switch {
	case len(args) == 0:
		printToolUsage(e.stdout)
		return exitOK
	case len(args) > 1:
		return e.usageError("crabkv help: too many arguments", printToolUsage)
	}
	v := lookupVerb(args[0])
	if v == nil {
		return e.usageError(fmt.Sprintf("crabkv help: unknown verb %q", args[0]), printToolUsage)
	}
	return v.run(e, v, []string{"--help"})
}

// printToolUsage writes the overview shown by "crabkv --help".
func printToolUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`crabkv is a durable key-value store: an append-only, checksummed log with an
in-memory index.

Usage:
  crabkv [flags] <verb> [arguments]   flags may also follow the verb
  crabkv [--dir DIR] [--read-only]    open the terminal inspector
  crabkv --connect redis://[:PASSWORD@]HOST:PORT [--read-only]
                                      open it on a crabkv server (crabkv serve)

Verbs:
`)
	for _, v := range verbs {
		fmt.Fprintf(&b, "  %-22s %s\n", v.name+" "+v.args, v.summary)
	}
	fmt.Fprintf(&b, "  %-22s %s\n", "help [verb]", "show help for crabkv or one verb")
	b.WriteString(`
Flags:
  --dir DIR      ` + dirFlagHelp + `
  --read-only    ` + readOnlyFlagHelp + `
  --connect URL  ` + connectFlagHelp + `
  --version      print the version and exit

Verbs that take a key accept --quoted (the key as a Go string literal, as a
terminal shows it); get, keys, ttl, stats and verify accept --json.

Exit status: 0 success, 1 key not found (get) or damage found (verify), 2 error or bad usage.
Run 'crabkv help <verb>' or 'crabkv <verb> --help' for details on one verb.
`)
	// Help text is best effort: there is nothing to do if its reader is gone.
	_, _ = io.WriteString(w, b.String())
}

// isTerminal reports whether f is a terminal, including a Cygwin or MSYS one.
func isTerminal(f *os.File) bool {
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}
