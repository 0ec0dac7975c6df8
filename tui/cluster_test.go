package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// The figures of a cluster node put a line under the title: the node's
// role, the leader, the term, the indexes and the lag. The panes give it
// the row, and take it back when the figures no longer name a cluster.
func TestClusterLine(t *testing.T) {
	db := openTestDB(t, "", "a", "1")
	m := loadedModel(t, db)
	m = update(t, m, tea.WindowSizeMsg{Width: 130, Height: 30}) // room for every part of the line
	plain := m.View()
	if strings.Contains(plain, "cluster") {
		t.Fatalf("a store outside any cluster shows a cluster line:\n%s", plain)
	}
	c := &ClusterInfo{NodeID: "n2", Role: "follower", LeaderID: "n1", LeaderAddr: "127.0.0.1:6381",
		Term: 3, CommitIndex: 1041, AppliedIndex: 1040, LastContact: 12 * time.Millisecond}
	m = update(t, m, statsMsg{stats: Stats{Keys: 1, Cluster: c}})
	screen := ansi.Strip(m.View())
	lines := strings.Split(screen, "\n")
	want := "cluster n2 FOLLOWER · leader n1 127.0.0.1:6381 · term 3 · commit 1,041 applied 1,040 · lag 1 · contact 12ms ago"
	if strings.TrimRight(lines[1], " ") != want {
		t.Fatalf("line 2 = %q, want %q; screen:\n%s", lines[1], want, screen)
	}
	if got, was := len(lines), len(strings.Split(plain, "\n")); got != was {
		t.Fatalf("the screen has %d lines with the cluster line, %d without: the panes did not give it a row", got, was)
	}

	lead := *c
	lead.Role, lead.NodeID, lead.LastContact = "leader", "n1", -1
	m = update(t, m, statsMsg{stats: Stats{Keys: 1, Cluster: &lead}})
	if line := ansi.Strip(strings.Split(m.View(), "\n")[1]); !strings.Contains(line, "n1 LEADER · this node leads") || strings.Contains(line, "contact") {
		t.Fatalf("leader's line = %q", line)
	}
	none := ClusterInfo{NodeID: "n3", Role: "candidate", LastContact: -1}
	m = update(t, m, statsMsg{stats: Stats{Keys: 1, Cluster: &none}})
	if line := ansi.Strip(strings.Split(m.View(), "\n")[1]); !strings.Contains(line, "CANDIDATE · no leader") {
		t.Fatalf("line without a leader = %q", line)
	}

	// In a narrow window the last parts give way, the lag last of all.
	m = update(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	m = update(t, m, statsMsg{stats: Stats{Keys: 1, Cluster: c}})
	if line := ansi.Strip(strings.Split(m.View(), "\n")[1]); !strings.HasSuffix(strings.TrimRight(line, " "), "lag 1") {
		t.Fatalf("line at 100 columns = %q", line)
	}
	m = update(t, m, tea.WindowSizeMsg{Width: 130, Height: 30})
	m = update(t, m, statsMsg{stats: Stats{Keys: 1}})
	if got := m.View(); got != plain {
		t.Fatalf("after the cluster went away the screen is\n%s\nwant\n%s", got, plain)
	}
}
