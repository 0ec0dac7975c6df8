package tui

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// editorScript writes a shell script that stands in for $EDITOR and returns
// a Getenv that names it. The script runs body with the file as $1.
func editorScript(tb testing.TB, body string) func(string) string {
	tb.Helper()
	if runtime.GOOS == "windows" {
		tb.Skip("the stand-in editor is a shell script")
	}
	path := filepath.Join(tb.TempDir(), "editor")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		tb.Fatal(err)
	}
	return func(name string) string {
		if name == "EDITOR" {
			return path
		}
		return ""
	}
}

// TestEditKeepsEveryByte edits values that the built-in text editor cannot
// hold as they are. Saving must store the edited bytes exactly: the bytes the
// edit did not touch are untouched.
func TestEditKeepsEveryByte(t *testing.T) {
	values := map[string]string{
		"tabs":    "Configuration.\n\tIndented line.\n",
		"crlf":    "a\r\nb\r\n",
		"lone cr": "a\rb",
		"esc":     "red \x1b[31mRED\x1b[0m",
		"bel":     "ding\a",
		"invalid": "bad \xff\xfe utf-8",
		"fffd":    "replacement \ufffd char",
		"bidi":    "abc\u202edcba",
	}
	for name, value := range values {
		t.Run(name, func(t *testing.T) {
			db := openTestDB(t, "", "k", value)
			tm := startInspector(t, db, Config{Getenv: editorScript(t, `printf X >> "$1"`)})
			waitFor(t, tm, "key k", "offset ") // the value has loaded
			press(tm, "e")
			waitFor(t, tm, "saved k")
			quit(t, tm)
			if got := getValue(t, db, "k"); got != value+"X" {
				t.Errorf("stored %q, want %q", got, value+"X")
			}
		})
	}
}

// TestEditWithoutChangeWritesNothing saves values without changing them,
// in the built-in editor and in $EDITOR: nothing may be written.
func TestEditWithoutChangeWritesNothing(t *testing.T) {
	for _, value := range []string{"plain text\nsecond line\n", "tab\there", "a\r\nb"} {
		db := openTestDB(t, "", "k", value)
		before := db.Stats().LogBytes
		tm := startInspector(t, db, Config{Getenv: editorScript(t, "true")})
		waitFor(t, tm, "key k", "offset ") // the value has loaded
		press(tm, "e")
		press(tm, "ctrl+s") // ignored when $EDITOR took over
		waitFor(t, tm, "unchanged: k")
		quit(t, tm)
		if got := getValue(t, db, "k"); got != value {
			t.Errorf("stored %q, want %q", got, value)
		}
		if after := db.Stats().LogBytes; after != before {
			t.Errorf("%q: log grew from %d to %d bytes on an unchanged save", value, before, after)
		}
	}
}

// TestNewKeyAsksBeforeOverwriting creates a key that exists already: the
// inspector must ask first, and keep the old value on "no".
func TestNewKeyAsksBeforeOverwriting(t *testing.T) {
	db := openTestDB(t, "", "a", "old")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "key a")
	press(tm, "n")
	waitFor(t, tm, "New key")
	typeText(tm, "a")
	press(tm, "tab")
	typeText(tm, "new")
	press(tm, "ctrl+s")
	waitFor(t, tm, "a exists; overwrite it? y/n")
	press(tm, "n")
	waitFor(t, tm, "not saved")
	if got := getValue(t, db, "a"); got != "old" {
		t.Fatalf("a = %q after no", got)
	}
	press(tm, "ctrl+s")
	waitFor(t, tm, "a exists; overwrite it? y/n")
	press(tm, "y")
	waitFor(t, tm, "saved a")
	quit(t, tm)
	if got := getValue(t, db, "a"); got != "new" {
		t.Errorf("a = %q after yes", got)
	}
}
