package tui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTreeAndHistoryInTmux runs the real binary on the demo store: the key
// tree detects the delimiter, switches it and opens a group; the history of
// a key written three times and deleted once lists its versions, shows the
// first, and restores it, which the store on disk then holds.
func TestTreeAndHistoryInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; skipping the end-to-end terminal test")
	}
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	crabkv := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(bin, append([]string{"--dir", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("crabkv %v: %v\n%s", args, err, out)
		}
	}
	crabkv("demo", "--fill-only")
	crabkv("put", "notes/today", "first version")
	crabkv("put", "notes/today", "second version")
	crabkv("delete", "notes/today")
	crabkv("put", "notes/today", "third version")

	s := tmuxSession{tb: t, socket: fmt.Sprintf("crabkv-find-%d", os.Getpid())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.run("new-session", "-d", "-s", "s", "-x", "110", "-y", "30",
		fmt.Sprintf("env TERM=xterm-256color %q --dir %q", bin, dir))
	s.waitFor("2,704 keys")

	// The demo's keys are mostly user:… and session:…: ':' wins.
	s.keys("t")
	s.waitFor(`Tree by ":"`, "2,704 keys · ", "▸ user:", "1,500 keys")
	s.keys("s")
	s.waitFor(`Tree by "/"`, "▸ blob/", "300 keys", "▸ notes/", "1 key")
	s.keys("Enter")
	s.waitFor("▾ blob/", "00000.bin")
	s.keys("Escape")

	s.keys("/", "n", "o", "t", "e", "s", "Enter")
	s.waitFor("key notes/today", "third version")
	s.keys("h")
	s.waitFor("History of notes/today", "4 versions", "deleted", "current")
	s.keys("g", "Enter")
	s.waitFor("first version", "· read-only")
	s.keys("R")
	s.waitFor("Restore the version at offset", "without an expiry")
	s.keys("y")
	s.waitFor("restored the version", "5 versions")
	s.keys("Escape", "Escape", "q")
	waitExit(t, s)

	if got := getStored(t, dir, "notes/today"); got != "first version" {
		t.Fatalf("notes/today = %q after restoring its first version", got)
	}
}
