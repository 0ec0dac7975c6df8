package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// Rows outside the panes: title, two gauge lines, status and help footer.
const chromeRows = 5

// Smallest useful terminal; below it the panes would be unreadable.
const minWidth, minHeight = 40, 12

func (m *Model) setSize(w, h int) {
	m.width, m.height = w, h
	m.help.Width = w
	m.gauge.SetSize(w)
	m.layout()
}

// layout gives each pane its inner size from the window size.
func (m *Model) layout() {
	inner := max(m.height-m.chromeRows()-2, 1)
	lw := m.listWidth()
	m.list.SetSize(max(lw-2, 1), inner)
	m.find.SetSize(max(lw-2, 1), inner)
	m.viewer.SetSize(max(m.width-lw-2, 1), inner)
	m.layoutFind()
	if m.formOpen() { // the zero Form has no textarea to size
		m.form.SetSize(max(m.width-lw-2, 1), inner)
	}
}

// listWidth is the outer width of the key list: two fifths of the window,
// within sensible bounds.
func (m Model) listWidth() int {
	return min(max(m.width*2/5, 24), 64, m.width/2)
}

// View draws the whole screen. It reads only the model, never the store.
func (m Model) View() string {
	if m.width < minWidth || m.height < minHeight {
		msg := fmt.Sprintf("The window is %d×%d; the inspector needs at least %d×%d.",
			m.width, m.height, minWidth, minHeight)
		return ansi.Hardwrap(ansi.Wordwrap(msg, max(m.width, 1), ""), max(m.width, 1), true)
	}
	parts := []string{m.titleView(), m.gauge.View(), m.mainView(), m.statusView(), m.footerView()}
	if m.cluster != nil {
		parts = slices.Insert(parts, 1, m.clusterView())
	}
	return strings.Join(parts, "\n")
}

func (m Model) titleView() string {
	s := m.common.Styles
	left := s.Title.Render("CrabKv") + " " + s.TitleDir.Render(Escape(m.store.Name()))
	if m.cfg.ReadOnly {
		left += " " + s.Badge.Render("READ-ONLY")
	}
	if m.writerPID != 0 {
		left += " " + s.Badge.Render("LIVE") + " " + s.Muted.Render("written by "+m.writerLabel())
	}
	count := s.Muted.Render(countKeys(m.list.Total()))
	if !m.list.Loaded() {
		count = s.Muted.Render("loading keys…")
	}
	if n := m.list.MarkedCount(); n > 0 {
		count = s.Mark.Render(groupDigits(n)+" marked") + s.Muted.Render(" · ") + count
	}
	return joinEnds(left, count, m.width)
}

func (m Model) mainView() string {
	h := max(m.height-m.chromeRows(), 3)
	if m.state == stateHelp {
		lines := m.helpLines()
		return m.box(strings.Join(lines[min(m.helpOffset, len(lines)):], "\n"), m.width, h, true)
	}
	if m.findOpen() {
		return m.findMainView(h)
	}
	lw := m.listWidth()
	right := m.rightView()
	if m.formOpen() {
		right = m.form.View()
	}
	left := m.box(m.leftView(), lw, h, m.focus == paneList && !m.formOpen())
	return lipgloss.JoinHorizontal(lipgloss.Top, left, m.box(right, m.width-lw, h, m.focus == paneViewer || m.formOpen()))
}

// box frames content in a pane w by h cells including the border. Lines are
// cut and padded here so a long line can never wrap and push the layout.
func (m Model) box(content string, w, h int, focused bool) string {
	iw, ih := max(w-2, 1), max(h-2, 1)
	lines := strings.Split(content, "\n")
	if len(lines) > ih {
		lines = lines[:ih]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, iw, "")
	}
	for len(lines) < ih {
		lines = append(lines, "")
	}
	st := m.common.Styles.Pane
	if focused {
		st = m.common.Styles.PaneFocused
	}
	return st.Width(iw).Height(ih).Render(strings.Join(lines, "\n"))
}

// formOpen reports whether the form fills the right pane.
func (m Model) formOpen() bool {
	return m.state == stateForm || m.state == stateConfirmOverwrite
}

// helpLines is the help screen, line by line, wrapped to the window.
func (m Model) helpLines() []string {
	h := m.help
	h.ShowAll = true
	h.Width = 0 // the pane cuts; columns that do not fit are scrolled to
	s := m.common.Styles
	notes := []string{
		"Filter: type a substring, or ^ and a prefix (^user:). A filter in lower case ignores case; one with a capital letter matches it exactly. Enter keeps the filter, esc clears it.",
		"Gauge: stale bytes (█) against live bytes (▒); ┃ marks the stale share at which the store compacts by itself.",
		`Characters that are not printable in keys and values are shown escaped (\x1b, \u200b), never sent to the terminal.`,
		"e edits in place when the value is plain text; a value the text editor would change (tabs, CR, control bytes, invalid UTF-8) opens in $EDITOR instead. y and Y copy the key or value to the clipboard (OSC 52).",
		"Expiring keys: ◔ in the list marks a key with an expiry; the viewer counts down its time left, and the key leaves the list when it expires. In the form (n, e), tab reaches the TTL field: empty keeps the key's expiry (a new key gets none), 0 or none clears it, a duration (90s, 10m, 24h) sets it from the save.",
		`Search values: f asks for text or \xNN bytes (\n, \t, \\ too) and lists, in key order, the keys whose values hold it, as the store is scanned; esc stops the scan, and again goes back to the keys. Sizes: s lists the largest values first (the top 10,000), S shows a summary: keys, bytes, the largest keys, expiring and encoded keys, and sizes by power of two.`,
		"Marks: space marks the key under the cursor, a every key the filter shows, u clears them. With keys marked, D deletes them (in atomic batches, after asking) and x exports them; with none, D and x take the keys shown. x writes the lines of crabkv export, which crabkv import reads back.",
		"Tree: t groups the keys by / or : (the one more keys contain; s switches), each group with its number of keys and the total size of their values, filled in by a scan in the background. enter or → opens a group or shows a key's value, ← closes a group, esc goes back to the list.",
		"History: h lists the selected key's records still in the log, oldest first, until a compaction drops them: offset, size, how many writes came after, deletes and the current one marked. enter shows one, read-only; R writes it back as the key's value after asking, without an expiry unless that version's is still ahead.",
		"q, esc or ? closes this help.",
	}
	iw := max(m.width-2, 10)
	var out []string
	out = append(out, s.PaneTitle.Render("CrabKv inspector"), "")
	for _, col := range m.common.KeyMap.fullHelpColumns() {
		out = append(out, strings.Split(h.View(col), "\n")...)
		out = append(out, "")
	}
	for _, n := range notes {
		out = append(out, strings.Split(s.Muted.Render(ansi.Wordwrap(n, iw, "")), "\n")...)
	}
	return out
}

// helpRows is how many lines of help the pane shows at once.
func (m Model) helpRows() int { return max(m.height-m.chromeRows()-2, 1) }

func (m Model) statusView() string {
	if m.state == stateExportPath {
		return ansi.Truncate(m.exportInput.View(), m.width, "…")
	}
	return ansi.Truncate(m.status.view(m.common.Styles), m.width, "…")
}

func (m Model) footerView() string {
	var km help.KeyMap = browseHelp{k: m.common.KeyMap, marked: m.list.MarkedCount()}
	switch {
	case m.state == stateExportPath:
		km = promptHelp{m.common.KeyMap}
	case m.state == stateForm:
		km = formHelp{k: m.common.KeyMap, twoFields: true}
	case m.state == stateConfirmDelete, m.state == stateConfirmOverwrite, m.state == stateConfirmExport:
		km = confirmHelp{m.common.KeyMap}
	case m.state == stateHelp:
		km = helpScreenHelp{m.common.KeyMap}
	case m.find.Shown():
		km = findHelp{k: m.common.KeyMap, typing: m.find.typing, running: m.find.running}
	case m.list.Filtering():
		km = filterHelp{m.common.KeyMap}
	case m.findOpen():
		km = m.findHelp()
	}
	keep := 0
	switch km.(type) {
	case browseHelp, findHelp:
		keep = 2 // help and quit
	}
	return m.fitHelp(km.ShortHelp(), keep)
}

// fitHelp renders the bindings that fit the width. It drops the ones
// before the last keep, from the last of them back: the lists put the
// bindings that matter most first.
func (m Model) fitHelp(bindings []key.Binding, keep int) string {
	h := m.help
	h.Width = 0
	bindings = slices.Clone(bindings)
	for {
		v := h.ShortHelpView(bindings)
		if lipgloss.Width(v) <= m.width || len(bindings) <= keep {
			return ansi.Truncate(v, m.width, "…")
		}
		i := max(len(bindings)-keep-1, 0)
		bindings = slices.Delete(bindings, i, i+1)
	}
}

// writerLabel names the process that writes the store: "pid 4242 (app)".
func (m Model) writerLabel() string {
	l := fmt.Sprintf("pid %d", m.writerPID)
	if m.writerName != "" {
		l += " (" + Escape(m.writerName) + ")"
	}
	return l
}
