package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// dataDirEnv names the environment variable that sets the data directory when
// --dir is not given.
const dataDirEnv = "CRABKV_DATA_DIR"

// defaultDataDir is used when neither --dir nor $CRABKV_DATA_DIR is set.
const defaultDataDir = "data"

const dirFlagHelp = "data directory (default $" + dataDirEnv + ", else ./" + defaultDataDir + ")"

// env is everything a verb may touch of the outside world. Verbs take it
// instead of using package os so that tests can run them with buffers.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	// stdoutTTY reports whether stdout is a terminal. It decides whether keys
	// and values are escaped and whether compaction draws a progress bar.
	stdoutTTY bool

	// dir is the --dir flag; empty means it was not given.
	dir string
}

// verb is one subcommand.
type verb struct {
	name    string
	args    string // argument synopsis, e.g. "<key> <value|->"
	summary string // one line for the tool's usage
	help    string // paragraphs for "crabkv help <verb>"

	// run performs the verb and returns the exit code. It receives its own
	// verb so it can print its usage without referring back to a package
	// variable, which would be an initialization cycle.
	run func(e *env, v *verb, args []string) int
}

// flagSet returns a FlagSet for v that accepts --dir, so the data directory
// may also be given after the verb.
func (e *env) flagSet(v *verb) *flag.FlagSet {
	fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are reported by parse, help by printVerbUsage
	fs.StringVar(&e.dir, "dir", e.dir, dirFlagHelp)
	return fs
}

// parse parses a verb's flags and checks that it got between min and max
// positional arguments. When ok is false the verb must return code at once:
// help was shown, or the command line was wrong.
func (e *env) parse(v *verb, fs *flag.FlagSet, args []string, min, max int) (rest []string, code int, ok bool) {
	// Mistakes get the synopsis only; the full text is one command away and
	// would push the error message off a small screen.
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s\nRun 'crabkv help %s' for details.\n", synopsis(v), v.name)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printVerbUsage(e.stdout, v, fs)
			return nil, exitOK, false
		}
		return nil, e.usageError(fmt.Sprintf("crabkv %s: %v", v.name, err), usage), false
	}
	rest = fs.Args()
	switch {
	case len(rest) < min:
		return nil, e.usageError(fmt.Sprintf("crabkv %s: not enough arguments", v.name), usage), false
	case len(rest) > max:
		return nil, e.usageError(fmt.Sprintf("crabkv %s: too many arguments", v.name), usage), false
	}
	return rest, exitOK, true
}

// printVerbUsage writes the text shown by "crabkv <verb> --help".
func printVerbUsage(w io.Writer, v *verb, fs *flag.FlagSet) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s\n\nFlags:\n", synopsis(v), strings.TrimSpace(v.help))
	fs.VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		fmt.Fprintf(&b, "  %-8s %s\n", name, f.Usage)
	})
	io.WriteString(w, b.String())
}

// synopsis is v's one-line usage.
func synopsis(v *verb) string {
	return strings.TrimSpace("Usage: crabkv " + v.name + " [flags] " + v.args)
}

// usageError prints msg and the usage on stderr and returns the bad-usage exit code.
func (e *env) usageError(msg string, usage func(io.Writer)) int {
	fmt.Fprintln(e.stderr, msg)
	fmt.Fprintln(e.stderr)
	usage(e.stderr)
	return exitError
}

// fail prints err as a single "crabkv: " line on stderr and returns the error
// exit code. Multi-line messages are folded so that scripts reading stderr
// line by line see one error per failure.
func (e *env) fail(err error) int {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
	fmt.Fprintf(e.stderr, "crabkv: %s\n", msg)
	return exitError
}

// dataDir resolves the data directory: --dir, else $CRABKV_DATA_DIR, else ./data.
func (e *env) dataDir() string {
	if e.dir != "" {
		return e.dir
	}
	if d := e.getenv(dataDirEnv); d != "" {
		return d
	}
	return defaultDataDir
}

// open opens the store, creating the data directory if it is missing. It
// warns about a torn tail here rather than in the engine because only the
// CLI knows a person is watching.
func (e *env) open(readOnly bool) (*kv.DB, error) {
	dir := e.dataDir()
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	db, err := kv.Open(dir, &kv.Options{ReadOnly: readOnly})
	if err != nil {
		return nil, explainOpenError(err)
	}
	if n := db.Stats().TruncatedBytes; n > 0 {
		fmt.Fprintln(e.stderr, tornTailWarning(filepath.Join(dir, "wal.log"), n, readOnly))
	}
	return db, nil
}

// tornTailWarning describes a torn tail found at Open. A read-only open
// leaves the bytes in place (it writes nothing), so it says so rather than
// claiming they were cut.
func tornTailWarning(log string, n int64, readOnly bool) string {
	if readOnly {
		return fmt.Sprintf("crabkv: warning: %s ends in a torn (incomplete) record of %d bytes, "+
			"probably from a crash; ignored it, and the next write will cut it", log, n)
	}
	return fmt.Sprintf("crabkv: warning: %s ended in a torn (incomplete) record, "+
		"probably from a crash; cut %d bytes from its tail", log, n)
}

// ensureDir creates dir if it is missing and says plainly when the path is
// something other than a directory, which MkdirAll reports obscurely.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("data directory %s is not a directory", dir)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return nil
}

// explainOpenError adds what the user can do to the engine's error for the
// cases a person is likely to meet.
func explainOpenError(err error) error {
	switch {
	case errors.Is(err, kv.ErrLocked):
		return fmt.Errorf("%w; close the other program using it and try again", err)
	case errors.Is(err, walfmt.ErrCorrupt):
		return fmt.Errorf("%w (run 'crabkv repair' to salvage the valid records)", err)
	}
	return err
}

// checkKey rejects a key that no store can hold before the store is opened,
// so that every verb treats it alike (the engine's Get reports such a key as
// simply not found) and a mistyped command creates no data directory.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("the key is empty; keys are 1 to %d bytes: %w", kv.DefaultMaxKeySize, kv.ErrEmptyKey)
	case len(key) > kv.DefaultMaxKeySize:
		return fmt.Errorf("the key is %d bytes, over the limit of %d: %w", len(key), kv.DefaultMaxKeySize, kv.ErrKeyTooLarge)
	}
	return nil
}

// closeDB closes db and folds a close error into code: a failed close after a
// write may mean the write is not durable, so it must not exit 0.
func (e *env) closeDB(db *kv.DB, code int) int {
	if err := db.Close(); err != nil && code == exitOK {
		return e.fail(fmt.Errorf("close: %w", err))
	}
	return code
}
