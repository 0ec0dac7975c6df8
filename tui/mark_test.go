package tui

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/crabkv/crabkv/internal/ndjson"
)

// space marks the key under the cursor and moves on; D then deletes the
// marked keys, and only them, after a question that counts them.
func TestInspectorDeletesMarkedKeys(t *testing.T) {
	db := openTestDB(t, "", "a", "1", "b", "2", "c", "3", "d", "4")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "4 keys")
	press(tm, " ")
	waitFor(t, tm, "1 marked")
	press(tm, "j", " ")
	waitFor(t, tm, "2 marked")
	press(tm, "D")
	waitFor(t, tm, "delete the 2 marked keys? y/n")
	press(tm, "n")
	waitFor(t, tm, "kept them")
	press(tm, "D")
	waitFor(t, tm, "delete the 2 marked keys? y/n")
	press(tm, "y")
	waitFor(t, tm, "deleted 2 keys")
	m := quit(t, tm)
	if keys := db.Keys(nil); !slices.Equal(keys, []string{"b", "d"}) {
		t.Errorf("keys after deleting the marked a and c: %q", keys)
	}
	if n := m.list.MarkedCount(); n != 0 {
		t.Errorf("%d keys still marked after they were deleted", n)
	}
}

// a marks every key the filter shows, u clears the marks, and the marks
// outlast the filter: D deletes them after the filter is cleared.
func TestInspectorMarksAllShown(t *testing.T) {
	db := openTestDB(t, "", "config/a", "1", "user:1", "2", "user:2", "3", "user:3", "4")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "4 keys")
	press(tm, "/")
	typeText(tm, "^user:")
	waitFor(t, tm, "3 of 4")
	press(tm, "enter", "a")
	waitFor(t, tm, "3 marked")
	press(tm, "u")
	waitFor(t, tm, "marks cleared")
	press(tm, "a", "esc")
	waitFor(t, tm, "4 keys", "3 marked")
	press(tm, "D")
	waitFor(t, tm, "delete the 3 marked keys? y/n")
	press(tm, "y")
	waitFor(t, tm, "deleted 3 keys")
	quit(t, tm)
	if keys := db.Keys(nil); !slices.Equal(keys, []string{"config/a"}) {
		t.Errorf("keys after D: %q", keys)
	}
}

// binaryPairs is a store's worth of keys and values that are not text.
func binaryPairs() []string {
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	return []string{
		"bin/\xff\x00key", string(all),
		"bin/empty", "",
		"bin/esc\x1b[2J", "line\r\nnext\ttab",
		"text", "hello, crab",
	}
}

// x exports the marked keys to the file named in its prompt, in the
// lines crabkv export writes, which import reads back byte for byte.
func TestInspectorExportsMarkedKeys(t *testing.T) {
	pairs := binaryPairs()
	db := openTestDB(t, "", pairs...)
	out := t.TempDir()
	tm := startInspector(t, db, Config{ExportDir: out}, teatest.WithInitialTermSize(200, 30)) // room for the paths
	waitFor(t, tm, "4 keys")
	press(tm, " ", " ", " ")
	waitFor(t, tm, "3 marked")
	press(tm, "x")
	waitFor(t, tm, "export 3 marked keys to")
	press(tm, "enter")
	path := filepath.Join(out, defaultExportName)
	waitFor(t, tm, "exported 3 keys to "+path)
	quit(t, tm)

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, i := range []int{2, 4, 0} { // the first three in byte order
		want = ndjson.AppendPair(want, []byte(pairs[i]), []byte(pairs[i+1]))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("exported:\n%s\nwant:\n%s", got, want)
	}
	checkImports(t, got, pairs[:6])
}

// checkImports loads lines as crabkv import parses them into a new store
// and checks that it then holds exactly pairs, byte for byte.
func checkImports(tb testing.TB, lines []byte, pairs []string) {
	tb.Helper()
	dst := openTestDB(tb, "")
	for _, line := range bytes.SplitAfter(lines, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		k, v, _, err := ndjson.ParsePair(line)
		if err != nil {
			tb.Fatalf("import %q: %v", line, err)
		}
		if err := dst.Put(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	var keys []string
	for i := 0; i < len(pairs); i += 2 {
		keys = append(keys, pairs[i])
		slices.Sort(keys)
		v, err := dst.Get([]byte(pairs[i]))
		if err != nil || string(v) != pairs[i+1] {
			tb.Errorf("imported %q = %q, %v; want %q", pairs[i], v, err, pairs[i+1])
		}
	}
	if got := dst.Keys(nil); !slices.Equal(got, keys) {
		tb.Errorf("imported keys %q, want %q", got, keys)
	}
}

// With no marks, x exports the keys the filter shows. It will not
// replace an existing file unless told to.
func TestInspectorExportsShownKeysAndAsksBeforeOverwriting(t *testing.T) {
	pairs := binaryPairs()
	db := openTestDB(t, "", pairs...)
	out := t.TempDir()
	path := filepath.Join(out, defaultExportName)
	if err := os.WriteFile(path, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tm := startInspector(t, db, Config{ExportDir: out}, teatest.WithInitialTermSize(200, 30)) // room for the paths
	waitFor(t, tm, "4 keys")
	press(tm, "/")
	typeText(tm, "^bin/")
	waitFor(t, tm, "3 of 4")
	press(tm, "enter", "x")
	waitFor(t, tm, "export the 3 keys shown to")
	press(tm, "enter")
	waitFor(t, tm, "the file exists; overwrite it? y/n")
	press(tm, "n")
	waitFor(t, tm, "not exported")
	if b, _ := os.ReadFile(path); string(b) != "precious\n" {
		t.Fatalf("the file was changed after n: %q", b)
	}

	// esc leaves the prompt without writing anything.
	press(tm, "x")
	waitFor(t, tm, "export the 3 keys shown to")
	press(tm, "esc")
	waitFor(t, tm, "export cancelled")

	// Another name: clear the default and type one.
	other := filepath.Join(out, "bin.ndjson")
	press(tm, "x")
	waitFor(t, tm, "export the 3 keys shown to")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU})
	typeText(tm, other)
	press(tm, "enter")
	waitFor(t, tm, "exported 3 keys to "+other)

	press(tm, "x", "enter")
	waitFor(t, tm, "the file exists; overwrite it? y/n")
	press(tm, "y")
	waitFor(t, tm, "exported 3 keys to "+path)
	quit(t, tm)
	for _, p := range []string{path, other} {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		checkImports(t, got, pairs[:6])
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".crabkv-export-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %q", leftovers)
	}
}

// Marks follow the store: a key deleted elsewhere loses its mark when
// the list is reloaded.
func TestKeyListMarksFollowTheSnapshot(t *testing.T) {
	l := newTestList([]string{"a", "b", "c"}, 30, 10)
	l.ToggleMark()
	if k, _ := l.Selected(); k != "b" || !l.IsMarked("a") {
		t.Fatalf("after space: cursor on %q, marked %q", k, l.Marked())
	}
	l.MarkShown()
	if got := l.Marked(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("marked %q after marking all", got)
	}
	l.ToggleMark() // b, under the cursor, unmarked
	l.SetKeys([]string{"a", "d"}, "a")
	if got := l.Marked(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("marked %q after a reload without b and c, want [a]", got)
	}
	l.RemoveKey("a")
	if n := l.MarkedCount(); n != 0 {
		t.Errorf("%d marked after the marked key was removed", n)
	}
}
