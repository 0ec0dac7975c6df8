package tui

import (
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// The root model's side of the finder: which keys open it, what they do
// while it is shown, and how it follows the key list.

// findKey handles msg when it opens the finder or the finder is shown;
// ok is false when the key is not the finder's, to be handled as usual.
func (m Model) findKey(msg tea.KeyMsg) (_ tea.Model, _ tea.Cmd, ok bool) {
	km := m.common.KeyMap
	if !m.find.Shown() {
		switch {
		case m.list.Filtering():
			return m, nil, false
		case key.Matches(msg, km.FindValues):
			m.openQuery()
		case key.Matches(msg, km.SizeView):
			return m, m.openSizes(false), true
		case key.Matches(msg, km.Summary):
			return m, m.openSizes(true), true
		default:
			return m, nil, false
		}
		return m, nil, true
	}
	if m.find.typing {
		tm, cmd := m.updateQuery(msg)
		return tm, cmd, true
	}
	tm, cmd := m.updateFind(msg)
	return tm, cmd, true
}

// openQuery shows the query input, holding the last query.
func (m *Model) openQuery() {
	if m.find.mode != findValues {
		m.find.stop()
		m.find.rows, m.find.summary, m.find.showSummary = nil, nil, false
		m.find.progress, m.find.cancelled, m.find.err = findProgress{}, false, nil
	}
	m.find.mode, m.find.typing, m.focus = findValues, true, paneList
	m.find.input.SetValue(m.find.text)
	m.find.input.CursorEnd()
	m.find.input.Focus()
	m.status = infoStatus(`search values: type text or \xNN bytes, enter to search`)
}

// openSizes starts the size view's walk, with the summary in the right
// pane when summary is set.
func (m *Model) openSizes(summary bool) tea.Cmd {
	m.find.typing = false
	m.find.input.Blur()
	cmd := m.find.start(m.store, findSizes, sizeScan(m.store, sizeViewTop))
	m.find.showSummary, m.focus = summary, paneList
	m.status = infoStatus("ranking keys by value size… esc stops")
	return tea.Batch(cmd, m.syncSelection(false))
}

// updateQuery edits the query; enter starts the search and esc leaves
// the input.
func (m Model) updateQuery(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.Type {
	case tea.KeyEnter:
		return m, m.startSearch()
	case tea.KeyEsc:
		m.find.typing = false
		m.find.input.Blur()
		if m.find.text == "" {
			m.find.close()
			m.status = infoStatus("search closed")
			return m, m.syncSelection(true)
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.find.input, cmd = m.find.input.Update(msg)
	return m, cmd
}

// startSearch parses the query and starts the search; a query that does
// not parse is explained and left in the input to be fixed.
func (m *Model) startSearch() tea.Cmd {
	text := m.find.input.Value()
	q, err := ParseQuery(text)
	if err != nil {
		m.status = errorStatus("search", err)
		return nil
	}
	m.find.typing = false
	m.find.input.Blur()
	cmd := m.find.start(m.store, findValues, valueSearch(m.store, q))
	m.find.query, m.find.text = q, text
	m.status = infoStatus("searching values for " + Escape(text) + "… esc stops")
	return tea.Batch(cmd, m.syncSelection(false))
}

// updateFind handles a key while the finder is shown and its input is
// not: it moves through the results, stops or closes the walk, and lets
// through the keys that act on the key shown in the viewer.
func (m Model) updateFind(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Cancel) && m.find.running:
		m.find.stop()
		m.status = infoStatus("stopped at " + groupDigits(m.find.progress.keys) + " keys")
		return m, nil
	case key.Matches(msg, km.Cancel):
		m.find.close()
		m.status = infoStatus("back to the key list")
		return m, m.syncSelection(true)
	case key.Matches(msg, km.FindValues):
		m.openQuery()
		return m, nil
	case key.Matches(msg, km.SizeView) && m.find.mode == findSizes:
		m.find.close()
		return m, m.syncSelection(true)
	case key.Matches(msg, km.SizeView):
		return m, m.openSizes(false)
	case key.Matches(msg, km.Summary) && m.find.mode == findSizes:
		m.find.showSummary = !m.find.showSummary
		return m, nil
	case key.Matches(msg, km.Summary):
		return m, m.openSizes(true)
	case key.Matches(msg, km.Reload):
		return m, tea.Batch(m.restartFind(), m.reloadKeys(), statsCmd(m.store))
	case m.focus == paneList && m.find.move(msg):
		return m, m.syncSelection(false)
	case key.Matches(msg, km.Filter, km.Mark, km.MarkShown, km.ClearMarks, km.DeleteShown, km.Export):
		m.status = infoStatus(msg.String() + " acts on the key list: esc closes the results first")
		return m, nil
	}
	return m.updateBrowse(msg)
}

// restartFind runs the walk shown again.
func (m *Model) restartFind() tea.Cmd {
	if m.find.mode == findSizes {
		return m.openSizes(m.find.showSummary)
	}
	m.find.input.SetValue(m.find.text)
	return m.startSearch()
}

// applyFind takes in a batch of the finder's walk, and loads the first
// result into the viewer when it comes.
func (m *Model) applyFind(msg findMsg) tea.Cmd {
	cmd := m.find.apply(msg)
	if msg.seq == m.find.seq && msg.done {
		switch {
		case msg.err != nil:
			m.status = errorStatus("scan", msg.err)
		case m.find.mode == findValues:
			m.status = okStatus(countMatches(len(m.find.rows)) + " for " + Escape(m.find.text))
		default:
			m.status = okStatus("ranked " + countKeys(m.find.progress.keys) + " by value size")
		}
	}
	return tea.Batch(cmd, m.syncSelection(false))
}

// countMatches says how many values match: "1 match", "2,703 matches".
func countMatches(n int) string {
	if n == 1 {
		return "1 match"
	}
	return groupDigits(n) + " matches"
}

// selected is the key the viewer follows: the finder's row while it is
// shown, else the key list's.
func (m *Model) selected() (string, bool) {
	if m.find.Shown() {
		r, ok := m.find.Selected()
		return r.key, ok
	}
	return m.list.Selected()
}

// findMatch is where the value search found its query in sel's value,
// for the viewer to open it there; an empty key when sel is not a match.
func (m *Model) findMatch(sel string) (string, int, int, []byte) {
	r, ok := m.find.Selected()
	if !m.find.Shown() || m.find.mode != findValues || !ok || r.key != sel {
		return "", 0, 0, nil
	}
	return r.key, r.off, len(m.find.query), m.find.query
}

// followList takes out of the finder the keys that have left the key list
// (deleted, expired, or gone at a reload), and reports whether it took
// any.
//
// Only a list that holds every key can say a key has left: a window onto
// a large store holds the keys near its cursor, and the keys the inspector
// deletes or sees expire leave the finder through removeKey instead.
func (m *Model) followList() bool {
	if !m.find.Shown() || m.find.listGen == m.list.gen || !m.list.Loaded() || m.list.src != nil {
		return false
	}
	m.find.listGen = m.list.gen
	var gone []string
	for _, r := range m.find.rows {
		if !m.list.Has(r.key) {
			gone = append(gone, r.key)
		}
	}
	for _, k := range gone {
		m.find.remove(k)
	}
	return len(gone) > 0
}

// Has reports whether k is in the key list's snapshot.
func (l KeyList) Has(k string) bool {
	_, ok := slices.BinarySearch(l.all, k)
	return ok
}

// leftView is the left pane: the finder when shown, else the key list.
func (m Model) leftView() string {
	if m.find.Shown() {
		return m.find.View()
	}
	return m.list.View()
}

// rightView is the right pane: the summary when asked for, else the
// viewer.
func (m Model) rightView() string {
	if m.find.Shown() && m.find.showSummary {
		return m.find.summaryView(max(m.width-m.listWidth()-2, 1), m.find.height)
	}
	return m.viewer.View()
}

// findHelp is the help.KeyMap shown while the finder is.
type findHelp struct {
	k       KeyMap
	typing  bool
	running bool
}

func (h findHelp) ShortHelp() []key.Binding {
	k := h.k
	if h.typing {
		run, back := k.AcceptFilter, k.Cancel
		run.SetHelp("enter", "search")
		back.SetHelp("esc", "back")
		return []key.Binding{run, back}
	}
	esc := k.Cancel
	esc.SetHelp("esc", "close")
	if h.running {
		esc.SetHelp("esc", "stop")
	}
	return []key.Binding{esc, k.FindValues, k.SizeView, k.Summary, k.Focus, k.Delete, k.Help, k.Quit}
}

func (h findHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

// removeKey takes k, which the inspector deleted or saw expire, out of the
// key list and out of the finder's rows.
func (m *Model) removeKey(k string) {
	m.list.RemoveKey(k)
	if m.find.Shown() {
		m.find.remove(k)
	}
}
