package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestMain lets the test binary act as the crabkv command, so the scripts in
// testdata/script run the real program in a separate process, with its real
// exit codes, file locks and standard streams.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"crabkv": main})
}

// TestScripts runs the end-to-end scripts in testdata/script.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			// A race-enabled binary sleeps a second at exit by default; the
			// scripts run crabkv hundreds of times.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			held := map[string]*kv.DB{}
			env.Values[heldLocksKey{}] = held
			env.Defer(func() {
				for _, db := range held {
					db.Close()
				}
			})
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":       cmdExits,
			"holdlock":    cmdHoldLock,
			"release":     cmdRelease,
			"fill":        cmdFill,
			"padlog":      cmdPadLog,
			"truncate":    cmdTruncate,
			"flipbyte":    cmdFlipByte,
			"genbinary":   cmdGenBinary,
			"setenvq":     cmdSetEnvQ,
			"servesignal": cmdServeSignal,
		},
	})
}

// heldLocksKey indexes the testscript values map holding the stores that
// holdlock keeps open, by directory.
type heldLocksKey struct{}

// cmdExits runs a command and checks its exact exit status, which "! exec"
// cannot: crabkv promises 1 for a miss and 2 for errors.
//
//	exits N program [args...]
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		got = exitErr.ExitCode()
	} else if err != nil {
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdHoldLock opens a store in the test process and keeps it open until
// release or the end of the script, so that crabkv, a separate process, finds
// the directory locked.
//
//	holdlock [-shared] dir
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	shared := len(args) == 2 && args[0] == "-shared"
	if neg || len(args) != 1 && !shared {
		ts.Fatalf("usage: holdlock [-shared] dir")
	}
	dir := args[len(args)-1]
	db, err := kv.Open(ts.MkAbs(dir), &kv.Options{ReadOnly: shared})
	ts.Check(err)
	ts.Value(heldLocksKey{}).(map[string]*kv.DB)[dir] = db
}

// cmdRelease closes a store opened by holdlock.
//
//	release dir
func cmdRelease(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: release dir")
	}
	held := ts.Value(heldLocksKey{}).(map[string]*kv.DB)
	db, ok := held[args[0]]
	if !ok {
		ts.Fatalf("release: %s is not held", args[0])
	}
	delete(held, args[0])
	ts.Check(db.Close())
}

// cmdFill stores keys k00..k(n-1) with values v00..v(n-1), giving scripts a
// log with many records without running crabkv n times.
//
//	fill dir n
func cmdFill(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: fill dir n")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	ts.Check(os.MkdirAll(ts.MkAbs(args[0]), 0o755))
	db, err := kv.Open(ts.MkAbs(args[0]), nil)
	ts.Check(err)
	for i := range n {
		ts.Check(db.Put(fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "v%02d", i)))
	}
	ts.Check(db.Close())
}

// cmdPadLog appends a put of a value larger than walfmt.SyncWindow under
// the key "pad", so that damage before it is corruption: no crash leaves
// valid records that far past a damaged one. It removes the index hint
// Close writes, so that the next Open reads the whole log and finds the
// damage a script makes, instead of leaving it to the first read.
//
//	padlog dir
func cmdPadLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: padlog dir")
	}
	db, err := kv.Open(ts.MkAbs(args[0]), nil)
	ts.Check(err)
	ts.Check(db.Put([]byte("pad"), make([]byte, walfmt.SyncWindow+1)))
	ts.Check(db.Close())
	if err := os.Remove(ts.MkAbs(args[0] + "/wal.hint")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		ts.Fatalf("padlog: %v", err)
	}
}

// cmdTruncate cuts n bytes from the end of file, as a crash in the middle of
// an append would.
//
//	truncate file n
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate file n")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), fi.Size()-n))
}

// cmdFlipByte inverts one byte of file, at offset or, with "mid", at the
// middle of the file.
//
//	flipbyte file offset|mid
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte file offset|mid")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	off := len(b) / 2
	if args[1] != "mid" {
		off, err = strconv.Atoi(args[1])
		ts.Check(err)
	}
	if off < 0 || off >= len(b) {
		ts.Fatalf("flipbyte: offset %d outside %d-byte file", off, len(b))
	}
	b[off] ^= 0xff
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// binaryValue holds every byte value, including NUL, CR, LF, ESC and bytes
// that are not valid UTF-8, so a round trip through put - and get proves the
// CLI is binary-safe.
func binaryValue() []byte {
	b := make([]byte, 0, 1024)
	for range 4 {
		for i := range 256 {
			b = append(b, byte(i))
		}
	}
	return append(b, "\r\n\x00\xff"...)
}

// cmdGenBinary writes binaryValue to file.
//
//	genbinary file
func cmdGenBinary(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: genbinary file")
	}
	b := binaryValue()
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// cmdSetEnvQ sets an environment variable to a Go-quoted string, repeated n
// times if n is given: for keys with control characters, or too long to
// write in a script.
//
//	setenvq VAR "quoted" [n]
func cmdSetEnvQ(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: setenvq VAR \"quoted\" [n]")
	}
	s, err := strconv.Unquote(args[1])
	ts.Check(err)
	n := 1
	if len(args) == 3 {
		n, err = strconv.Atoi(args[2])
		ts.Check(err)
	}
	ts.Setenv(args[0], strings.Repeat(s, n))
}
