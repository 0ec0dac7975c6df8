package tui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// tmuxSession drives the real binary in a detached tmux session on a
// private server socket.
type tmuxSession struct {
	tb     testing.TB
	socket string
}

func (s tmuxSession) run(args ...string) string {
	s.tb.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.tb.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys sends each key on its own, 100ms apart: Bubble Tea merges runes
// that arrive in one read.
func (s tmuxSession) keys(keys ...string) {
	for _, k := range keys {
		s.run("send-keys", "-t", "s", k)
		time.Sleep(100 * time.Millisecond)
	}
}

func (s tmuxSession) screen() string { return s.run("capture-pane", "-t", "s", "-p") }

// waitFor polls the screen until it shows every one of want.
func (s tmuxSession) waitFor(want ...string) string {
	s.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen := s.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return screen
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("screen never showed %q:\n%s", missing, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "crabkv")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/crabkv/crabkv").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinaryInTmux runs "crabkv demo" in a terminal, filters, edits a
// value, compacts and quits, then checks the store on disk.
func TestBinaryInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; skipping the end-to-end terminal test")
	}
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	s := tmuxSession{tb: t, socket: fmt.Sprintf("crabkv-test-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	out, err := exec.Command(bin, "--dir", dir, "demo", "--fill-only").CombinedOutput()
	if err != nil {
		t.Fatalf("demo --fill-only: %v\n%s", err, out)
	}
	readme := getStored(t, dir, "config/README")
	// The demo's README holds a tab, which the built-in editor cannot keep,
	// so e opens $EDITOR: a script that puts XY in front of the value.
	editor := filepath.Join(t.TempDir(), "editor")
	script := "#!/bin/sh\n{ printf XY; cat \"$1\"; } > \"$1.new\" && mv \"$1.new\" \"$1\"\n"
	if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s.run("new-session", "-d", "-s", "s", "-x", "100", "-y", "30",
		fmt.Sprintf("env TERM=xterm-256color EDITOR=%q %q --dir %q", editor, bin, dir))

	s.waitFor("2,703 keys", "auto at 33%", "27.0%")
	s.keys("/", "R", "E", "A", "D", "M", "E", "Enter")
	s.waitFor("1 of 2,703", "key config/README")
	s.keys("e")
	s.waitFor("saved config/README")
	s.keys("Escape", "c")
	// The status line reports the compaction as soon as the writer is done;
	// the gauge counts it once the inspector's follower has seen the new
	// log, a poll later.
	s.waitFor("compacted", "0.0%", "compactions 1")
	s.keys("q")
	waitExit(t, s)

	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open after quitting: %v", err)
	}
	defer db.Close()
	v, err := db.Get([]byte("config/README"))
	if want := "XY" + readme; err != nil || string(v) != want {
		t.Errorf("edited value = %q, %v; want %q", v, err, want)
	}
	if st := db.Stats(); st.StaleBytes != 0 || st.Keys != 2703 {
		t.Errorf("stats after compaction: %+v", st)
	}
}

// getStored reads one value from the store in dir.
func getStored(tb testing.TB, dir, key string) string {
	tb.Helper()
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	v, err := db.Get([]byte(key))
	if err != nil {
		tb.Fatal(err)
	}
	return string(v)
}

// waitExit waits for the tmux window to close when the program quits.
func waitExit(tb testing.TB, s tmuxSession) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", s.socket, "has-session", "-t", "s").Run() == nil {
		if time.Now().After(deadline) {
			tb.Fatalf("crabkv did not exit after q:\n%s", s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
