package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crabkv/crabkv/internal/escape"
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
	// stdinTTY reports whether stdin is a terminal: whether a person can
	// answer a question, such as delete --prefix's.
	stdinTTY bool

	// dir is the --dir flag; empty means it was not given (an empty
	// --dir is refused).
	dir string
	// readOnly is the --read-only flag: verbs that write refuse to run.
	readOnly bool

	// notifyStop returns a context that ends when serve should stop; nil
	// means on SIGINT or SIGTERM. Tests stop serve through it.
	notifyStop func(context.Context) (context.Context, context.CancelFunc)
}

// verb is one subcommand.
type verb struct {
	name    string
	args    string // argument synopsis, e.g. "<key> <value|->"
	summary string // one line for the tool's usage
	help    string // paragraphs for "crabkv help <verb>"
	writes  bool   // the verb changes the store, so --read-only forbids it

	// run performs the verb and returns the exit code. It receives its own
	// verb so it can print its usage without referring back to a package
	// variable, which would be an initialization cycle.
	run func(e *env, v *verb, args []string) int
}

// flagSet returns a FlagSet for v that accepts the tool's own flags too
// (--dir, --read-only), so they may also be given after the verb.
func (e *env) flagSet(v *verb) *flag.FlagSet {
	fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are reported by parse, help by printVerbUsage
	e.globalFlags(fs)
	return fs
}

// globalFlags defines the flags every verb accepts.
func (e *env) globalFlags(fs *flag.FlagSet) {
	fs.Var(dirFlag{&e.dir}, "dir", dirFlagHelp)
	fs.BoolVar(&e.readOnly, "read-only", e.readOnly, readOnlyFlagHelp)
}

// dirFlag is --dir. It refuses an empty name, as a script's --dir "$STORE"
// gives when STORE is unset: taken as no --dir at all, it would send the
// command to $CRABKV_DATA_DIR or ./data instead.
type dirFlag struct{ dir *string }

func (f dirFlag) String() string {
	if f.dir == nil { // the zero value, which package flag may make
		return ""
	}
	return *f.dir
}

func (f dirFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty directory name")
	}
	*f.dir = s
	return nil
}

const readOnlyFlagHelp = "refuse to write: verbs that write fail, the inspector only browses"

// parse parses a verb's flags, which may come before, between or after its
// arguments, and checks that it got between min and max positional
// arguments. When ok is false the verb must return code at once: help was
// shown, or the command line was wrong.
func (e *env) parse(v *verb, fs *flag.FlagSet, args []string, min, max int) (rest []string, code int, ok bool) {
	// Mistakes get the synopsis only; the full text is one command away and
	// would push the error message off a small screen.
	usage := func(w io.Writer) {
		// Best effort: usage goes to stderr after a mistake, or with help.
		_, _ = fmt.Fprintf(w, "%s\nRun 'crabkv help %s' for details.\n", synopsis(v), v.name)
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printVerbUsage(e.stdout, v, fs)
			return nil, exitOK, false
		}
		return nil, e.usageError(fmt.Sprintf("crabkv %s: %v", v.name, err), usage), false
	}
	switch {
	case v.writes && e.readOnly:
		return nil, e.usageError(fmt.Sprintf("crabkv %s: --read-only: %s writes to the store", v.name, v.name), usage), false
	case len(rest) < min:
		return nil, e.usageError(fmt.Sprintf("crabkv %s: not enough arguments", v.name), usage), false
	case len(rest) > max:
		return nil, e.usageError(fmt.Sprintf("crabkv %s: too many arguments", v.name), usage), false
	}
	return rest, exitOK, true
}

// parseInterspersed parses the flags in args wherever they stand and
// returns the other arguments in order. Everything after "--" is an
// argument; so is "-" on its own.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		consumed := len(args) - len(left)
		if consumed > 0 && args[consumed-1] == "--" && !flagTakesValue(fs, args, consumed-1) {
			return append(rest, left...), nil
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// flagTakesValue reports whether args[i] is the value of the flag before it
// ("--dir --"), not the end of the flags.
func flagTakesValue(fs *flag.FlagSet, args []string, i int) bool {
	if i == 0 {
		return false
	}
	prev := strings.TrimLeft(args[i-1], "-")
	if !strings.HasPrefix(args[i-1], "-") || strings.Contains(prev, "=") {
		return false
	}
	f := fs.Lookup(prev)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// printVerbUsage writes the text shown by "crabkv <verb> --help".
func printVerbUsage(w io.Writer, v *verb, fs *flag.FlagSet) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s\n\nFlags:\n", synopsis(v), strings.TrimSpace(v.help))
	writeFlags(&b, fs)
	// Help text is best effort: there is nothing to do if its reader is gone.
	_, _ = io.WriteString(w, b.String())
}

// writeFlags lists fs's flags, one a line, their descriptions aligned. A
// flag that takes a value shows a placeholder for it, the word in
// backquotes in its usage or else its name in capitals, and its default
// when that is not the zero value.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	type line struct{ name, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		placeholder, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			if !strings.Contains(f.Usage, "`") {
				placeholder = strings.ToUpper(f.Name)
			}
			name += " " + placeholder
			if f.DefValue != "" && f.DefValue != "0" {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		lines = append(lines, line{name, usage})
		width = max(width, len(name))
	})
	// w is a strings.Builder, or best-effort help output.
	for _, l := range lines {
		_, _ = fmt.Fprintf(w, "  %-*s  %s\n", width, l.name, l.usage)
	}
}

// synopsis is v's one-line usage.
func synopsis(v *verb) string {
	return strings.TrimSpace("Usage: crabkv " + v.name + " [flags] " + v.args)
}

// usageError prints msg and the usage on stderr and returns the bad-usage exit code.
func (e *env) usageError(msg string, usage func(io.Writer)) int {
	// Diagnostics on stderr are best effort: the exit code carries the failure.
	_, _ = fmt.Fprintln(e.stderr, msg)
	_, _ = fmt.Fprintln(e.stderr)
	usage(e.stderr)
	return exitError
}

// fail prints err as a single "crabkv: " line on stderr and returns the error
// exit code. Multi-line messages are folded so that scripts reading stderr
// line by line see one error per failure.
func (e *env) fail(err error) int {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
	// Best effort: the exit code reports the failure even if stderr is gone.
	_, _ = fmt.Fprintf(e.stderr, "crabkv: %s\n", msg)
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

// open opens the store. A writer creates the data directory if it is
// missing; a reader finds it missing an error, and creates nothing. A
// reader takes no lock: it reads the log as it stands, beside a program
// that has the store open for writing. It warns about a torn tail here
// rather than in the engine because only the CLI knows a person is
// watching — but not beside a writer, where the tail is most likely a
// record still being written.
func (e *env) open(readOnly bool) (*kv.DB, error) {
	return e.openWith(&kv.Options{ReadOnly: readOnly})
}

// openWith is open with engine options.
func (e *env) openWith(opts *kv.Options) (*kv.DB, error) {
	readOnly := opts.ReadOnly
	dir := e.dataDir()
	check := ensureDir
	if readOnly {
		check = existingDir
	}
	if err := check(dir); err != nil {
		return nil, err
	}
	db, err := kv.Open(dir, opts)
	if err != nil {
		return nil, explainOpenError(dir, err)
	}
	if _, writing := db.Writer(); readOnly && writing {
		return db, nil
	}
	if n := db.Stats().TruncatedBytes; n > 0 {
		// A warning only: best effort.
		_, _ = fmt.Fprintln(e.stderr, tornTailWarning(filepath.Join(dir, "wal.log"), n, readOnly))
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

// existingDir checks that dir is a directory, without creating it.
func existingDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("data directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	return nil
}

// explainOpenError adds what the user can do to the engine's error for the
// cases a person is likely to meet, and says once what the engine's error
// says twice.
func explainOpenError(dir string, err error) error {
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, kv.ErrLocked):
		return fmt.Errorf("%w; close it and try again (reading works beside it: get, keys, stats, verify, crabkv --read-only)", err)
	case undecodableValue(err):
		// The record is intact: repair would keep it as it is.
		return fmt.Errorf("%w; %s", err, undecodableAdvice(dir, err.Error()))
	case errors.Is(err, walfmt.ErrCorrupt):
		return fmt.Errorf("%w (run 'crabkv repair' to salvage the valid records)", err)
	case strings.HasPrefix(err.Error(), "kv: lock ") && errors.As(err, &pathErr):
		// The engine's "kv: lock DIR: kv: lock DIR/LOCK: open DIR/LOCK: ..."
		// names the lock three times; the path error alone says it all.
		return fmt.Errorf("cannot lock the data directory %s: %w", dir, pathErr)
	}
	return err
}

// The engine's words for a value whose record is intact but which does
// not decode (kv/codec.go), and for the store's file of zstd
// dictionaries (kv/codec_dict.go), which such an error names when the
// dictionary a value needs is not there.
const (
	undecodableWords = " value does not decode: "
	zdictFile        = "wal.zdict"
)

// undecodableValue reports whether err is a read of a value whose record
// is intact but which does not decode: not damage to the log, which
// repair, keeping intact records as they are, cannot mend.
func undecodableValue(err error) bool {
	var ce *walfmt.CorruptionError
	return errors.As(err, &ce) && strings.Contains(ce.Reason, undecodableWords)
}

// undecodableAdvice says what can be done about values of the store in
// dir that do not decode, reason being why (one of them does not).
func undecodableAdvice(dir, reason string) string {
	if !strings.Contains(reason, zdictFile) {
		return "the log itself is intact, so repair keeps such a value as it is and cannot mend it"
	}
	zdict := filepath.Join(dir, zdictFile)
	what := zdict + " lacks a dictionary"
	if _, err := os.Stat(zdict); errors.Is(err, fs.ErrNotExist) {
		what = zdict + " is missing"
	}
	return what + ": put back the one written with this log, whose zstd-dict values need its dictionaries " +
		"(a copy of a store takes both files); repair cannot restore it"
}

// checkKey rejects a key that no store can hold.
func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return sentence(kv.ErrEmptyKey, "the key is empty; keys are 1 to %d bytes", kv.DefaultMaxKeySize)
	case len(key) > kv.DefaultMaxKeySize:
		return sentence(kv.ErrKeyTooLarge, "the key is %d bytes, over the limit of %d", len(key), kv.DefaultMaxKeySize)
	}
	return nil
}

// sentenceError is an error that a sentence for a person explains fully:
// it prints only the sentence, and unwraps to the sentinel it stands for.
type sentenceError struct {
	msg string
	err error
}

func (e *sentenceError) Error() string { return e.msg }
func (e *sentenceError) Unwrap() error { return e.err }

// sentence returns a sentenceError for err, formatted as fmt.Sprintf does.
func sentence(err error, format string, args ...any) error {
	return &sentenceError{msg: fmt.Sprintf(format, args...), err: err}
}

// quotedFlag defines --quoted, for the verbs that take a key.
func quotedFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("quoted", false, `the key is a Go string literal, as a terminal shows it ("k\x1b")`)
}

// decodeArg returns the bytes a key or prefix argument stands for: the
// argument itself, or with --quoted the string literal it spells.
func (e *env) decodeArg(v *verb, arg string, quoted bool) ([]byte, int, bool) {
	if !quoted {
		return []byte(arg), exitOK, true
	}
	s, err := strconv.Unquote(arg)
	if err != nil || !strings.HasPrefix(arg, `"`) {
		// Best effort, like fail.
		_, _ = fmt.Fprintf(e.stderr, "crabkv %s: --quoted: the key is not a quoted Go string: %s\n", v.name, escape.Quote(arg, false))
		return nil, exitError, false
	}
	return []byte(s), exitOK, true
}

// keyArg is decodeArg for a key, which must also be one the store can
// hold: it is checked before the store is opened, so that every verb
// treats a bad key alike (the engine's Get reports such a key as simply not
// found) and a mistyped command creates no data directory.
func (e *env) keyArg(v *verb, arg string, quoted bool) ([]byte, int, bool) {
	key, code, ok := e.decodeArg(v, arg, quoted)
	if !ok {
		return nil, code, false
	}
	if err := checkKey(key); err != nil {
		return nil, e.fail(err), false
	}
	return key, exitOK, true
}

// closeDB closes db and folds a close error into code: a failed close after a
// write may mean the write is not durable, so it must not exit 0.
func (e *env) closeDB(db *kv.DB, code int) int {
	if err := db.Close(); err != nil && code == exitOK {
		return e.fail(fmt.Errorf("close: %w", err))
	}
	return code
}
