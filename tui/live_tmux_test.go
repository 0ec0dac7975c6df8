package tui

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
	"github.com/crabkv/crabkv/kv"
)

const liveWriterEnv = "CRABKV_LIVE_WRITER"

// TestLiveWriterChild is the writing program of TestInspectorBesideAWriter:
// it holds the store open, writes a key every 20ms, and compacts when a
// line arrives on its standard input. It does nothing unless started by
// that test.
func TestLiveWriterChild(t *testing.T) {
	dir := os.Getenv(liveWriterEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestInspectorBesideAWriter")
	}
	orphan.ExitWithParent()
	db, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		fmt.Printf("! open: %v\n", err)
		os.Exit(3)
	}
	// Stale bytes for the compaction to reclaim: each bulk key twice.
	big := strings.Repeat("x", 4096)
	bulk := 400
	if n, err := strconv.Atoi(os.Getenv("CRABKV_LIVE_BULK")); err == nil {
		bulk = n // more, to make a compaction long enough to watch
	}
	for i := range 2 * bulk {
		db.Put([]byte(fmt.Sprintf("bulk/%04d", i%bulk)), []byte(big))
	}
	fmt.Println("ready")
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if err := db.Compact(); err != nil {
				fmt.Printf("! compact: %v\n", err)
				os.Exit(3)
			}
			fmt.Println("compacted")
		}
	}()
	for i := 0; ; i++ {
		if err := db.Put([]byte(fmt.Sprintf("live/%05d", i)), []byte("value "+strconv.Itoa(i))); err != nil {
			fmt.Printf("! put: %v\n", err)
			os.Exit(3)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInspectorBesideAWriter runs the inspector in tmux beside a program
// that holds the store open for writing: the inspector opens live and says
// who writes, keys appear as they are written, a compaction the program
// runs is shown with its result, a write action explains why it is not
// available, and crabkv get works while the inspector is open.
func TestInspectorBesideAWriter(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; skipping the end-to-end terminal test")
	}
	if testing.Short() || os.Getenv(liveWriterEnv) != "" {
		t.Skip("end-to-end terminal test")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w := exec.Command(os.Args[0], "-test.run=^TestLiveWriterChild$")
	w.Env = append(os.Environ(), liveWriterEnv+"="+dir)
	stdin, _ := w.StdinPipe()
	stdout, _ := w.StdoutPipe()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	lines := bufio.NewScanner(stdout)
	waitLine(t, lines, "ready")

	s := tmuxSession{tb: t, socket: fmt.Sprintf("crabkv-live-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.run("new-session", "-d", "-s", "s", "-x", "110", "-y", "30",
		fmt.Sprintf("env TERM=xterm-256color %q --dir %q", bin, dir))
	pid := strconv.Itoa(w.Process.Pid)
	first := s.waitFor("LIVE", "written by pid "+pid)
	n0 := keyCount(t, first)
	// Keys appear as the program writes them.
	deadline := time.Now().Add(10 * time.Second)
	for keyCount(t, s.screen()) < n0+10 {
		if time.Now().After(deadline) {
			t.Fatalf("key count stays near %d:\n%s", n0, s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A reader is not locked out while the inspector is open.
	out, err := exec.Command(bin, "--dir", dir, "get", "bulk/0001").CombinedOutput()
	if err != nil || len(out) != 4096 {
		t.Fatalf("crabkv get beside the inspector: %v\n%.200s", err, out)
	}

	// A compaction run by the program is shown with its result.
	io.WriteString(stdin, "compact\n")
	waitLine(t, lines, "compacted")
	screen := s.waitFor("compacted", "compactions 1")
	if !strings.Contains(screen, "reclaimed") {
		t.Errorf("no compaction result on screen:\n%s", screen)
	}

	// A write action says why it cannot run.
	s.keys("d")
	s.waitFor("read-only while pid " + pid)
	s.keys("q")
	waitExit(t, s)
}

func waitLine(t *testing.T, sc *bufio.Scanner, want string) {
	t.Helper()
	for sc.Scan() {
		if sc.Text() == want {
			return
		}
		if strings.HasPrefix(sc.Text(), "!") {
			t.Fatalf("writer: %s", sc.Text())
		}
	}
	t.Fatalf("writer ended before %q", want)
}

// keyCount reads the "N keys" figure of the inspector's header.
func keyCount(t *testing.T, screen string) int {
	first := strings.SplitN(screen, "\n", 2)[0]
	f := strings.Fields(first)
	for i := 1; i < len(f); i++ {
		if f[i] == "keys" || f[i] == "key" {
			n, err := strconv.Atoi(strings.ReplaceAll(f[i-1], ",", ""))
			if err == nil {
				return n
			}
		}
	}
	return -1
}
