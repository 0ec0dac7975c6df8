package cluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/internal/orphan"
)

// childEnv, when set to a directory, makes TestKillNineLosesNoAcknowledgedWrite
// the child: a one-node cluster in that directory that writes until killed.
const childEnv = "CRABKV_CLUSTER_KILL_CHILD"

// A node killed with SIGKILL in the middle of writes loses none it
// acknowledged, and comes back with its store and its applied index in
// agreement.
func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		killChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("runs a second process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineLosesNoAcknowledgedWrite$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	acked := -1
	sc := bufio.NewScanner(out)
	for acked < 300 && sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked, _ = strconv.Atoi(n)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	// Acknowledgements printed before the kill landed count too.
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked, _ = strconv.Atoi(n)
		}
	}
	cmd.Wait()
	if acked < 0 {
		t.Fatal("the child acknowledged nothing")
	}
	addr, err := os.ReadFile(filepath.Join(dir, "addr"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "solo", dir)
	cfg.RaftAddr = string(addr)
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	stored := n.fsm.durable
	for i := 0; i <= acked; i++ {
		var v []byte
		waitFor(t, "a leader to read from", func() bool {
			v, err = n.Get(ctx(t), fmt.Appendf(nil, "k%d", i), ReadOptions{})
			return err == nil || isNotFound(err)
		})
		if err != nil || string(v) != strconv.Itoa(i) {
			t.Fatalf("acknowledged write %d after kill -9: %q, %v", i, v, err)
		}
	}
	st := n.Status()
	if st.Err != nil || st.LastIndex < stored {
		t.Errorf("after restart: store at %d, raft log ends at %d, error %v", stored, st.LastIndex, st.Err)
	}
	t.Logf("%d writes acknowledged before kill -9; store reopened at index %d of %d", acked+1, stored, st.LastIndex)
}

// killChild runs a one-node cluster in dir and writes k<i>=i, printing
// "ack i" after each acknowledgement, until it is killed (or, bounded, a
// minute passes).
func killChild(dir string) {
	orphan.ExitWithParent()
	cfg := Config{ID: "solo", RaftAddr: "127.0.0.1:0", Dir: dir, Bootstrap: true,
		HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond}
	n, err := Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(dir, "addr"), []byte(n.Addr()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; ctx.Err() == nil; {
		if err := n.Put(ctx, fmt.Appendf(nil, "k%d", i), []byte(strconv.Itoa(i))); err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		fmt.Printf("ack %d\n", i)
		i++
	}
	os.Exit(0)
}
