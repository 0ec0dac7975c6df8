package tui

import (
	"fmt"
	"strings"
	"time"
)

// ClusterInfo is what a store that is one node of a replicated cluster
// (crabkv serve --cluster) says about the cluster, as of the last poll of
// the figures: it fills Stats.Cluster, and the inspector shows it on a
// line under the title.
type ClusterInfo struct {
	NodeID string
	// Role is "leader", "follower" or "candidate".
	Role string
	// LeaderID and LeaderAddr name the leader and its client address;
	// empty while there is none.
	LeaderID, LeaderAddr string
	Term                 uint64
	// CommitIndex is the last entry of the log this node knows to be
	// committed, AppliedIndex the last it has applied to its store: the
	// difference is how far the data the inspector shows lags what the
	// node knows.
	CommitIndex, AppliedIndex uint64
	// LastContact is how long ago a follower last heard from the leader;
	// negative when not known, or on the leader.
	LastContact time.Duration
}

// Lag is how many committed entries the node has yet to apply.
func (c ClusterInfo) Lag() uint64 {
	if c.CommitIndex > c.AppliedIndex {
		return c.CommitIndex - c.AppliedIndex
	}
	return 0
}

// setCluster keeps the cluster figures of the last poll, and gives the
// panes their new height when the cluster line comes or goes.
func (m *Model) setCluster(c *ClusterInfo) {
	had := m.cluster != nil
	m.cluster = c
	if had != (c != nil) {
		m.layout()
	}
}

// chromeRows is the number of rows outside the panes: the title, the
// cluster line when there is one, the gauge, the status and the footer.
func (m Model) chromeRows() int {
	if m.cluster != nil {
		return chromeRows + 1
	}
	return chromeRows
}

// clusterView is the cluster line: this node's role, the leader, the
// term, the log indexes and the lag.
func (m Model) clusterView() string {
	s, c := m.common.Styles, m.cluster
	role := strings.ToUpper(c.Role)
	if role == "" {
		role = "?"
	}
	leader := s.Warn.Render("no leader")
	switch {
	case c.Role == "leader":
		leader = "this node leads"
	case c.LeaderID != "" || c.LeaderAddr != "":
		leader = "leader " + Escape(strings.TrimSpace(c.LeaderID+" "+c.LeaderAddr))
	}
	parts := []string{
		s.Muted.Render("cluster ") + Escape(c.NodeID) + " " + s.Badge.Render(role),
		leader,
		s.Muted.Render("term ") + fmt.Sprint(c.Term),
		s.Muted.Render("commit ") + groupDigits(int(c.CommitIndex)) + s.Muted.Render(" applied ") + groupDigits(int(c.AppliedIndex)),
		s.Muted.Render("lag ") + groupDigits(int(c.Lag())),
	}
	if c.LastContact >= 0 && c.Role != "leader" {
		parts = append(parts, s.Muted.Render("contact ")+c.LastContact.Round(time.Millisecond).String()+s.Muted.Render(" ago"))
	}
	return fitParts(parts, s.Muted.Render(" · "), m.width)
}
