package tui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// filterDelay is how long typing must pause before a filter runs, so a fast
// typist does not start a scan of a million keys on every keystroke.
const filterDelay = 100 * time.Millisecond

// filterTickMsg says the filter input has been quiet for filterDelay since
// the keystroke numbered seq.
type filterTickMsg struct{ seq int }

// filterResultMsg carries the keys that match query. Results whose seq is
// not the latest keystroke's are stale and dropped; a result taken from an
// older snapshot than the list's (gen) is run again on the new one.
type filterResultMsg struct {
	seq   int
	gen   int
	query string
	keys  []string
}

func filterTick(seq int) tea.Cmd {
	return tea.Tick(filterDelay, func(time.Time) tea.Msg { return filterTickMsg{seq: seq} })
}

// filterCmd matches query against the sorted snapshot keys, generation gen,
// off the UI goroutine. The key list does not change a snapshot in place
// while a scan of it may be running, so reading it here is safe.
func filterCmd(seq, gen int, keys []string, query string) tea.Cmd {
	return func() tea.Msg {
		return filterResultMsg{seq: seq, gen: gen, query: query, keys: FilterKeys(keys, query)}
	}
}
