package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
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
	inner := max(m.height-chromeRows-2, 1)
	lw := m.listWidth()
	m.list.SetSize(max(lw-2, 1), inner)
	m.viewer.SetSize(max(m.width-lw-2, 1), inner)
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
		return fmt.Sprintf("Window too small (%dx%d); crabkv needs at least %dx%d.", m.width, m.height, minWidth, minHeight)
	}
	parts := []string{m.titleView(), m.gauge.View(), m.mainView(), m.statusView(), m.footerView()}
	return strings.Join(parts, "\n")
}

func (m Model) titleView() string {
	s := m.common.Styles
	left := s.Title.Render("CrabKv") + " " + s.TitleDir.Render(Escape(m.db.Dir()))
	if m.cfg.ReadOnly {
		left += " " + s.Badge.Render("READ-ONLY")
	}
	count := fmt.Sprintf("%d keys", len(m.list.all))
	if !m.list.Loaded() {
		count = "loading keys…"
	}
	return joinEnds(left, s.Muted.Render(count), m.width)
}

func (m Model) mainView() string {
	h := max(m.height-chromeRows, 3)
	if m.state == stateHelp {
		return m.box(m.helpView(), m.width, h, true)
	}
	lw := m.listWidth()
	right := m.viewer.View()
	if m.formOpen() {
		right = m.form.View()
	}
	left := m.box(m.list.View(), lw, h, m.focus == paneList && !m.formOpen())
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

func (m Model) helpView() string {
	h := m.help
	h.ShowAll = true
	s := m.common.Styles
	notes := []string{
		"Filter: type a substring, or ^ and a prefix (^user:). Enter keeps the filter, esc clears it.",
		"Gauge: stale bytes (█) against live bytes (▒); ┃ marks the stale share at which the store compacts by itself.",
		`Control characters in keys and values are shown escaped (\x1b), never sent to the terminal.`,
		"Any key closes this help.",
	}
	out := []string{s.PaneTitle.Render("CrabKv inspector"), "", h.View(browseHelp{m.common.KeyMap}), ""}
	for _, n := range notes {
		out = append(out, s.Muted.Render(ansi.Wordwrap(n, max(m.width-2, 10), "")))
	}
	return strings.Join(out, "\n")
}

func (m Model) statusView() string {
	return ansi.Truncate(m.status.view(m.common.Styles), m.width, "…")
}

func (m Model) footerView() string {
	var km help.KeyMap = browseHelp{m.common.KeyMap}
	switch m.state {
	case stateForm:
		km = formHelp{k: m.common.KeyMap, twoFields: m.form.IsNew()}
	case stateConfirmDelete, stateConfirmOverwrite:
		km = confirmHelp{m.common.KeyMap}
	}
	return m.help.View(km)
}
