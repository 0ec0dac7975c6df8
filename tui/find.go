package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/crabkv/crabkv/kv"
)

// This file is the root model's side of the key tree and the history
// panel: opening them, routing their keys and messages, and drawing them
// in place of the key list.

// openTree shows the key tree, scanning the store again.
func (m Model) openTree() (tea.Model, tea.Cmd) {
	m.state = stateTree
	m.layoutFind()
	return m, m.tree.Open(m.tree.Delimiter())
}

// openHistory shows the history of the selected key.
func (m Model) openHistory() (tea.Model, tea.Cmd) {
	k, ok := m.list.Selected()
	if !ok {
		m.status = infoStatus("history: select a key first")
		return m, nil
	}
	m.state = stateHistory
	m.layoutFind()
	return m, m.hist.Load(m.store, k)
}

// layoutFind sizes the tree and the history panel to the window.
func (m *Model) layoutFind() {
	inner := max(m.height-chromeRows-2, 1)
	lw := m.findListWidth()
	m.tree.SetSize(max(lw-2, 1), inner)
	m.hist.SetSize(max(lw-2, 1), max(m.width-lw-2, 1), inner)
}

// findListWidth is the outer width of the tree or the version list: a
// little wider than the key list, as their rows carry figures.
func (m Model) findListWidth() int {
	return min(max(m.width/2, 24), 80)
}

// updateTree handles a key press while the tree is open.
func (m Model) updateTree(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	if key.Matches(msg, km.Back, km.Tree) {
		m.tree.Close()
		m.state = stateBrowse
		return m, m.syncSelection(true)
	}
	var cmd tea.Cmd
	var opened string
	m.tree, cmd, opened = m.tree.Update(msg)
	if key.Matches(msg, km.TreeDelimiter) {
		m.status = infoStatus(fmt.Sprintf("tree: grouping by %q", string(m.tree.Delimiter())))
	}
	if opened == "" {
		return m, cmd
	}
	m.valueSeq++
	m.viewer.SetLoading(opened)
	return m, tea.Batch(cmd, loadValueCmd(m.store, m.valueSeq, opened))
}

// updateHistory handles a key press while a key's history is open.
func (m Model) updateHistory(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Back, km.History):
		m.state = stateBrowse
		return m, m.syncSelection(true)
	case key.Matches(msg, km.Reload):
		return m, m.hist.Load(m.store, m.hist.key)
	case key.Matches(msg, km.Restore):
		m.askRestore()
		return m, nil
	case key.Matches(msg, km.ReadOnlyWrite):
		m.status = errorStatus("restore", kv.ErrReadOnly)
		return m, nil
	}
	var cmd tea.Cmd
	m.hist, cmd = m.hist.Update(m.store, msg)
	return m, cmd
}

// askRestore asks whether to write the version shown back as the key's
// value, saying what becomes of its expiry.
func (m *Model) askRestore() {
	if m.writerPID != 0 {
		m.status = infoStatus(fmt.Sprintf("restore: read-only while %s has the store open for writing; close it to write here", m.writerLabel()))
		return
	}
	v, _, ok := m.hist.Shown()
	if !ok {
		m.status = infoStatus("restore: view a version first (enter)")
		return
	}
	expiry := "without an expiry"
	if ttl := restoreTTL(v, m.common.Now()); ttl > 0 {
		expiry = "expiring in " + FormatRemaining(ttl) + ", as that version does"
	}
	m.state = stateConfirmRestore
	m.status = askStatus(fmt.Sprintf("Restore the version at offset %d as the value of %s, %s? (y/n)",
		v.Offset, Escape(m.hist.key), expiry))
}

// updateConfirmRestore answers the restore question.
func (m Model) updateConfirmRestore(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Yes):
		m.state = stateHistory
		v, val, ok := m.hist.Shown()
		if !ok {
			return m, nil
		}
		m.status = infoStatus("restoring…")
		return m, restoreCmd(m.store, m.hist.key, v, val, restoreTTL(v, m.common.Now()))
	case key.Matches(msg, km.No):
		m.state = stateHistory
		m.status = infoStatus("restore cancelled")
	}
	return m, nil
}

// routeFind handles the messages of the tree and the history panel.
func (m Model) routeFind(msg treeMsg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case treeBatchMsg:
		cmd := m.tree.add(msg)
		if msg.err != nil && msg.seq == m.tree.seq {
			m.status = errorStatus("key tree", msg.err)
		}
		return m, cmd
	case historyLoadedMsg:
		return m, m.hist.loaded(m.store, msg)
	case versionLoadedMsg:
		m.hist.valueLoaded(msg)
	case restoreDoneMsg:
		if msg.err != nil {
			m.status = errorStatus("restore", msg.err)
			return m, nil
		}
		m.status = okStatus(fmt.Sprintf("restored the version at offset %d of %s", msg.offset, Escape(msg.key)))
		cmds := []tea.Cmd{statsCmd(m.store)}
		if m.state == stateHistory || m.state == stateConfirmRestore {
			cmds = append(cmds, m.hist.Load(m.store, m.hist.key))
		}
		if sel, ok := m.list.Selected(); ok && sel == msg.key {
			cmds = append(cmds, m.syncSelection(true))
		}
		return m, tea.Batch(cmds...)
	}
	return m, nil
}

// findOpen reports whether the tree or the history fills the main area.
func (m Model) findOpen() bool {
	return m.state == stateTree || m.state == stateHistory || m.state == stateConfirmRestore
}

// findMainView draws the tree or the history beside its viewer.
func (m Model) findMainView(h int) string {
	lw := m.findListWidth()
	var left, right string
	if m.state == stateTree {
		left, right = m.tree.View(), m.viewer.View()
	} else {
		left, right = m.hist.ListView(), m.hist.ValueView()
	}
	return lipgloss.JoinHorizontal(lipgloss.Top, m.box(left, lw, h, true), m.box(right, m.width-lw, h, false))
}

// findHelp is the footer's key map while the tree or the history is open.
func (m Model) findHelp() help.KeyMap {
	switch m.state {
	case stateTree:
		return treeHelp{m.common.KeyMap}
	case stateConfirmRestore:
		return confirmHelp{m.common.KeyMap}
	}
	return historyHelp{m.common.KeyMap}
}
