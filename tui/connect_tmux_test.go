package tui

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startServe runs "crabkv serve" on dir, on a loopback port of the
// system's choosing, with password, until the test ends; it returns the
// address it serves on.
func startServe(t *testing.T, bin, dir, password string) string {
	t.Helper()
	cmd := exec.Command(bin, "--dir", dir, "serve", "--addr", "127.0.0.1:0", "--requirepass", password)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("crabkv serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("crabkv serve did not stop on SIGINT")
		}
	})
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if _, addr, ok := strings.Cut(lines.Text(), " on "); ok && strings.Contains(lines.Text(), "serving") {
			go func() { // keep draining the log so the server never blocks on it
				for lines.Scan() {
				}
			}()
			return addr
		}
	}
	t.Fatal("crabkv serve ended before it said where it serves")
	return ""
}

// TestConnectInTmux runs "crabkv serve" and "crabkv --connect" in a
// terminal: the inspector lists the server's keys, follows a write made
// by another client, creates, deletes and compacts over the network, and
// shows the compaction's result.
func TestConnectInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; skipping the end-to-end terminal test")
	}
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	if out, err := exec.Command(bin, "--dir", dir, "demo", "--fill-only").CombinedOutput(); err != nil {
		t.Fatalf("demo --fill-only: %v\n%s", err, out)
	}
	const password = "s3cret"
	addr := startServe(t, bin, dir, password)
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()

	s := tmuxSession{tb: t, socket: fmt.Sprintf("crabkv-connect-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	// The password comes from the environment, not the command line.
	s.run("new-session", "-d", "-s", "s", "-x", "110", "-y", "30",
		fmt.Sprintf("env TERM=xterm-256color CRABKV_PASSWORD=%s %q --connect redis://%s", password, bin, addr))
	s.waitFor("redis://"+addr, "2,703 keys", "key blob/")

	// A key another client writes shows up.
	if err := rdb.Set(ctx, "zz/from-redis", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.waitFor("2,704 keys")

	s.keys("n")
	s.waitFor("New key")
	s.keys("a", "/", "n", "e", "w", "Tab", "v", "1", "C-s")
	s.waitFor("created a/new", "2,705 keys")

	s.keys("/", "^", "z", "z", "Enter")
	s.waitFor("1 of 2,705", "key zz/from-redis", "hello")
	s.keys("d")
	s.waitFor("delete zz/from-redis? y/n")
	s.keys("y")
	s.waitFor("deleted zz/from-redis")

	s.keys("Escape", "c")
	s.waitFor("compacted", "compactions 1")
	s.keys("q")
	waitExit(t, s)

	if v, err := rdb.Get(ctx, "a/new").Result(); err != nil || v != "v1" {
		t.Errorf("a/new on the server = %q, %v", v, err)
	}
	if n, err := rdb.Exists(ctx, "zz/from-redis").Result(); err != nil || n != 0 {
		t.Errorf("zz/from-redis still on the server: %d, %v", n, err)
	}
	stats, err := rdb.Do(ctx, "crabkv.stats").StringSlice()
	if err != nil || !strings.Contains(strings.Join(stats, " "), "compactions 1") {
		t.Errorf("CRABKV.STATS after c: %q, %v", stats, err)
	}
}
