package tui

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// countHolding counts, with the engine's own scan, the values in dir that
// hold q, and returns the first such key.
func countHolding(tb testing.TB, dir string, q []byte) (int, string) {
	tb.Helper()
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	n, first := 0, ""
	err = db.Scan(nil, nil, func(k, v []byte) bool {
		if bytes.Contains(v, q) {
			if n++; n == 1 {
				first = string(k)
			}
		}
		return true
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n, first
}

// valueSizes sums, with the engine's own scan, the sizes of the values in
// dir, and returns the largest.
func valueSizes(tb testing.TB, dir string) (total, largest int64) {
	tb.Helper()
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	err = db.Scan(nil, nil, func(_, v []byte) bool {
		total += int64(len(v))
		largest = max(largest, int64(len(v)))
		return true
	})
	if err != nil {
		tb.Fatal(err)
	}
	return total, largest
}

// TestValueSearchInTmux searches the values of the demo store from the
// real binary in a terminal: a text query, then a query of bytes, then
// the size view and its summary, and checks the counts and sizes against
// the store's own scan.
func TestValueSearchInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; skipping the end-to-end terminal test")
	}
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	s := tmuxSession{tb: t, socket: fmt.Sprintf("crabkv-find-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	if out, err := exec.Command(bin, "--dir", dir, "demo", "--fill-only").CombinedOutput(); err != nil {
		t.Fatalf("demo --fill-only: %v\n%s", err, out)
	}
	text, firstText := countHolding(t, dir, []byte("7@example.org"))
	binary, firstBinary := countHolding(t, dir, []byte("\x89PNG\r\n"))
	if text == 0 || binary == 0 {
		t.Fatalf("setup: the demo data holds %d and %d matches", text, binary)
	}
	s.run("new-session", "-d", "-s", "s", "-x", "100", "-y", "30",
		fmt.Sprintf("env TERM=xterm-256color %q --dir %q", bin, dir))
	s.waitFor("2,703 keys", "auto at 33%")

	s.keys("f")
	s.waitFor("enter search")
	s.keys("7", "@", "e", "x", "a", "m", "p", "l", "e", ".", "o", "r", "g", "Enter")
	s.waitFor(fmt.Sprintf("%s for 7@example.org", countMatches(text)), "scanned 2,703 keys", "key "+firstText)

	s.keys("f", "C-u", `\`, "x", "8", "9", "P", "N", "G", `\`, "r", `\`, "n", "Enter")
	s.waitFor(fmt.Sprintf(`%s for \x89PNG\r\n`, countMatches(binary)), "key "+firstBinary, "view hex")

	s.keys("Escape")
	s.waitFor("back to the key list", "2,703 keys")
	s.keys("s")
	s.waitFor("ranked 2,703 keys by value size", "Largest values")

	total, largest := valueSizes(t, dir)
	s.keys("S")
	s.waitFor("Summary", "keys      2,703",
		fmt.Sprintf("values    %s total · %s average", FormatBytes(total), FormatBytes(total/2703)),
		fmt.Sprintf("· %s largest", FormatBytes(largest)), "keys per power of two")
	s.keys("q")
	waitExit(t, s)
}
