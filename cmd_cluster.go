package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/server"
)

var clusterVerb = verb{
	name:    "cluster",
	args:    "status | join <id> <raft-host:port> [<client-host:port>] | leave <id> | snapshot",
	summary: "show or change the members of a cluster of crabkv serve --cluster",
	help: `
Cluster talks to a running node of a cluster (crabkv serve --cluster) at
--addr over the Redis protocol, with the command CRABKV.CLUSTER.

  status   prints the node's view: its role, the term, the commit and
           applied indexes, the leader and the members.
  join     adds a node, started with --cluster --new, as a voting member;
           its client address lets the others redirect clients to it when
           it leads. (serve --join does this itself.)
  leave    removes a member. A leader that removes itself steps down. A
           removed node says so to every command; restarted with --join,
           it joins again.
  snapshot has the node take a snapshot now and trim raft's log to the
           entries --raft-trailing-logs keeps; a node that joins later
           receives the snapshot instead of the entries trimmed.

Join and leave are served by the leader; a node that is not the leader
answers with the leader's address, which cluster follows once. The
password comes from --requirepass or $` + passwordEnv + `.`,
	run: runCluster,
}

// clusterTimeout bounds one call of the cluster verb, and how long serve
// --join keeps asking.
const clusterTimeout = 60 * time.Second

func runCluster(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	addr := fs.String("addr", server.DefaultAddr, "`host:port` of a node's client port")
	pass := fs.String("requirepass", "", "the nodes' `password` (default $"+passwordEnv+")")
	rest, code, ok := e.parse(v, fs, args, 1, 4)
	if !ok {
		return code
	}
	if *pass == "" {
		*pass = e.getenv(passwordEnv)
	}
	usage := func() int {
		return e.fail(fmt.Errorf("cluster: usage: crabkv cluster %s", v.args))
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	switch sub := rest[0]; {
	case sub == "status" && len(rest) == 1:
		fields, err := clusterCall(ctx, *addr, *pass, "status")
		if err != nil {
			return e.fail(err)
		}
		list, ok := fields.([]any)
		if !ok {
			return e.fail(fmt.Errorf("cluster: unexpected reply %v", fields))
		}
		for i := 0; i+1 < len(list); i += 2 {
			if _, err := fmt.Fprintf(e.stdout, "%s: %v\n", strings.TrimPrefix(fmt.Sprint(list[i]), "cluster_"), list[i+1]); err != nil {
				return e.fail(err)
			}
		}
		return exitOK
	case sub == "join" && (len(rest) == 3 || len(rest) == 4), sub == "leave" && len(rest) == 2, sub == "snapshot" && len(rest) == 1:
		if _, err := clusterCall(ctx, *addr, *pass, rest...); err != nil {
			return e.fail(err)
		}
		_, _ = fmt.Fprintf(e.stderr, "crabkv: %s: done\n", strings.Join(rest, " ")) // best effort
		return exitOK
	}
	return usage()
}

// clusterCall sends CRABKV.CLUSTER args to the node at addr, following one
// -MOVED redirect to the leader and waiting out -CLUSTERDOWN (an election)
// until ctx ends.
func clusterCall(ctx context.Context, addr, pass string, args ...string) (any, error) {
	cmd := []any{"crabkv.cluster"}
	for _, a := range args {
		cmd = append(cmd, a)
	}
	moved := false
	for {
		c := redis.NewClient(&redis.Options{Addr: addr, Password: pass, Protocol: 2, MaxRetries: -1})
		reply, err := c.Do(ctx, cmd...).Result()
		_ = c.Close() // nothing was left to flush
		var rerr redis.Error
		switch {
		case err == nil:
			return reply, nil
		case errors.As(err, &rerr) && strings.HasPrefix(err.Error(), "MOVED ") && !moved:
			f := strings.Fields(err.Error())
			addr, moved = f[len(f)-1], true
			continue
		case errors.As(err, &rerr) && strings.HasPrefix(err.Error(), "CLUSTERDOWN"):
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("cluster: %s: %w (%v)", addr, err, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		return nil, fmt.Errorf("cluster: %s: %w", addr, err)
	}
}
