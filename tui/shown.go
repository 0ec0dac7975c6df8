package tui

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// a, D and x act on every key the filter lets through, on screen or not.
// A list that holds them all hands them over at once; a window, which
// holds a few screens of a large store, has them read from the store by a
// command, so that the interface answers keys while a million are read.

// shownAct is what a, D or x do with the keys shown once they are known.
type shownAct int

const (
	shownMark shownAct = iota
	shownDelete
	shownExport
)

// shownKeysMsg carries the keys shown, read from the store for act. seq
// and query are the filter's when the read began: keys read for another
// filter are not what the user asked for.
type shownKeysMsg struct {
	act   shownAct
	seq   int
	query string
	keys  []string
	err   error
}

// withShown runs act on the keys shown: at once when the list holds them
// all, else once a command has read them.
func (m *Model) withShown(act shownAct) tea.Cmd {
	if m.filterStillSearching() {
		return nil
	}
	if keys, ok := m.list.shownHeld(); ok {
		return m.actOnShown(act, keys)
	}
	list := m.list // a copy: the command reads only its source and ranges
	m.status = infoStatus("reading the keys shown…")
	return func() tea.Msg {
		keys, err := list.Shown()
		return shownKeysMsg{act: act, seq: list.seq, query: list.Query(), keys: keys, err: err}
	}
}

// shownKeysRead takes the keys a command read for a, D or x.
func (m *Model) shownKeysRead(msg shownKeysMsg) tea.Cmd {
	switch {
	case msg.seq != m.list.seq || msg.query != m.list.Query():
		m.status = infoStatus("the filter changed while its keys were read: press the key again")
		return nil
	case msg.err != nil:
		m.status = errorStatus("reading the keys shown", msg.err)
		return nil
	}
	return m.actOnShown(msg.act, msg.keys)
}

// actOnShown marks, asks to delete, or offers to export keys, every key
// the filter shows.
func (m *Model) actOnShown(act shownAct, keys []string) tea.Cmd {
	switch act {
	case shownMark:
		m.list.MarkKeys(keys)
		m.status = infoStatus(groupDigits(m.list.MarkedCount()) + " marked")
	case shownDelete:
		m.askDeleteKeys(keys, "delete the %d keys shown? y/n")
	case shownExport:
		what := "the " + countKeys(len(keys)) + " shown"
		if m.list.Query() == "" {
			what = "all " + countKeys(len(keys))
		}
		return m.openExport(keys, what)
	}
	return nil
}

// filterStillSearching reports whether a streamed filter has yet to read
// the whole store, and if so says so in the status line. While it
// searches only some of the keys it lets through are known, and acting on
// those would mark, delete or export fewer keys than the user asked for.
func (m *Model) filterStillSearching() bool {
	if !m.list.Searching() {
		return false
	}
	m.status = infoStatus(fmt.Sprintf("the filter is still searching (%s found so far): wait for it to finish, or mark keys with space",
		groupDigits(m.list.Len())))
	return true
}

// markedWhat names n marked keys in a prompt: "3 marked keys".
func markedWhat(n int) string {
	return strings.Replace(countKeys(n), " key", " marked key", 1)
}
