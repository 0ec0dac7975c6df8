package remote

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/tui"
)

// A node of a crabkv cluster (crabkv serve --cluster).
//
// Every connection sends READONLY when it opens, so that the inspector
// browses the copy of the node it is connected to, leader or follower,
// as it is. Following the redirects of reads instead would show the
// leader's data under the follower's name, would need a leader at all to
// show anything (a node cut off from the majority could not be looked
// at), and would cost a round of leadership checks for every page. What
// the node's copy lags behind is on the cluster line: its commit and
// applied indexes, and the time since it last heard from the leader.
//
// Writes still go to the leader: a follower answers them "MOVED 0
// host:port" without writing anything, and the store sends the write
// again, once, to that address, on a client of its own (onLeader). The
// inspector then sees its own write when the node it browses applies it.

// clusterSection is the INFO section of a cluster node.
const clusterSection = "cluster"

// readOnlyOnConnect asks each new connection to serve reads from the
// node's own copy. A server that is not a cluster node may refuse
// READONLY (Redis without cluster mode does): the connection is used as
// it is.
func readOnlyOnConnect(ctx context.Context, cn *redis.Conn) error {
	_ = cn.ReadOnly(ctx).Err()
	return nil
}

// clusterInfo reads INFO cluster: nil for a server that is not a cluster
// node, which is then not asked again.
func (s *Store) clusterInfo() *tui.ClusterInfo {
	if s.noCluster.Load() {
		return nil
	}
	text, err := s.rdb.Info(ctx(), clusterSection).Result()
	f := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			f[name] = value
		}
	}
	if err != nil || f["cluster_enabled"] != "1" || f["cluster_node_id"] == "" {
		if err == nil || unknownCommand(err) {
			s.noCluster.Store(true)
		}
		return nil
	}
	num := func(name string) uint64 {
		n, _ := strconv.ParseUint(f[name], 10, 64) // a missing field reads as 0
		return n
	}
	c := &tui.ClusterInfo{
		NodeID: f["cluster_node_id"], Role: f["cluster_role"],
		LeaderID: f["cluster_leader_id"], LeaderAddr: f["cluster_leader_addr"],
		Term: num("cluster_term"), CommitIndex: num("cluster_commit_index"), AppliedIndex: num("cluster_applied_index"),
		LastContact: -1,
	}
	if ms, err := strconv.ParseInt(f["cluster_last_contact_ms"], 10, 64); err == nil {
		c.LastContact = time.Duration(ms) * time.Millisecond
	}
	return c
}

// leaders holds the clients of the leaders writes were redirected to, by
// address.
type leaders struct {
	mu      sync.Mutex // guards clients
	clients map[string]*redis.Client
}

// onLeader runs write on the node the store is connected to, and once
// more on the leader if that node redirects it there (see above).
func (s *Store) onLeader(write func(c *redis.Client) error) error {
	err := write(s.rdb)
	addr, ok := movedTo(err)
	if !ok {
		return err
	}
	return write(s.leaders.client(s.opts, addr))
}

// movedTo returns the address of a "MOVED slot host:port" error.
func movedTo(err error) (string, bool) {
	var re redis.Error
	if !errors.As(err, &re) {
		return "", false
	}
	f := strings.Fields(re.Error())
	if len(f) != 3 || f[0] != "MOVED" {
		return "", false
	}
	return f[2], true
}

// client returns the client of the node at addr, with the options of the
// store's own but for the address.
func (l *leaders) client(base *redis.Options, addr string) *redis.Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.clients[addr]; ok {
		return c
	}
	if l.clients == nil {
		l.clients = map[string]*redis.Client{}
	}
	opts := *base
	opts.Addr = addr
	c := redis.NewClient(&opts)
	l.clients[addr] = c
	return c
}

// close closes the leaders' clients.
func (l *leaders) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, c := range l.clients {
		errs = append(errs, c.Close())
	}
	l.clients = nil
	return errors.Join(errs...)
}
