package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterWait bounds each wait of the process cluster test; the machine
// may be slow and shared, and nothing is asserted about time.
const clusterWait = 60 * time.Second

// clusterProc is one "crabkv serve --cluster" process.
type clusterProc struct {
	id     string
	addr   string // client address
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    strings.Builder // its stderr
}

func (p *clusterProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// startNode runs crabkv serve --cluster for node id in base/id on free
// loopback ports, and waits until it serves clients (after its --join,
// if any).
func startNode(t testing.TB, bin, base, id string, extra ...string) *clusterProc {
	t.Helper()
	return startNodeAt(t, bin, base, id, "127.0.0.1:0", "127.0.0.1:0", extra...)
}

// startNodeAt is startNode with the client and raft addresses given, as a
// restart needs them.
func startNodeAt(t testing.TB, bin, base, id, addr, raftAddr string, extra ...string) *clusterProc {
	t.Helper()
	args := append([]string{"serve", "--dir", filepath.Join(base, id), "--addr", addr,
		"--cluster", "--node-id", id, "--raft-addr", raftAddr}, extra...)
	p := &clusterProc{id: id, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Env = append(p.cmd.Environ(), "GORACE=atexit_sleep_ms=0")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() {
		defer close(p.exited)
		re := regexp.MustCompile(`serving .* on (127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
		_ = p.cmd.Wait() // killed or stopped: the status says no more
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", id, p.stderr())
		}
	})
	select {
	case p.addr = <-addrs:
	case <-p.exited:
		t.Fatalf("%s exited before serving:\n%s", id, p.stderr())
	case <-time.After(clusterWait):
		t.Fatalf("%s did not start serving:\n%s", id, p.stderr())
	}
	return p
}

func nodeClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1,
		DialTimeout: 5 * time.Second, ReadTimeout: 20 * time.Second, WriteTimeout: 20 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// infoField returns field of INFO cluster on c, or "".
func infoField(ctx context.Context, c *redis.Client, field string) string {
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// writer sets keys through whichever live node leads: it starts at one,
// follows -MOVED, and on a refused connection or -CLUSTERDOWN tries the
// next node.
type writer struct {
	nodes   []string // client addresses of the nodes to try
	clients map[string]*redis.Client
	at      int
}

func (w *writer) set(ctx context.Context, t testing.TB, key, value string) error {
	addr := w.nodes[w.at%len(w.nodes)]
	for hop := 0; hop < 3; hop++ {
		c := w.clients[addr]
		if c == nil {
			c = nodeClient(t, addr)
			w.clients[addr] = c
		}
		err := c.Set(ctx, key, value, 0).Err()
		if err == nil {
			return nil
		}
		if m, ok := strings.CutPrefix(err.Error(), "MOVED 0 "); ok {
			addr = m
			continue
		}
		w.at++
		return err
	}
	return errors.New("too many redirects")
}

// TestClusterProcesses runs three crabkv serve --cluster processes on
// loopback: writes go to the leader, every node serves them (READONLY),
// a follower redirects a write that go-redis's cluster client and
// redis-cli -c follow; then the leader is killed with SIGKILL, a new
// leader takes writes, and every acknowledged write is there.
func TestClusterProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	bin, err := exec.LookPath("crabkv")
	if err != nil {
		t.Fatalf("the test binary is not on PATH as crabkv: %v", err)
	}
	base := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*clusterWait)
	defer cancel()

	n1 := startNode(t, bin, base, "n1", "--bootstrap")
	n2 := startNode(t, bin, base, "n2", "--join", n1.addr)
	n3 := startNode(t, bin, base, "n3", "--join", n1.addr)
	procs := map[string]*clusterProc{"n1": n1, "n2": n2, "n3": n3}
	clients := map[string]*redis.Client{}
	for _, p := range procs {
		clients[p.addr] = nodeClient(t, p.addr)
	}
	waitUntil(t, "a leader known to every node", func() bool {
		l := infoField(ctx, clients[n1.addr], "cluster_leader_addr")
		return l != "" && infoField(ctx, clients[n2.addr], "cluster_leader_addr") == l &&
			infoField(ctx, clients[n3.addr], "cluster_leader_addr") == l
	})
	leaderAddr := infoField(ctx, clients[n1.addr], "cluster_leader_addr")
	var leader *clusterProc
	var followers []*clusterProc
	for _, p := range procs {
		if p.addr == leaderAddr {
			leader = p
		} else {
			followers = append(followers, p)
		}
	}
	if leader == nil {
		t.Fatalf("the leader's address %s is none of the nodes'", leaderAddr)
	}

	acked := map[string]string{}
	lc := clients[leader.addr]
	for i := range 50 {
		k, v := fmt.Sprintf("k%02d", i), fmt.Sprintf("v%02d", i)
		if err := lc.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatalf("SET %s on the leader: %v", k, err)
		}
		acked[k] = v
	}
	// Every node serves its copy after READONLY; a follower redirects a
	// linearizable read and a write.
	for _, p := range procs {
		conn := clients[p.addr].Conn()
		if err := conn.ReadOnly(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, p.id+" to have every write", func() bool {
			vals, err := conn.MGet(ctx, "k00", "k25", "k49").Result()
			return err == nil && fmt.Sprint(vals) == "[v00 v25 v49]"
		})
		conn.Close()
	}
	f := followers[0]
	if err := clients[f.addr].Set(ctx, "x", "y", 0).Err(); err == nil || err.Error() != "MOVED 0 "+leader.addr {
		t.Fatalf("SET on follower %s: %v, want MOVED 0 %s", f.id, err, leader.addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{f.addr}, Protocol: 2})
	defer cc.Close()
	if err := cc.Set(ctx, "via-follower", "go-redis", 0).Err(); err != nil {
		t.Fatalf("SET through a cluster client given follower %s: %v", f.id, err)
	}
	acked["via-follower"] = "go-redis"
	if cli, err := exec.LookPath("redis-cli"); err == nil {
		host, port, _ := strings.Cut(f.addr, ":")
		out, err := exec.CommandContext(ctx, cli, "-c", "-h", host, "-p", port, "SET", "via-redis-cli", "ok").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("redis-cli -c SET on follower %s: %q, %v", f.id, out, err)
		}
		acked["via-redis-cli"] = "ok"
	}

	// Writes through whichever node leads, while the leader is killed.
	w := &writer{clients: map[string]*redis.Client{}}
	w.nodes = []string{leader.addr, followers[0].addr, followers[1].addr}
	var killedAt time.Time
	afterKill, failed := 0, 0
	for i := 0; afterKill < 20; i++ {
		if ctx.Err() != nil {
			t.Fatalf("no new leader took writes: %d acknowledged after the kill, %d refused", afterKill, failed)
		}
		if i == 30 {
			if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-leader.exited
			killedAt = time.Now()
			w.nodes = w.nodes[1:]
		}
		k, v := fmt.Sprintf("w%04d", i), fmt.Sprintf("after-%d", i)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.set(wctx, t, k, v)
		wcancel()
		if err == nil {
			acked[k] = v
			if !killedAt.IsZero() {
				if afterKill == 0 {
					t.Logf("first write acknowledged %v after the leader was killed", time.Since(killedAt).Round(time.Millisecond))
				}
				afterKill++
			}
		} else {
			failed++
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Every acknowledged write is on the new leader, read linearizably.
	var newLeader *redis.Client
	waitUntil(t, "a new leader", func() bool {
		for _, p := range followers {
			if infoField(ctx, clients[p.addr], "cluster_role") == "leader" {
				newLeader = clients[p.addr]
				return true
			}
		}
		return false
	})
	for k, v := range acked {
		got, err := newLeader.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("acknowledged %s=%s, the new leader has %q, %v", k, v, got, err)
		}
	}
	t.Logf("%d acknowledged writes checked; %d writes refused around the failover", len(acked), failed)
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serve refuses cluster flags that cannot work together, before it opens
// anything.
func TestServeClusterFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-id", "n1"}, "need --cluster"},
		{[]string{"--cluster", "--raft-addr", "127.0.0.1:0"}, "needs --node-id"},
		{[]string{"--cluster", "--node-id", "n1"}, "needs --raft-addr"},
		{[]string{"--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0", "--bootstrap", "--join", "127.0.0.1:1"}, "give one of them"},
		{[]string{"--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0", "--no-sync"}, "--no-sync"},
		{[]string{"--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0", "--new", "--bootstrap"}, "give one of them"},
		// A directory with no raft state, and no flag that says the node
		// is new: a member whose directory was lost, restarted as it was.
		{[]string{"--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0"}, "no raft state"},
		{[]string{"--raft-dial", "n2=127.0.0.1:7002"}, "need --cluster"},
		{[]string{"--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0", "--raft-dial", "n2"}, "--raft-dial: \"n2\": want id=host:port"},
		{[]string{"--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0", "--raft-dial", "n2=127.0.0.1"}, "--raft-dial: \"n2=127.0.0.1\": want id=host:port"},
		{[]string{"--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0", "--raft-dial", "n2=127.0.0.1:1,n2=127.0.0.1:2"}, "--raft-dial: n2 given twice"},
	} {
		te := newTestEnv(t)
		te.mustRun(t, exitError, append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...)...)
		if msg := te.errOut.String(); !strings.Contains(msg, c.want) {
			t.Errorf("serve %v: stderr %q, want %q", c.args, msg, c.want)
		}
	}
	te := newTestEnv(t)
	te.mustRun(t, exitError, "serve", "--addr", "0.0.0.0:0", "--cluster", "--node-id", "n1", "--raft-addr", "127.0.0.1:0", "--bootstrap")
	if msg := te.errOut.String(); !strings.Contains(msg, "--addr must be an address clients can reach") {
		t.Errorf("serve --cluster --addr 0.0.0.0:0: stderr %q", msg)
	}
	te = newTestEnv(t)
	te.mustRun(t, exitError, "cluster", "dance")
	if msg := te.errOut.String(); !strings.Contains(msg, "usage: crabkv cluster status") {
		t.Errorf("cluster dance: stderr %q", msg)
	}
}

// A node removed, wiped and joined again catches up from a snapshot, as
// real processes: the leader's log has been trimmed (--raft-trailing-logs,
// crabkv cluster snapshot) past the writes the node missed, and the
// rejoined node ends up with every acknowledged write.
func TestClusterWipedNodeRejoins(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	bin, err := exec.LookPath("crabkv")
	if err != nil {
		t.Fatalf("the test binary is not on PATH as crabkv: %v", err)
	}
	base := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*clusterWait)
	defer cancel()
	trail := []string{"--raft-trailing-logs", "8"}
	n1 := startNode(t, bin, base, "n1", append(trail, "--bootstrap")...)
	procs := []*clusterProc{n1,
		startNode(t, bin, base, "n2", append(trail, "--join", n1.addr)...),
		startNode(t, bin, base, "n3", append(trail, "--join", n1.addr)...)}
	var leader, wiped *clusterProc
	waitUntil(t, "a leader", func() bool {
		for _, p := range procs {
			if infoField(ctx, nodeClient(t, p.addr), "cluster_role") == "leader" {
				leader = p
				return true
			}
		}
		return false
	})
	for _, p := range procs {
		if p != leader {
			wiped = p
		}
	}
	lc := nodeClient(t, leader.addr)
	acked := map[string]string{}
	set := func(from, to int, prefix string) {
		for i := from; i < to; i++ {
			k, v := fmt.Sprintf("k%03d", i), fmt.Sprintf("%s%d", prefix, i)
			if err := lc.Set(ctx, k, v, 0).Err(); err != nil {
				t.Fatalf("SET %s on the leader: %v", k, err)
			}
			acked[k] = v
		}
	}
	set(0, 60, "before")
	if err := lc.Do(ctx, "crabkv.cluster", "leave", wiped.id).Err(); err != nil {
		t.Fatalf("CRABKV.CLUSTER LEAVE %s: %v", wiped.id, err)
	}
	if err := wiped.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-wiped.exited
	if err := os.RemoveAll(filepath.Join(base, wiped.id)); err != nil {
		t.Fatal(err)
	}
	set(30, 90, "after")
	if out, err := exec.CommandContext(ctx, bin, "cluster", "snapshot", "--addr", leader.addr).CombinedOutput(); err != nil {
		t.Fatalf("crabkv cluster snapshot on the leader: %v\n%s", err, out)
	}
	if first := infoField(ctx, lc, "cluster_first_index"); first == "" || first == "0" || first == "1" {
		t.Fatalf("the leader's log starts at %q after a snapshot: not trimmed", first)
	}

	back := startNode(t, bin, base, wiped.id, append(trail, "--join", leader.addr)...)
	conn := nodeClient(t, back.addr).Conn()
	defer conn.Close()
	if err := conn.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(acked))
	waitUntil(t, "the rejoined node to hold every acknowledged write", func() bool {
		vals, err := conn.MGet(ctx, keys...).Result()
		if err != nil {
			return false
		}
		for i, k := range keys {
			if vals[i] != acked[k] {
				return false
			}
		}
		return true
	})
	if n := infoField(ctx, nodeClient(t, back.addr), "cluster_snapshots_restored"); n != "1" {
		t.Errorf("the rejoined node restored %q snapshots, want 1", n)
	}
}
