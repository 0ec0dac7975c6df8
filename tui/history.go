package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/crabkv/crabkv/kv"
)

// HistoryPanel lists the versions of one key still in the log, oldest
// first, and shows the one chosen in a viewer of its own, read-only.
type HistoryPanel struct {
	common *Common

	key      string
	versions []kv.Version
	loading  bool
	err      error
	seq      int // number of the latest load; older replies are dropped

	cursor, offset int
	shown          int // the version in the viewer; -1 for none
	viewer         Viewer
	width, height  int
}

// NewHistoryPanel returns an empty panel.
func NewHistoryPanel(c *Common) HistoryPanel {
	return HistoryPanel{common: c, shown: -1, viewer: NewViewer(c)}
}

// historyLoadedMsg carries the versions of a key, or why they could not
// be listed.
type historyLoadedMsg struct {
	seq      int
	key      string
	versions []kv.Version
	err      error
}

// versionLoadedMsg carries the value of one version.
type versionLoadedMsg struct {
	seq   int
	index int
	value []byte
	err   error
}

// restoreDoneMsg says how the restore of a version went.
type restoreDoneMsg struct {
	key    string
	offset int64
	ttl    time.Duration
	err    error
}

func (historyLoadedMsg) treeMsg() {}
func (versionLoadedMsg) treeMsg() {}
func (restoreDoneMsg) treeMsg()   {}

// errNoHistory is the history's error for a store that keeps no log the
// inspector can read: a server over the network.
var errNoHistory = errors.New("this store does not show its log (a server over the network): history is available on a store opened from its directory")

// Load starts listing key's versions.
func (h *HistoryPanel) Load(s Store, k string) tea.Cmd {
	h.seq++
	if k != h.key {
		h.versions, h.cursor, h.offset = nil, 0, 0
	}
	h.key, h.loading, h.err, h.shown = k, true, nil, -1
	h.viewer.Clear()
	seq := h.seq
	return func() tea.Msg {
		hs, ok := s.(HistoryStore)
		if !ok {
			return historyLoadedMsg{seq: seq, key: k, err: errNoHistory}
		}
		vs, err := hs.History(k)
		return historyLoadedMsg{seq: seq, key: k, versions: vs, err: err}
	}
}

// loaded takes the versions in, and shows the latest.
func (h *HistoryPanel) loaded(s Store, msg historyLoadedMsg) tea.Cmd {
	if msg.seq != h.seq {
		return nil
	}
	h.loading, h.versions, h.err = false, msg.versions, msg.err
	if len(h.versions) == 0 {
		return nil
	}
	h.cursor = len(h.versions) - 1
	h.clamp()
	return h.view(s)
}

// view loads the version under the cursor into the viewer.
func (h *HistoryPanel) view(s Store) tea.Cmd {
	v, ok := h.selected()
	if !ok {
		return nil
	}
	h.seq++
	h.shown = h.cursor
	h.viewer.Clear() // each version picks its own view mode
	h.viewer.SetLoading(h.key)
	if v.Tombstone {
		h.viewer.SetError(h.key, "deleted here: a delete has no value")
		return nil
	}
	seq, i, hs := h.seq, h.cursor, s.(HistoryStore)
	return func() tea.Msg {
		val, err := hs.VersionValue(v)
		return versionLoadedMsg{seq: seq, index: i, value: val, err: err}
	}
}

// valueLoaded shows a version's value.
func (h *HistoryPanel) valueLoaded(msg versionLoadedMsg) {
	if msg.seq != h.seq || msg.index >= len(h.versions) {
		return
	}
	v := h.versions[msg.index]
	if msg.err != nil {
		text := explain(msg.err)
		if errors.Is(msg.err, kv.ErrLogReplaced) {
			text = "a compaction has dropped this version since it was listed: r lists the versions again"
		}
		h.viewer.SetError(h.key, text)
		return
	}
	h.viewer.SetValue(h.key, msg.value, ValueInfo{
		Offset: v.Offset, RecordSize: v.RecordSize, ValueSize: v.ValueSize,
		StoredSize: v.StoredValueSize, Codec: v.Codec, Expires: v.Expires,
	})
}

// selected returns the version under the cursor.
func (h HistoryPanel) selected() (kv.Version, bool) {
	if h.cursor < 0 || h.cursor >= len(h.versions) {
		return kv.Version{}, false
	}
	return h.versions[h.cursor], true
}

// Shown returns the version in the viewer and its value, once loaded.
func (h HistoryPanel) Shown() (kv.Version, []byte, bool) {
	val, ok := h.viewer.Value()
	if h.shown < 0 || h.shown >= len(h.versions) || !ok || h.viewer.loading {
		return kv.Version{}, nil, false
	}
	return h.versions[h.shown], val, true
}

// SetSize sets the size of the two panes: the list's inner size, and the
// viewer's.
func (h *HistoryPanel) SetSize(listW, viewW, height int) {
	h.width, h.height = listW, height
	h.viewer.SetSize(viewW, max(height-1, 1))
	h.clamp()
}

// Update moves the cursor, or views the version under it.
func (h HistoryPanel) Update(s Store, msg tea.KeyMsg) (HistoryPanel, tea.Cmd) {
	km := h.common.KeyMap
	switch {
	case key.Matches(msg, km.Expand):
		return h, h.view(s)
	case key.Matches(msg, km.CycleView):
		return h, h.viewer.CycleMode()
	case key.Matches(msg, km.PageUp, km.PageDown) && h.shown >= 0:
		var cmd tea.Cmd
		h.viewer, cmd = h.viewer.Update(msg)
		return h, cmd
	case key.Matches(msg, km.Up):
		h.cursor--
	case key.Matches(msg, km.Down):
		h.cursor++
	case key.Matches(msg, km.Top):
		h.cursor = 0
	case key.Matches(msg, km.Bottom):
		h.cursor = len(h.versions) - 1
	}
	h.clamp()
	return h, nil
}

func (h *HistoryPanel) clamp() {
	h.cursor = min(max(h.cursor, 0), max(len(h.versions)-1, 0))
	rows := max(h.height-1, 1)
	h.offset = min(h.offset, h.cursor)
	h.offset = max(h.offset, h.cursor-rows+1, 0)
}

// restoreTTL is the expiry a restore of v gives the key: v's, when it is
// still ahead, else none.
func restoreTTL(v kv.Version, now time.Time) time.Duration {
	if v.Expires.IsZero() || !v.Expires.After(now) {
		return NoTTL
	}
	return v.Expires.Sub(now)
}

// restoreCmd writes value back as key's current value.
func restoreCmd(s Store, k string, v kv.Version, value []byte, ttl time.Duration) tea.Cmd {
	return func() tea.Msg {
		_, err := s.Put(k, value, ttl)
		return restoreDoneMsg{key: k, offset: v.Offset, ttl: ttl, err: err}
	}
}

// ListView draws the list of versions.
func (h HistoryPanel) ListView() string {
	s := h.common.Styles
	var b strings.Builder
	count := countVersions(len(h.versions))
	switch {
	case h.loading:
		count = "reading the log…"
	case h.err != nil:
		count = ""
	}
	title := s.PaneTitle.Render("History") + s.Muted.Render(" of ") + Escape(h.key)
	b.WriteString(joinEnds(ansi.Truncate(title, max(h.width-lipgloss.Width(count)-1, 8), "…"), s.Muted.Render(count), h.width))
	switch {
	case h.err != nil:
		b.WriteString("\n" + s.Error.Render(ansi.Wordwrap(explain(h.err), max(h.width, 10), "")))
	case !h.loading && len(h.versions) == 0:
		b.WriteString("\n" + s.Muted.Render("no record of this key in the log"))
	}
	end := min(h.offset+max(h.height-1, 1), len(h.versions))
	now := h.common.Now()
	for i := h.offset; i < end; i++ {
		b.WriteString("\n" + h.rowView(i, now))
	}
	return b.String()
}

// rowView draws one version: its offset, its size, how many writes of the
// key came after it, and what it is.
func (h HistoryPanel) rowView(i int, now time.Time) string {
	s := h.common.Styles
	v := h.versions[i]
	size := FormatBytes(int64(v.ValueSize))
	var notes []string
	switch {
	case v.Tombstone:
		size = "deleted"
	case v.Current && v.Expired(now):
		notes = append(notes, "current, expired")
	case v.Current:
		notes = append(notes, "current")
	case v.Expired(now):
		notes = append(notes, "expired")
	}
	if !v.Expires.IsZero() && !v.Expired(now) {
		notes = append(notes, "expires in "+FormatRemaining(v.Expires.Sub(now)))
	}
	if v.Batch {
		notes = append(notes, "batch")
	}
	age := "latest"
	if back := len(h.versions) - 1 - i; back > 0 {
		age = fmt.Sprintf("%d back", back)
	}
	line := fmt.Sprintf("@%-10s %9s %-7s %s", groupDigits(int(v.Offset)), size, age, strings.Join(notes, ", "))
	line = joinEnds(line, "", max(h.width-1, 1))
	switch {
	case i == h.cursor:
		return s.Selected.Render("▌" + line)
	case v.Current:
		return " " + s.OK.Render(line)
	case v.Tombstone:
		return " " + s.Muted.Render(line)
	}
	return " " + s.Item.Render(line)
}

// ValueView draws the version shown, under a line that says which it is.
func (h HistoryPanel) ValueView() string {
	s := h.common.Styles
	top := s.Muted.Render("enter views the version under the cursor")
	if h.shown >= 0 && h.shown < len(h.versions) {
		v := h.versions[h.shown]
		what := "read-only"
		if v.Current {
			what = "current, read-only"
		}
		top = s.Badge.Render(fmt.Sprintf("version at offset %d", v.Offset)) + s.Muted.Render(" · "+what)
	}
	return top + "\n" + h.viewer.View()
}

// countVersions says how many versions there are: "1 version", "3 versions".
func countVersions(n int) string {
	if n == 1 {
		return "1 version"
	}
	return groupDigits(n) + " versions"
}
