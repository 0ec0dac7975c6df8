package cluster

import (
	"errors"
	"fmt"
)

// ErrNoLeader is returned when the cluster has no leader that this node
// knows of: an election is under way, or this node is cut off from a
// majority. Nothing was written. A RESP front-end answers -CLUSTERDOWN.
var ErrNoLeader = errors.New("cluster: no leader")

// ErrLeadershipLost is returned for a write this node proposed as leader
// whose fate it cannot know: it lost leadership before the write was
// committed, and a new leader may yet commit it or drop it. A client that
// must know reads the key back.
var ErrLeadershipLost = errors.New("cluster: leadership lost; the write may or may not have been applied")

// ErrRemoved is returned by calls on a node removed from the cluster
// (RemoveServer): raft shuts down on a member it removes. The node can
// join again once restarted (crabkv serve --join).
var ErrRemoved = errors.New("cluster: this node was removed from the cluster; restart it with --join to join again")

// ErrNoState is returned by Open for a directory with no raft state when
// Config.RequireState is set.
var ErrNoState = errors.New("cluster: no raft state")

// ErrClosed is returned by calls on a closed Node.
var ErrClosed = errors.New("cluster: node is closed")

// ErrNotLeader is returned by a call only the leader can serve, made on
// another node. Leader and LeaderID name the leader this node knows of,
// for a front-end to forward the call to it or redirect the client.
type ErrNotLeader struct {
	Leader   string // the leader's raft address
	LeaderID string
}

func (e *ErrNotLeader) Error() string {
	return fmt.Sprintf("cluster: not the leader; the leader is %s at %s", e.LeaderID, e.Leader)
}
