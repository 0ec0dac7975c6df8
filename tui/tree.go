package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// treeMsg marks the messages of the key tree and the history panel, which
// the root model hands to routeFind.
type treeMsg interface{ treeMsg() }

// Tree is the key tree: the keys grouped by a delimiter (/ or :) into
// collapsible groups, each with the number of keys below it and the total
// size of their values. It is built by a scan of the store in key order,
// in the background; the groups fill in as the scan goes.
type Tree struct {
	common *Common
	store  Store

	root     *treeNode
	delim    byte
	detected bool // delim was chosen from the keys, not switched to
	scan     *treeScan
	seq      int
	scanned  int
	total    int // keys in the store when the scan began; 0 if unknown
	done     bool
	err      error

	rows           []treeRow // the tree as shown
	cursor, offset int
	width, height  int
}

// NewTree returns a closed tree over s.
func NewTree(c *Common, s Store) Tree {
	return Tree{common: c, store: s, root: newTreeNode("")}
}

// Open starts a scan, grouping by delim (0: detect it from the first
// keys), and returns the command that reads its first batch.
func (t *Tree) Open(delim byte) tea.Cmd {
	t.Close()
	t.seq++
	t.root, t.delim, t.detected = newTreeNode(""), delim, delim == 0
	t.scanned, t.total, t.done, t.err = 0, 0, false, nil
	t.rows, t.cursor, t.offset = nil, 0, 0
	t.scan = startTreeScan(t.store, t.seq)
	return t.scan.next()
}

// Close stops a scan under way.
func (t *Tree) Close() {
	t.scan.end()
	t.scan = nil
}

// SetSize sets the pane's inner size.
func (t *Tree) SetSize(w, h int) {
	t.width, t.height = w, h
	t.clamp()
}

// Delimiter is the delimiter the tree groups by; 0 before the first keys.
func (t Tree) Delimiter() byte { return t.delim }

// Done reports whether the scan has read every key.
func (t Tree) Done() bool { return t.done }

// add takes a batch of the scan in, and returns the command that reads
// the next one.
func (t *Tree) add(msg treeBatchMsg) tea.Cmd {
	if msg.seq != t.seq || t.scan == nil {
		return nil // a scan that was stopped
	}
	if t.delim == 0 {
		sample := make([]string, len(msg.keys))
		for i, l := range msg.keys {
			sample[i] = l.key
		}
		t.delim = detectDelimiter(sample)
	}
	t.total = msg.total
	for _, l := range msg.keys {
		t.root.add(l.key, l.size, t.delim)
	}
	t.scanned += len(msg.keys)
	t.refresh()
	if msg.done {
		t.done, t.err, t.scan = true, msg.err, nil
		return nil
	}
	return t.scan.next()
}

// refresh lists the rows again after the tree changed, keeping the
// cursor on the same row where it can.
func (t *Tree) refresh() {
	cur, ok := t.selected()
	t.rows = t.root.rows(0, t.rows[:0])
	if ok {
		for i, r := range t.rows {
			if r.group == cur.group && (r.group != nil || r.leaf.key == cur.leaf.key) {
				t.cursor = i
				break
			}
		}
	}
	t.clamp()
}

// selected returns the row under the cursor.
func (t Tree) selected() (treeRow, bool) {
	if t.cursor < 0 || t.cursor >= len(t.rows) {
		return treeRow{}, false
	}
	return t.rows[t.cursor], true
}

// Update handles a key press in the tree. It returns the key of a leaf
// that was opened, if one was, for the viewer to show.
func (t Tree) Update(msg tea.KeyMsg) (Tree, tea.Cmd, string) {
	km := t.common.KeyMap
	switch {
	case key.Matches(msg, km.TreeDelimiter):
		return t, t.Open(nextDelimiter(t.delim)), ""
	case key.Matches(msg, km.Expand):
		return t, nil, t.expand()
	case key.Matches(msg, km.Collapse):
		t.collapse()
	case key.Matches(msg, km.Up):
		t.cursor--
	case key.Matches(msg, km.Down):
		t.cursor++
	case key.Matches(msg, km.PageUp):
		t.cursor -= t.pageRows()
	case key.Matches(msg, km.PageDown):
		t.cursor += t.pageRows()
	case key.Matches(msg, km.Top):
		t.cursor = 0
	case key.Matches(msg, km.Bottom):
		t.cursor = len(t.rows) - 1
	}
	t.clamp()
	return t, nil, ""
}

// expand opens the group under the cursor, or returns the key under it.
func (t *Tree) expand() string {
	r, ok := t.selected()
	switch {
	case !ok:
		return ""
	case r.group == nil:
		return r.leaf.key
	}
	r.group.open = !r.group.open
	t.refresh()
	return ""
}

// collapse closes the group under the cursor, or, on a closed group or a
// key, the group it is in, moving the cursor there.
func (t *Tree) collapse() {
	r, ok := t.selected()
	if !ok {
		return
	}
	if r.group != nil && r.group.open {
		r.group.open = false
		t.refresh()
		return
	}
	for i := t.cursor - 1; i >= 0; i-- {
		if p := t.rows[i]; p.group != nil && p.depth < r.depth {
			p.group.open = false
			t.cursor = i
			t.refresh()
			return
		}
	}
}

// pageRows is how many rows the pane shows below its header.
func (t Tree) pageRows() int { return max(t.height-1, 1) }

// clamp keeps the cursor on a row and on screen.
func (t *Tree) clamp() {
	t.cursor = min(max(t.cursor, 0), max(len(t.rows)-1, 0))
	rows := t.pageRows()
	t.offset = min(t.offset, t.cursor, max(len(t.rows)-rows, 0)) // no blank rows below the last
	t.offset = max(t.offset, t.cursor-rows+1, 0)
}

// View draws the tree: a header with the delimiter and the scan's
// progress, then the rows on screen.
func (t Tree) View() string {
	var b strings.Builder
	b.WriteString(t.headerView())
	end := min(t.offset+t.pageRows(), len(t.rows))
	for i := t.offset; i < end; i++ {
		b.WriteByte('\n')
		b.WriteString(t.rowView(t.rows[i], i == t.cursor))
	}
	if len(t.rows) == 0 {
		b.WriteByte('\n')
		msg := "no keys"
		if !t.done {
			msg = "scanning…"
		}
		b.WriteString(t.common.Styles.Muted.Render(msg))
	}
	return b.String()
}

func (t Tree) headerView() string {
	s := t.common.Styles
	left := s.PaneTitle.Render("Tree")
	if t.delim != 0 {
		left += s.Muted.Render(fmt.Sprintf(" by %q", string(t.delim)))
	}
	right := countKeys(t.scanned) + " · " + FormatBytes(t.root.bytes)
	switch {
	case t.err != nil:
		right = s.Error.Render("scan failed: " + explain(t.err))
	case !t.done && t.total > 0:
		right = fmt.Sprintf("scanning %d%% · %s", min(100*t.scanned/t.total, 99), right)
	case !t.done:
		right = "scanning · " + right
	}
	return joinEnds(left, s.Muted.Render(right), t.width)
}

// rowView draws a group as "▸ user/  1,204 keys  3.1 MiB", a key as its
// name past its group's prefix and its size.
func (t Tree) rowView(r treeRow, selected bool) string {
	s := t.common.Styles
	indent := strings.Repeat("  ", r.depth)
	var name, figures string
	if r.group != nil {
		mark := "▸ "
		if r.group.open {
			mark = "▾ "
		}
		name = mark + Escape(r.group.prefix[t.parentLen(r):])
		figures = fmt.Sprintf("%s  %s", countKeys(r.group.keys), FormatBytes(r.group.bytes))
	} else {
		name = "  " + Escape(r.leaf.key[t.parentLen(r):])
		figures = FormatBytes(int64(r.leaf.size))
	}
	width := max(t.width-1, 1)
	nameWidth := max(width-lipgloss.Width(figures)-2-len(indent), 4)
	line := joinEnds(indent+truncateMiddle(name, nameWidth), figures, width)
	if selected {
		return s.Selected.Render("▌" + line)
	}
	if r.group != nil {
		return " " + s.Item.Render(line)
	}
	return " " + s.ItemSize.Render(line)
}

// parentLen is the length of the prefix of the group r is shown in: the
// part of its name the rows above already show.
func (t Tree) parentLen(r treeRow) int {
	if r.depth == 0 {
		return 0
	}
	name := r.leaf.key
	if r.group != nil {
		name = r.group.prefix[:len(r.group.prefix)-1] // its own delimiter
	}
	n, d := 0, 0
	for i := 0; i < len(name) && d < r.depth; i++ {
		if name[i] == t.delim {
			d++
			n = i + 1
		}
	}
	return n
}
