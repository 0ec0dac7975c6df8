package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// testEnv is an env whose streams are buffers and whose data directory is a
// fresh temporary one.
type testEnv struct {
	env
	out, errOut bytes.Buffer
	vars        map[string]string
}

func newTestEnv(tb testing.TB) *testEnv {
	tb.Helper()
	te := &testEnv{vars: map[string]string{dataDirEnv: tb.TempDir()}}
	te.stdin = strings.NewReader("")
	te.stdout = &te.out
	te.stderr = &te.errOut
	te.getenv = func(k string) string { return te.vars[k] }
	return te
}

// run runs crabkv with args, clearing the buffers first, and returns the exit code.
func (te *testEnv) run(args ...string) int {
	te.out.Reset()
	te.errOut.Reset()
	te.dir = ""
	return run(args, &te.env)
}

// mustRun runs crabkv and fails the test unless it exits with want.
func (te *testEnv) mustRun(tb testing.TB, want int, args ...string) {
	tb.Helper()
	if got := te.run(args...); got != want {
		tb.Fatalf("crabkv %q exited %d, want %d\nstdout: %q\nstderr: %q", args, got, want, te.out.String(), te.errOut.String())
	}
}

func TestRunExitCodes(t *testing.T) {
	te := newTestEnv(t)
	te.mustRun(t, exitOK, "put", "k", "v")
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{[]string{"get", "k"}, exitOK, "v", ""},
		{[]string{"get", "missing"}, exitNotFound, "", `crabkv: key "missing" not found`},
		{[]string{"get"}, exitError, "", "crabkv get: not enough arguments"},
		{[]string{"put", "a"}, exitError, "", "not enough arguments"},
		{[]string{"delete", "a", "b"}, exitError, "", "too many arguments"},
		{[]string{"nope"}, exitError, "", `unknown verb "nope"`},
		{[]string{"put", "", "v"}, exitError, "", "crabkv: the key is empty"},
		{[]string{"delete", "missing"}, exitOK, "", ""},
		{[]string{"help", "get"}, exitOK, "Usage: crabkv get [flags] <key>\n", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code := te.run(tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, te.errOut.String())
			}
			if !strings.HasPrefix(te.out.String(), tt.stdout) || (tt.stdout == "" && te.out.Len() > 0) {
				t.Errorf("stdout %q, want it to start with %q", te.out.String(), tt.stdout)
			}
			if !strings.Contains(te.errOut.String(), tt.stderrPart) || (tt.stderrPart == "" && te.errOut.Len() > 0) {
				t.Errorf("stderr %q, want it to contain %q", te.errOut.String(), tt.stderrPart)
			}
		})
	}
}

// TestTerminalEscaping checks that a terminal gets escaped keys and values
// while a pipe gets their exact bytes.
func TestTerminalEscaping(t *testing.T) {
	te := newTestEnv(t)
	const key, value = "k\x1b]0;pwned\a", "\x1b[2Jcleared"
	te.mustRun(t, exitOK, "put", key, value)

	te.stdoutTTY = false
	te.mustRun(t, exitOK, "get", key)
	if got := te.out.String(); got != value {
		t.Errorf("get on a pipe = %q, want %q", got, value)
	}
	te.mustRun(t, exitOK, "keys")
	if got := te.out.String(); got != key+"\n" {
		t.Errorf("keys on a pipe = %q, want %q", got, key+"\n")
	}

	te.stdoutTTY = true
	te.mustRun(t, exitOK, "get", key)
	if got, want := te.out.String(), `"\x1b[2Jcleared"`+"\n"; got != want {
		t.Errorf("get on a terminal = %q, want %q", got, want)
	}
	te.mustRun(t, exitOK, "keys")
	if got, want := te.out.String(), `"k\x1b]0;pwned\a"`+"\n"; got != want {
		t.Errorf("keys on a terminal = %q, want %q", got, want)
	}

	// Invisible characters are escaped as the inspector escapes them, and
	// a printable key that looks like a literal is quoted to tell them apart.
	for key, want := range map[string]string{
		"zero\u200bwidth": `"zero\u200bwidth"`,
		"nul\x00":         `"nul\x00"`,
		`"quoted"`:        `"\"quoted\""`,
		"plain":           "plain",
	} {
		te.mustRun(t, exitOK, "put", key, "v")
		te.mustRun(t, exitOK, "keys", key)
		if got := te.out.String(); got != want+"\n" {
			t.Errorf("keys %q on a terminal = %q, want %q", key, got, want+"\n")
		}
	}
}

// TestKeysNulOnTerminalEscapes checks that keys -0 on a terminal does not
// write a stored escape sequence to it raw.
func TestKeysNulOnTerminalEscapes(t *testing.T) {
	te := newTestEnv(t)
	const key = "k\x1b]0;pwned\a"
	te.mustRun(t, exitOK, "put", key, "v")
	te.stdoutTTY = true
	te.mustRun(t, exitOK, "keys", "-0")
	if strings.Contains(te.out.String(), "\x1b") {
		t.Errorf("keys -0 on a terminal wrote %q: the escape sequence reaches the terminal", te.out.String())
	}
}

func TestDataDirResolution(t *testing.T) {
	te := newTestEnv(t)
	envDir, flagDir := te.vars[dataDirEnv], t.TempDir()
	te.mustRun(t, exitOK, "put", "k", "env")
	te.mustRun(t, exitOK, "--dir", flagDir, "put", "k", "flag")
	if _, err := os.Stat(filepath.Join(envDir, "wal.log")); err != nil {
		t.Errorf("$%s was not used: %v", dataDirEnv, err)
	}
	te.mustRun(t, exitOK, "get", "--dir", flagDir, "k")
	if te.out.String() != "flag" {
		t.Errorf("--dir after the verb read %q, want flag", te.out.String())
	}

	delete(te.vars, dataDirEnv)
	if got := (&env{getenv: te.getenv}).dataDir(); got != defaultDataDir {
		t.Errorf("dataDir with nothing set = %q, want %q", got, defaultDataDir)
	}
}

// TestEmptyDirFlagIsNotIgnored checks that an explicitly empty --dir (as
// a script's --dir "$STORE" gives when STORE is unset) does not silently
// fall back to $CRABKV_DATA_DIR or ./data and write there.
func TestEmptyDirFlagIsNotIgnored(t *testing.T) {
	te := newTestEnv(t)
	envDir := te.vars[dataDirEnv]
	for _, args := range [][]string{
		{"--dir", "", "put", "k", "v"},
		{"--dir=", "put", "k", "v"},
		{"put", "--dir", "", "k", "v"},
		{"put", "k", "v", "--dir="},
		{"import", "--dir", ""},
		{"--dir", ""}, // the inspector
		{"--dir", "", "--read-only"},
		{"get", "k", "--dir", ""},
	} {
		code := te.run(args...)
		if _, err := os.Stat(filepath.Join(envDir, "wal.log")); err == nil {
			t.Fatalf("crabkv %q wrote to $%s (%s); stderr %q", args, dataDirEnv, envDir, te.errOut.String())
		}
		if code != exitError || !strings.Contains(te.errOut.String(), "empty directory name") {
			t.Errorf("crabkv %q exited %d, stderr %q; want %d and \"empty directory name\"", args, code, te.errOut.String(), exitError)
		}
	}
}

func TestPutStdinLimit(t *testing.T) {
	te := newTestEnv(t)
	te.stdin = bytes.NewReader(make([]byte, kv.DefaultMaxValueSize+1))
	te.mustRun(t, exitError, "put", "big", "-")
	if !strings.Contains(te.errOut.String(), "over the limit") {
		t.Errorf("stderr %q does not explain the limit", te.errOut.String())
	}
	te.stdin = bytes.NewReader(make([]byte, kv.DefaultMaxValueSize))
	te.mustRun(t, exitOK, "put", "big", "-")
}

// TestCorruptRecordNeverTruncated flips each byte of a record in the middle
// of the log in turn. Whatever the byte (checksum, kind, a length, key or
// value), the CLI must refuse with exit 2 and leave the file alone: a damaged
// length that makes the record look like a torn tail must not lead to the
// records after it being cut away.
func TestCorruptRecordNeverTruncated(t *testing.T) {
	te := newTestEnv(t)
	dir := te.vars[dataDirEnv]
	for _, k := range []string{"a", "b", "c", "d"} {
		te.mustRun(t, exitOK, "put", k, "value-"+k)
	}
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// More valid data after b than a crash can leave after a damaged
	// record: damage in b is corruption, not a torn tail.
	if err := db.Put([]byte("pad"), make([]byte, walfmt.SyncWindow+1)); err != nil {
		t.Fatal(err)
	}
	ent, err := db.Entry([]byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Without the index hint, Open reads the whole log: the damage stops
	// it, rather than the first read of b.
	if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "wal.log")
	orig, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for off := ent.Offset; off < ent.Offset+int64(ent.RecordSize); off++ {
		for _, verb := range [][]string{{"get", "d"}, {"put", "e", "v"}} {
			bad := bytes.Clone(orig)
			bad[off] ^= 0xff
			if err := os.WriteFile(log, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			if code := te.run(verb...); code != exitError {
				t.Errorf("byte %d flipped: crabkv %s exited %d, want %d (stderr %q)", off, verb[0], code, exitError, te.errOut.String())
			}
			if now, err := os.ReadFile(log); err != nil || !bytes.Equal(now, bad) {
				t.Errorf("byte %d flipped: crabkv %s changed the log (%d bytes, was %d)", off, verb[0], len(now), len(bad))
			}
		}
	}
}

// TestReadOnlyInspectorNeedsAStore checks that the read-only inspector, a
// reader, fails on a directory that does not exist and creates nothing.
func TestReadOnlyInspectorNeedsAStore(t *testing.T) {
	te := newTestEnv(t)
	te.stdoutTTY = true
	missing := filepath.Join(t.TempDir(), "nowhere")
	te.mustRun(t, exitError, "--dir", missing, "--read-only")
	if !strings.Contains(te.errOut.String(), "does not exist") {
		t.Errorf("stderr %q", te.errOut.String())
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("%s was created", missing)
	}
}

// TestReadVerbsBesideAWriter runs the read verbs while a program holds the
// store open for writing: they answer from the log as it stands, and a
// write verb is refused with an error that names the program.
func TestReadVerbsBesideAWriter(t *testing.T) {
	te := newTestEnv(t)
	dir := te.vars[dataDirEnv]
	w, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Put([]byte("k"), []byte("live")); err != nil {
		t.Fatal(err)
	}
	te.mustRun(t, exitOK, "get", "k")
	if te.out.String() != "live" {
		t.Errorf("get: %q", te.out.String())
	}
	te.mustRun(t, exitOK, "keys")
	if te.out.String() != "k\n" {
		t.Errorf("keys: %q", te.out.String())
	}
	te.mustRun(t, exitOK, "stats")
	if want := "writer: pid " + strconv.Itoa(os.Getpid()); !strings.Contains(te.out.String(), want) {
		t.Errorf("stats beside a writer: %q does not name it (%s)", te.out.String(), want)
	}
	te.mustRun(t, exitOK, "stats", "--json")
	if want := `"writer":"pid ` + strconv.Itoa(os.Getpid()); !strings.Contains(te.out.String(), want) {
		t.Errorf("stats --json beside a writer: %q does not name it (%s)", te.out.String(), want)
	}
	te.mustRun(t, exitOK, "verify")
	te.mustRun(t, exitError, "put", "k", "v")
	if want := "pid " + strconv.Itoa(os.Getpid()); !strings.Contains(te.errOut.String(), want) {
		t.Errorf("put beside a writer: stderr %q does not name %s", te.errOut.String(), want)
	}
}

// TestStatsReplayed checks that stats tells how much of the log lies past
// the hint, which a crash would make the next open replay: nothing for a
// store closed cleanly, the records a writer has appended since.
func TestStatsReplayed(t *testing.T) {
	te := newTestEnv(t)
	dir := te.vars[dataDirEnv]
	te.mustRun(t, exitOK, "put", "a", "1")
	te.mustRun(t, exitOK, "put", "b", "2")
	replayed := func() (int64, int64) {
		t.Helper()
		te.mustRun(t, exitOK, "stats", "--json")
		var got struct {
			Log      int64  `json:"log_bytes"`
			Replayed *int64 `json:"replayed_bytes"`
		}
		if err := json.Unmarshal(te.out.Bytes(), &got); err != nil || got.Replayed == nil {
			t.Fatalf("stats --json: %q (%v): no replayed_bytes", te.out.String(), err)
		}
		return *got.Replayed, got.Log
	}
	if n, _ := replayed(); n != 0 {
		t.Errorf("closed store: replayed_bytes %d, want 0", n)
	}
	te.mustRun(t, exitOK, "stats")
	if want := "past the hint: 0 B, 0.0% of the log"; !strings.Contains(te.out.String(), want) {
		t.Errorf("stats of a closed store: %q lacks %q", te.out.String(), want)
	}
	w, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	before := w.Stats().LogBytes
	if err := w.Put([]byte("c"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	appended := w.Stats().LogBytes - before
	if n, log := replayed(); n != appended || n >= log {
		t.Errorf("beside a writer that appended %d bytes: replayed_bytes %d of a %d-byte log", appended, n, log)
	}
}

// TestStatsJSONExpiryFields checks that stats --json gives the expiry
// fields together, as the plain stats gives its two lines: once keys
// expire, each is there, 0 included, and none before.
func TestStatsJSONExpiryFields(t *testing.T) {
	te := newTestEnv(t)
	fields := func() map[string]any {
		t.Helper()
		te.mustRun(t, exitOK, "stats", "--json")
		var got map[string]any
		if err := json.Unmarshal(te.out.Bytes(), &got); err != nil {
			t.Fatalf("stats --json printed %q: %v", te.out.String(), err)
		}
		return got
	}
	names := []string{"expiring_keys", "expired_keys", "expired_bytes"}
	te.mustRun(t, exitOK, "put", "plain", "v")
	for _, name := range names {
		if _, ok := fields()[name]; ok {
			t.Errorf("stats --json of a store whose keys never expire has %q: %s", name, te.out.String())
		}
	}

	te.mustRun(t, exitOK, "put", "--ttl", "1h", "later", "v")
	got := fields()
	for _, name := range names {
		if _, ok := got[name]; !ok {
			t.Errorf("stats --json with a key that expires, none expired, lacks %q: %s", name, te.out.String())
		}
	}

	te.mustRun(t, exitOK, "put", "--ttl", "1ms", "soon", "v")
	time.Sleep(20 * time.Millisecond)
	got = fields()
	for name, want := range map[string]float64{"expiring_keys": 1, "expired_keys": 1} {
		if got[name] != want {
			t.Errorf("stats --json: %q is %v, want %v: %s", name, got[name], want, te.out.String())
		}
	}

	te.mustRun(t, exitOK, "delete", "later")
	got = fields()
	for _, name := range names {
		if _, ok := got[name]; !ok {
			t.Errorf("stats --json with an expired key and none expiring lacks %q: %s", name, te.out.String())
		}
	}
	if got["expiring_keys"] != float64(0) {
		t.Errorf("stats --json: expiring_keys is %v, want 0: %s", got["expiring_keys"], te.out.String())
	}
}
