package tui

import (
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// statusKind colours the status line.
type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusError
	statusAsk
)

// status is the one-line message under the panes.
type status struct {
	kind statusKind
	text string // already escaped
}

func infoStatus(text string) status { return status{kind: statusInfo, text: text} }
func okStatus(text string) status   { return status{kind: statusOK, text: text} }
func askStatus(text string) status  { return status{kind: statusAsk, text: text} }

func errorStatus(action string, err error) status {
	return status{kind: statusError, text: action + ": " + explain(err)}
}

// explain turns an engine error into a sentence a person can act on,
// escaped so that a key quoted inside it cannot reach the terminal raw.
func explain(err error) string {
	var msg string
	switch {
	case errors.Is(err, kv.ErrReadOnly):
		msg = "the store is open read-only"
	case errors.Is(err, kv.ErrEmptyKey):
		msg = "the key is empty"
	case errors.Is(err, kv.ErrKeyTooLarge):
		msg = fmt.Sprintf("the key is over the limit of %d bytes", kv.DefaultMaxKeySize)
	case errors.Is(err, kv.ErrValueTooLarge):
		msg = fmt.Sprintf("the value is over the limit of %s", FormatBytes(kv.DefaultMaxValueSize))
	case errors.Is(err, kv.ErrNotFound):
		msg = "the key is gone (deleted since the list was loaded; r reloads)"
	case errors.Is(err, kv.ErrClosed):
		msg = "the store is closed"
	default:
		msg = err.Error()
	}
	return Escape(msg)
}

// defaultStatusTimeout is how long a status message stays by default; an
// error stays errorStatusFactor times as long, a question until answered.
const (
	defaultStatusTimeout = 4 * time.Second
	errorStatusFactor    = 3
)

// statusExpiredMsg says the status numbered seq has been shown long enough.
type statusExpiredMsg struct{ seq int }

// expireStatus starts the timer for status s, numbered seq, to show it for
// about d.
func expireStatus(seq int, s status, d time.Duration) tea.Cmd {
	switch {
	case d < 0 || s.text == "" || s.kind == statusAsk:
		return nil
	case s.kind == statusError:
		d *= errorStatusFactor
	}
	return tea.Tick(d, func(time.Time) tea.Msg { return statusExpiredMsg{seq: seq} })
}

func (s status) view(st Styles) string {
	switch s.kind {
	case statusOK:
		return st.OK.Render(s.text)
	case statusError:
		return st.Error.Render(s.text)
	case statusAsk:
		return st.Confirm.Render(s.text)
	}
	return st.Muted.Render(s.text)
}
