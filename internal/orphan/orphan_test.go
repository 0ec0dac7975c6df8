package orphan

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	roleEnv   = "CRABKV_ORPHAN_ROLE"
	stderrEnv = "CRABKV_ORPHAN_STDERR" // the grandchild's standard error
)

// TestExitWithParent runs a middle process that starts a grandchild, which
// calls ExitWithParent and then sleeps forever, and kills the middle one:
// the grandchild must exit by itself, saying why on its standard error (a
// file: whether the exited process is reaped at once depends on what
// adopted it).
func TestExitWithParent(t *testing.T) {
	switch os.Getenv(roleEnv) {
	case "grandchild":
		ExitWithParent()
		os.Stdout.WriteString("ready\n")
		time.Sleep(time.Minute) // ExitWithParent ends it before this does
		t.Fatal("still running a minute after it was started")
	case "middle":
		cmd := exec.Command(os.Args[0], "-test.run=^TestExitWithParent$")
		cmd.Env = append(os.Environ(), roleEnv+"=grandchild")
		cmd.Stdout = os.Stdout
		stderr, err := os.Create(os.Getenv(stderrEnv))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("pid " + strconv.Itoa(cmd.Process.Pid) + "\n")
		time.Sleep(time.Minute) // the test kills it before this ends
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("a process's parent ID does not change on Windows")
	}
	if testing.Short() {
		t.Skip("runs processes")
	}
	middle := exec.Command(os.Args[0], "-test.run=^TestExitWithParent$")
	stderr := filepath.Join(t.TempDir(), "stderr")
	middle.Env = append(os.Environ(), roleEnv+"=middle", stderrEnv+"="+stderr)
	out, err := middle.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := middle.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	pid, ready := 0, false
	for (pid == 0 || !ready) && sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			pid, _ = strconv.Atoi(p)
		}
		ready = ready || sc.Text() == "ready"
	}
	if pid == 0 || !ready {
		middle.Process.Kill()
		t.Fatalf("middle process: no grandchild (%v)", sc.Err())
	}
	grandchild, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { grandchild.Kill() })
	if err := middle.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	middle.Wait()
	// The grandchild is not ours to wait for: watch what it says.
	var said []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if said, _ = os.ReadFile(stderr); strings.Contains(string(said), "has exited; exiting") {
			return
		}
	}
	t.Fatalf("grandchild %d did not exit within 10 s of its parent's death; it said %q", pid, said)
}
