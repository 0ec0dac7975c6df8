//go:build unix

package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

var (
	nemesisDuration = flag.Duration("nemesis.duration", 0,
		"how long TestClusterNemesis injects faults (0: its short form, one fault of each kind, about 30s in all)")
	nemesisNodes = flag.Int("nemesis.nodes", 3, "how many nodes TestClusterNemesis runs")
	nemesisSeed  = flag.Uint64("nemesis.seed", 0, "TestClusterNemesis's random seed (0: from the clock)")
)

// nemesisCluster is a cluster of crabkv serve --cluster processes whose
// raft links each go through a linkProxy, and the faults done to it.
type nemesisCluster struct {
	t         *testing.T
	rng       *rand.Rand
	bin, base string
	ids       []string
	addr      map[string]string // client addresses, kept across restarts
	raftAddr  map[string]string // raft addresses, kept across restarts
	links     map[[2]string]*linkProxy
	admin     map[string]*redis.Client // for INFO, with short timeouts
	procs     map[string]*clusterProc
	down      map[string]bool // killed, not yet restarted
	paused    map[string]bool // stopped with SIGSTOP
	faults    map[string]int  // faults done, by kind
	failovers []time.Duration // leader killed → next write acknowledged
	// fromSnapshot counts the restarts (kill-snapshot) that caught up
	// from a snapshot.
	fromSnapshot int
}

// addrReservation holds loopback ports open while a test chooses the
// addresses of its nodes, which keep them across restarts. A port closed as
// soon as it is chosen may be handed out again by the next listen on port
// 0 — to another node or to a link's proxy — and the second process to
// bind it fails; held open, every port chosen is distinct. release closes
// them just before the nodes start.
type addrReservation struct{ lns []net.Listener }

// take returns a loopback address whose port the reservation holds.
func (r *addrReservation) take(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.lns = append(r.lns, ln)
	return ln.Addr().String()
}

// release frees every port taken, for the nodes to bind.
func (r *addrReservation) release() {
	for _, ln := range r.lns {
		ln.Close()
	}
	r.lns = nil
}

func newNemesisCluster(t *testing.T, bin string, n int, seed uint64) *nemesisCluster {
	nc := &nemesisCluster{t: t, rng: rand.New(rand.NewPCG(seed, 1)), bin: bin, base: t.TempDir(),
		addr: map[string]string{}, raftAddr: map[string]string{}, links: map[[2]string]*linkProxy{},
		admin: map[string]*redis.Client{}, procs: map[string]*clusterProc{},
		down: map[string]bool{}, paused: map[string]bool{}, faults: map[string]int{}}
	var ports addrReservation
	defer ports.release()
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		nc.ids = append(nc.ids, id)
		nc.addr[id], nc.raftAddr[id] = ports.take(t), ports.take(t)
		nc.admin[id] = redis.NewClient(&redis.Options{Addr: nc.addr[id], Protocol: 2, MaxRetries: -1,
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
		t.Cleanup(func() { nc.admin[id].Close() })
	}
	for _, from := range nc.ids {
		for _, to := range nc.ids {
			if from != to {
				nc.links[[2]string{from, to}] = newLinkProxy(t, from, to, nc.raftAddr[to])
			}
		}
	}
	ports.release()
	for i, id := range nc.ids {
		switch i {
		case 0:
			nc.start(id, "--bootstrap")
		default:
			nc.start(id, "--join", nc.addr[nc.ids[0]])
		}
	}
	nc.waitAgreed()
	return nc
}

// start runs node id, which dials each peer through its link's proxy.
func (nc *nemesisCluster) start(id string, extra ...string) {
	var dial []string
	for _, to := range nc.ids {
		if to != id {
			dial = append(dial, to+"="+nc.links[[2]string{id, to}].addr())
		}
	}
	// A short log after a snapshot makes a node that was down catch up
	// from a snapshot (see kill-snapshot).
	extra = append(extra, "--raft-dial", strings.Join(dial, ","), "--raft-trailing-logs", "16")
	nc.procs[id] = startNodeAt(nc.t, nc.bin, nc.base, id, nc.addr[id], nc.raftAddr[id], extra...)
	nc.down[id] = false
}

// role returns node id's role as it says, or "" if it does not answer.
func (nc *nemesisCluster) info(id, field string) string {
	if nc.down[id] || nc.paused[id] {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return infoField(ctx, nc.admin[id], field)
}

// leader returns a node that says it leads, or "".
func (nc *nemesisCluster) leader() string {
	for _, id := range nc.ids {
		if nc.info(id, "cluster_role") == "leader" {
			return id
		}
	}
	return ""
}

// waitAgreed waits until every node names the same leader.
func (nc *nemesisCluster) waitAgreed() {
	nc.t.Helper()
	waitUntil(nc.t, "every node to name the same leader", func() bool {
		l := nc.info(nc.ids[0], "cluster_leader_addr")
		for _, id := range nc.ids[1:] {
			if l == "" || nc.info(id, "cluster_leader_addr") != l {
				return false
			}
		}
		return true
	})
}

// pick returns the leader if wantLeader and there is one, else a random
// node.
func (nc *nemesisCluster) pick(wantLeader bool) string {
	if wantLeader {
		if l := nc.leader(); l != "" {
			return l
		}
	}
	return nc.ids[nc.rng.IntN(len(nc.ids))]
}

func (nc *nemesisCluster) signal(id string, sig syscall.Signal) {
	nc.t.Helper()
	if err := nc.procs[id].cmd.Process.Signal(sig); err != nil {
		nc.t.Fatalf("%s to %s: %v", sig, id, err)
	}
}

func (nc *nemesisCluster) kill(id string) {
	nc.signal(id, syscall.SIGKILL)
	<-nc.procs[id].exited
	nc.down[id], nc.paused[id] = true, false
}

// cut cuts the links from → to (drop: they drop bytes; else they reset).
func (nc *nemesisCluster) cut(from, to []string, drop bool) {
	for _, a := range from {
		for _, b := range to {
			if a != b {
				nc.links[[2]string{a, b}].setCut(drop)
			}
		}
	}
}

// healAll ends every fault: links heal, paused nodes go on, killed nodes
// restart.
func (nc *nemesisCluster) healAll() {
	for _, l := range nc.links {
		l.heal()
	}
	for _, id := range nc.ids {
		if nc.paused[id] {
			nc.signal(id, syscall.SIGCONT)
			nc.paused[id] = false
		}
		if nc.down[id] {
			nc.start(id)
		}
	}
}

// split returns the nodes in a random minority, the leader among them if
// withLeader, and the rest.
func (nc *nemesisCluster) split(withLeader bool) (minority, majority []string) {
	ids := slices.Clone(nc.ids)
	nc.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if l := nc.leader(); withLeader && l != "" {
		i := slices.Index(ids, l)
		ids[0], ids[i] = ids[i], ids[0]
	}
	k := 1 + nc.rng.IntN((len(ids)-1)/2)
	return ids[:k], ids[k:]
}

// nemesisFaults are the kinds of fault, each done to the cluster for a
// while and then healed. One runs at a time.
var nemesisFaults = []string{
	"kill-leader", "kill", "pause-leader", "pause",
	"cut-one-way", "cut-both-ways", "partition", "partition-leader",
	"kill-snapshot",
}

// inject does one fault of kind, holds it for hold and heals it. For
// kill-leader it waits for a write acknowledged after the kill, to
// measure the failover, before it restarts the old leader.
func (nc *nemesisCluster) inject(kind string, hold time.Duration, h *history) string {
	drop := nc.rng.IntN(2) == 0
	mode := map[bool]string{true: "drop", false: "reset"}[drop]
	var what string
	switch kind {
	case "kill-leader", "kill":
		id := nc.pick(kind == "kill-leader")
		var roles []string
		wasLeader := false
		for _, n := range nc.ids {
			role := nc.info(n, "cluster_role")
			wasLeader = wasLeader || n == id && role == "leader"
			roles = append(roles, n+":"+role+"/"+nc.info(n, "cluster_term"))
		}
		killedAt := h.now()
		nc.kill(id)
		what = "SIGKILL " + id + " " + fmt.Sprint(roles)
		time.Sleep(hold)
		if kind == "kill-leader" && wasLeader {
			for deadline := time.Now().Add(clusterWait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if at, ok := h.firstWriteAfter(killedAt); ok {
					nc.failovers = append(nc.failovers, time.Duration(at-killedAt))
					what += fmt.Sprintf(", next write acknowledged after %v", time.Duration(at-killedAt).Round(time.Millisecond))
					break
				}
			}
		}
	case "kill-snapshot":
		// A node killed while the others snapshot and trim their logs
		// catches up from a snapshot when it restarts.
		id := nc.pick(false)
		nc.kill(id)
		time.Sleep(hold)
		var snapped []string
		for _, n := range nc.ids {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if !nc.down[n] && nc.admin[n].Do(ctx, "crabkv.cluster", "snapshot").Err() == nil {
				snapped = append(snapped, n)
			}
			cancel()
		}
		nc.healAll()
		what = fmt.Sprintf("SIGKILL %s, snapshots on %v, restart", id, snapped)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if nc.info(id, "cluster_snapshots_restored") == "1" {
				what += ", caught up from a snapshot"
				nc.fromSnapshot++
				break
			}
		}
	case "pause-leader", "pause":
		id := nc.pick(kind == "pause-leader")
		nc.signal(id, syscall.SIGSTOP)
		nc.paused[id] = true
		what = "SIGSTOP " + id
		time.Sleep(hold)
	case "cut-one-way", "cut-both-ways":
		a := nc.pick(nc.rng.IntN(2) == 0)
		b := nc.ids[(slices.Index(nc.ids, a)+1+nc.rng.IntN(len(nc.ids)-1))%len(nc.ids)]
		nc.cut([]string{a}, []string{b}, drop)
		what = fmt.Sprintf("cut %s→%s (%s)", a, b, mode)
		if kind == "cut-both-ways" {
			nc.cut([]string{b}, []string{a}, drop)
			what = fmt.Sprintf("cut %s↔%s (%s)", a, b, mode)
		}
		time.Sleep(hold)
	case "partition", "partition-leader":
		minority, majority := nc.split(kind == "partition-leader")
		nc.cut(minority, majority, drop)
		nc.cut(majority, minority, drop)
		what = fmt.Sprintf("partition %v | %v (%s)", minority, majority, mode)
		time.Sleep(hold)
	}
	nc.healAll()
	nc.faults[kind]++
	return what
}

// TestClusterNemesis is a Jepsen-style test of crabkv serve --cluster:
// nodes run as processes on loopback, each reaching its peers through a
// proxy per link (--raft-dial); concurrent clients SET, GET and DEL a few
// keys through the leader while a nemesis kills nodes with SIGKILL and
// restarts them (some after the others trimmed their logs, so that they
// catch up from a snapshot), pauses them with SIGSTOP and SIGCONT, and
// cuts links one way, both ways, and between a minority and a majority,
// healing after each fault. The recorded history must be linearizable
// (porcupine), and after the last heal every node must hold the same
// values. The short form runs 3 nodes for about 30 s;
// -nemesis.duration and -nemesis.nodes make it longer and larger.
func TestClusterNemesis(t *testing.T) {
	bin, err := exec.LookPath("crabkv")
	if err != nil {
		t.Fatalf("the test binary is not on PATH as crabkv: %v", err)
	}
	duration, nodes := *nemesisDuration, *nemesisNodes
	if duration == 0 {
		duration = 20 * time.Second
	}
	if nodes < 3 {
		t.Fatalf("-nemesis.nodes=%d: a fault test needs 3 nodes or more", nodes)
	}
	seed := *nemesisSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-nemesis.seed), %d nodes, faults for %v", seed, nodes, duration)
	begun := time.Now()
	nc := newNemesisCluster(t, bin, nodes, seed)

	// Raft's traffic goes through the proxies: the leader reached every
	// follower through its links.
	leader := nc.leader()
	for _, id := range nc.ids {
		if id != leader && nc.links[[2]string{leader, id}].acceptedConns() == 0 {
			t.Fatalf("no connection from leader %s to %s went through their link's proxy", leader, id)
		}
	}

	h := newHistory()
	keys := []string{"a", "b", "c", "d"}
	var addrs []string
	for _, id := range nc.ids {
		addrs = append(addrs, nc.addr[id])
	}
	clients := 2 * nodes
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for id := range clients {
		c := newNemesisClient(t, addrs)
		c.at = id % len(addrs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.run(ctx, id, c, keys)
		}()
	}
	t.Cleanup(func() { stop(); wg.Wait() })

	// Faults, one at a time, in rounds of every kind in a random order,
	// until the duration is over and every kind has run.
	deadline := time.Now().Add(duration)
	for round := 0; round == 0 || time.Now().Before(deadline); round++ {
		kinds := slices.Clone(nemesisFaults)
		nc.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
		for _, kind := range kinds {
			if round > 0 && !time.Now().Before(deadline) {
				break
			}
			hold := 500*time.Millisecond + time.Duration(nc.rng.IntN(1500))*time.Millisecond
			what := nc.inject(kind, hold, h)
			t.Logf("%6.1fs %-16s %s for %v", time.Since(h.start).Seconds(), kind, what, hold.Round(time.Millisecond))
			time.Sleep(time.Duration(500+nc.rng.IntN(1000)) * time.Millisecond)
		}
	}

	// Healed: the cluster agrees on a leader and takes writes again.
	nc.waitAgreed()
	healed := h.now()
	waitUntil(t, "a write acknowledged after the last heal", func() bool {
		_, ok := h.firstWriteAfter(healed)
		return ok
	})
	stop()
	wg.Wait()
	final := nc.finalReads(h, keys, clients)
	nc.waitConverged(keys, final)

	elapsed := time.Since(begun)
	acked, unknown := h.counts()
	res, info := porcupine.CheckOperationsVerbose(nemesisModel, h.ops, 5*time.Minute)
	nc.report(h, acked, unknown, res, elapsed)
	switch res {
	case porcupine.Illegal:
		path := filepath.Join(os.TempDir(), fmt.Sprintf("crabkv-nemesis-%d.html", seed))
		if err := porcupine.VisualizePath(nemesisModel, info, path); err == nil {
			t.Logf("the history, drawn: %s", path)
		}
		t.Fatalf("the history is not linearizable (seed %d)", seed)
	case porcupine.Unknown:
		t.Logf("porcupine ran out of time: the history is neither proven linearizable nor not")
	}
}

// finalReads reads every key through the leader, records the reads and
// returns what they found.
func (nc *nemesisCluster) finalReads(h *history, keys []string, client int) map[string]string {
	nc.t.Helper()
	var addrs []string
	for _, id := range nc.ids {
		addrs = append(addrs, nc.addr[id])
	}
	c := newNemesisClient(nc.t, addrs)
	final := map[string]string{}
	for _, k := range keys {
		waitUntil(nc.t, "a read of "+k, func() bool {
			if h.call(context.Background(), client, c, nemesisInput{op: "get", key: k}) != callApplied {
				return false
			}
			h.mu.Lock()
			out := h.ops[len(h.ops)-1].Output.(nemesisOutput)
			h.mu.Unlock()
			final[k] = fmt.Sprint(out.found, " ", out.value)
			return true
		})
	}
	return final
}

// waitConverged waits until every node's own copy (READONLY) holds what
// the final reads found.
func (nc *nemesisCluster) waitConverged(keys []string, final map[string]string) {
	nc.t.Helper()
	ctx := context.Background()
	for _, id := range nc.ids {
		conn := nc.admin[id].Conn()
		waitUntil(nc.t, id+" to hold every acknowledged write", func() bool {
			if conn.ReadOnly(ctx).Err() != nil {
				return false
			}
			for _, k := range keys {
				v, err := conn.Get(ctx, k).Result()
				if err != nil && err != redis.Nil {
					return false
				}
				if fmt.Sprint(err == nil, " ", v) != final[k] {
					return false
				}
			}
			return true
		})
		conn.Close()
	}
}

// report logs what the test checked.
func (nc *nemesisCluster) report(h *history, acked map[string]int, unknown int, res porcupine.CheckResult, elapsed time.Duration) {
	kinds := make([]string, 0, len(nc.faults))
	total := 0
	for k, n := range nc.faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	nc.t.Logf("%d nodes, %v: %d operations recorded (set %d, get %d, del %d acknowledged; %d writes of unknown outcome); refused everywhere %v; unknown %v, for %v",
		len(nc.ids), elapsed.Round(time.Second), len(h.ops), acked["set"], acked["get"], acked["del"], unknown, h.refused, h.unknown, h.why)
	nc.t.Logf("%d faults: %s (%d restarts caught up from a snapshot); porcupine: %s", total, strings.Join(kinds, ", "), nc.fromSnapshot, res)
	if len(nc.failovers) > 0 {
		f := slices.Clone(nc.failovers)
		slices.Sort(f)
		nc.t.Logf("failover (leader SIGKILLed → next write acknowledged), %d trials: median %v, min %v, max %v, all %v",
			len(f), f[len(f)/2].Round(time.Millisecond), f[0].Round(time.Millisecond), f[len(f)-1].Round(time.Millisecond), f)
	}
}
