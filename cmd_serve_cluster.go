package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/crabkv/crabkv/cluster"
	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/server"
)

// serveClusterFlags are serve's flags for a cluster node.
type serveClusterFlags struct {
	enabled   bool
	nodeID    string
	raftAddr  string
	bootstrap bool
	join      string
	fresh     bool
	dial      string
	trailing  uint64
}

func clusterFlags(fs *flag.FlagSet) *serveClusterFlags {
	cf := &serveClusterFlags{}
	fs.BoolVar(&cf.enabled, "cluster", false, "serve as a node of a replicated cluster (with --node-id and --raft-addr)")
	fs.StringVar(&cf.nodeID, "node-id", "", "the node's `id` in the cluster, unique and stable")
	fs.StringVar(&cf.raftAddr, "raft-addr", "", "`host:port` the node talks raft on; peers must reach it")
	fs.BoolVar(&cf.bootstrap, "bootstrap", false, "start a new cluster of this node (the first node only)")
	fs.StringVar(&cf.join, "join", "", "ask the cluster of the node serving clients at `host:port` to add this node")
	fs.BoolVar(&cf.fresh, "new", false, "start a node that has never been a member, with no state, to be added with crabkv cluster join")
	fs.Uint64Var(&cf.trailing, "raft-trailing-logs", 0, "how many `entries` raft keeps in its log after a snapshot, for followers slightly behind (0: 10240)")
	fs.StringVar(&cf.dial, "raft-dial", "", "reach these members through other addresses than their raft addresses (a proxy, a tunnel): `id=host:port[,id=host:port...]`")
	return cf
}

// check reports a combination of flags that cannot work.
func (cf *serveClusterFlags) check(noSync bool) error {
	if !cf.enabled {
		if cf.nodeID != "" || cf.raftAddr != "" || cf.bootstrap || cf.join != "" || cf.fresh || cf.dial != "" || cf.trailing != 0 {
			return errors.New("--node-id, --raft-addr, --raft-dial, --raft-trailing-logs, --bootstrap, --join and --new need --cluster")
		}
		return nil
	}
	switch {
	case cf.nodeID == "":
		return errors.New("--cluster needs --node-id")
	case cf.raftAddr == "":
		return errors.New("--cluster needs --raft-addr")
	case cf.bootstrap && cf.join != "":
		return errors.New("--bootstrap starts a new cluster; --join joins one: give one of them")
	case cf.fresh && (cf.bootstrap || cf.join != ""):
		return errors.New("--new waits to be added with crabkv cluster join; --bootstrap and --join do without: give one of them")
	case noSync:
		return errors.New("--no-sync: a cluster node acknowledges only synced writes")
	}
	_, err := parseRaftDial(cf.dial)
	return err
}

// parseRaftDial parses --raft-dial: a comma-separated list of id=host:port.
func parseRaftDial(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	dial := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(item, "=")
		if _, _, err := net.SplitHostPort(addr); !ok || id == "" || err != nil {
			return nil, fmt.Errorf("--raft-dial: %q: want id=host:port", item)
		}
		if _, dup := dial[id]; dup {
			return nil, fmt.Errorf("--raft-dial: %s given twice", id)
		}
		dial[id] = addr
	}
	return dial, nil
}

// openClusterNode opens the node in the data directory, joins it to a
// cluster if --join says so, and returns it as a server store with the
// function that closes it.
func (e *env) openClusterNode(cf *serveClusterFlags, clientAddr, password string, policy compact.Policy, logger *slog.Logger) (server.Store, func(int) int, error) {
	// The client address is advertised to the other nodes, which send
	// clients there.
	if host, _, err := net.SplitHostPort(clientAddr); err != nil || net.ParseIP(host).IsUnspecified() {
		return nil, nil, fmt.Errorf("serve: --cluster: --addr must be an address clients can reach, not %s", clientAddr)
	}
	dir := e.dataDir()
	if err := ensureDir(dir); err != nil {
		return nil, nil, err
	}
	dial, err := parseRaftDial(cf.dial)
	if err != nil {
		return nil, nil, err
	}
	// A node with no raft state starts only as a new one: a member whose
	// directory was lost, restarted as it was, would vote from no state.
	node, err := cluster.Open(cluster.Config{
		ID: cf.nodeID, RaftAddr: cf.raftAddr, Dir: dir, Bootstrap: cf.bootstrap, Dial: dial,
		RequireState: cf.join == "" && !cf.fresh,
		TrailingLogs: cf.trailing, KV: &kv.Options{Compaction: policy},
		Log: e.stderr, LogLevel: "warn",
	})
	if errors.Is(err, cluster.ErrNoState) {
		return nil, nil, fmt.Errorf("serve: --cluster: %w: a new node needs --join host:port (or --bootstrap to start a new cluster, or --new for one that crabkv cluster join adds). If node %s was a member and its directory was lost, remove it first (crabkv cluster leave %s), then start it with --join; not with --new, which would let it vote from no state", err, cf.nodeID, cf.nodeID)
	}
	if err != nil {
		return nil, nil, err
	}
	store := cluster.NewStore(node, clientAddr)
	closeNode := func(code int) int {
		store.Close()
		if err := node.Close(); err != nil {
			return e.fail(fmt.Errorf("close: %w", err))
		}
		return code
	}
	if cf.join != "" {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		args := []string{"join", cf.nodeID, node.Addr(), clientAddr}
		if node.Fresh() {
			args = append(args, "new") // refused if the id is a member already
		}
		if _, err := clusterCall(ctx, cf.join, password, args...); err != nil {
			closeNode(exitError)
			return nil, nil, fmt.Errorf("serve: --join %s: %w", cf.join, err)
		}
		logger.Info("joined the cluster", "via", cf.join)
	}
	_, _ = fmt.Fprintf(e.stderr, "crabkv: node %s, raft on %s\n", cf.nodeID, node.Addr()) // best effort
	return store, closeNode, nil
}
