package tui

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTmuxWait bounds the waits for the cluster's processes: elections
// on a loaded machine take a while. Nothing is asserted about time.
const clusterTmuxWait = 60 * time.Second

// startClusterNode runs "crabkv serve --cluster" for node id in base/id on
// loopback ports of the system's choosing, until the test ends, and
// returns the address it serves clients on.
func startClusterNode(t *testing.T, bin, base, id string, extra ...string) string {
	t.Helper()
	args := append([]string{"serve", "--dir", filepath.Join(base, id), "--addr", "127.0.0.1:0",
		"--cluster", "--node-id", id, "--raft-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	addrs := make(chan string, 1)
	go func() {
		defer close(exited)
		re := regexp.MustCompile(`serving .* on (127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() { // drain the log to the end, so the server never blocks on it
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not stop on SIGINT", id)
		}
	})
	select {
	case addr := <-addrs:
		return addr
	case <-exited:
		t.Fatalf("%s exited before serving", id)
	case <-time.After(clusterTmuxWait):
		t.Fatalf("%s did not start serving", id)
	}
	return ""
}

// clusterInfo returns the fields of INFO cluster on c.
func clusterInfo(ctx context.Context, c *redis.Client) map[string]string {
	f := map[string]string{}
	text, _ := c.Info(ctx, "cluster").Result()
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			f[k] = v
		}
	}
	return f
}

// TestClusterInTmux runs a cluster of three "crabkv serve --cluster"
// processes and "crabkv --connect" to a follower in a terminal: the
// inspector shows the cluster line (the follower's role, the leader, the
// term, the indexes and the lag), lists the follower's copy of the data,
// follows a write made on the leader, and creates a key, which the
// follower sends on to the leader.
func TestClusterInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; skipping the end-to-end terminal test")
	}
	if testing.Short() {
		t.Skip("end-to-end terminal test skipped in -short mode")
	}
	bin := buildBinary(t)
	base := t.TempDir()
	addrs := map[string]string{"n1": startClusterNode(t, bin, base, "n1", "--bootstrap")}
	for _, id := range []string{"n2", "n3"} {
		addrs[id] = startClusterNode(t, bin, base, id, "--join", addrs["n1"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*clusterTmuxWait)
	defer cancel()
	clients := map[string]*redis.Client{}
	for id, addr := range addrs {
		clients[id] = redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
		t.Cleanup(func() { clients[id].Close() })
	}
	// Wait until every node names the same leader, and pick a follower.
	var leader, follower string
	deadline := time.Now().Add(clusterTmuxWait)
	for leader == "" || follower == "" {
		if time.Now().After(deadline) {
			t.Fatal("the nodes never agreed on a leader")
		}
		time.Sleep(50 * time.Millisecond)
		leader, follower = "", ""
		agreed := true
		for id, c := range clients {
			f := clusterInfo(ctx, c)
			if f["cluster_leader_addr"] == "" || f["cluster_leader_addr"] != clusterInfo(ctx, clients["n1"])["cluster_leader_addr"] {
				agreed = false
			}
			switch f["cluster_role"] {
			case "leader":
				leader = id
			case "follower":
				if follower == "" || id < follower {
					follower = id
				}
			}
		}
		if !agreed {
			leader = ""
		}
	}
	lc := clients[leader]
	for i := range 20 {
		if err := lc.Set(ctx, fmt.Sprintf("user:%04d", i), fmt.Sprintf(`{"id":%d}`, i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := lc.Set(ctx, "session:abc", "logged in", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	s := tmuxSession{tb: t, socket: fmt.Sprintf("crabkv-cluster-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.run("new-session", "-d", "-s", "s", "-x", "130", "-y", "30",
		fmt.Sprintf("env TERM=xterm-256color %q --connect redis://%s", bin, addrs[follower]))
	s.waitFor("redis://"+addrs[follower], "cluster "+follower+" FOLLOWER", "leader "+leader+" "+addrs[leader], "lag 0", "21 keys")

	// A write on the leader reaches the follower, and the list.
	if err := lc.Set(ctx, "zz/from-leader", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.waitFor("22 keys")

	// A key created on the follower is written by the leader.
	s.keys("n")
	s.waitFor("New key")
	s.keys("a", "/", "n", "e", "w", "Tab", "v", "1", "C-s")
	s.waitFor("created a/new", "23 keys")
	if v, err := lc.Get(ctx, "a/new").Result(); err != nil || v != "v1" {
		t.Errorf("a/new on the leader = %q, %v", v, err)
	}
	if os.Getenv("CRABKV_CLUSTER_SHOT") != "" { // screenshots/make-cluster.sh
		s.keys("/", "^", "s", "e", "s", "s", "Enter")
		s.waitFor("expires in")
		if err := os.WriteFile(os.Getenv("CRABKV_CLUSTER_SHOT"), []byte(s.run("capture-pane", "-t", "s", "-e", "-p")), 0o644); err != nil {
			t.Fatal(err)
		}
		s.keys("Escape")
	}
	s.keys("q")
	waitExit(t, s)
}
