package tui

import (
	"fmt"
	"io"

	"github.com/aymanbagabas/go-osc52/v2"
	tea "github.com/charmbracelet/bubbletea"
)

// maxCopy bounds what y and Y put on the clipboard: terminals cap OSC 52
// sequences, many at a few hundred KiB, and drop longer ones silently.
const maxCopy = 256 << 10

// copiedMsg reports a copy to the clipboard.
type copiedMsg struct {
	what string // "key" or "value"
	n    int
	err  error
}

// copyCmd asks the terminal, with an OSC 52 escape sequence written to w,
// to put data on the system clipboard. It works over ssh as well, in
// terminals that allow it (in tmux, set-clipboard on).
func copyCmd(w io.Writer, what string, data []byte) tea.Cmd {
	return func() tea.Msg {
		_, err := osc52.New(string(data)).WriteTo(w)
		return copiedMsg{what: what, n: len(data), err: err}
	}
}

// startCopy copies the selected key, or with value its value.
func (m *Model) startCopy(value bool) tea.Cmd {
	sel, ok := m.selected()
	if !ok {
		m.status = infoStatus("no key selected")
		return nil
	}
	what, data := "key", []byte(sel)
	if value {
		if streamed, size := m.viewer.Streamed(); streamed && size > maxCopy {
			m.status = infoStatus(fmt.Sprintf("the value is %s, too large for the terminal's clipboard (%s at most)",
				FormatBytes(int64(size)), FormatBytes(maxCopy)))
			return nil
		}
		v, loaded := m.viewer.Value()
		if !loaded {
			m.status = infoStatus("no value loaded to copy")
			return nil
		}
		what, data = "value", v
	}
	if len(data) > maxCopy {
		m.status = infoStatus(fmt.Sprintf("the %s is %s, too large for the terminal's clipboard (%s at most)",
			what, FormatBytes(int64(len(data))), FormatBytes(maxCopy)))
		return nil
	}
	return copyCmd(m.cfg.Clipboard, what, data)
}

// copied is the status after a copy.
func (m Model) copied(msg copiedMsg) status {
	if msg.err != nil {
		return errorStatus("copy", msg.err)
	}
	return okStatus(fmt.Sprintf("copied the %s (%s) to the clipboard", msg.what, FormatBytes(int64(msg.n))))
}
