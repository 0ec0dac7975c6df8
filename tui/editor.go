package tui

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// editorCommand returns the user's editor: $VISUAL, else $EDITOR, else vi.
// The variable may carry arguments ("code --wait").
func editorCommand(getenv func(string) string) []string {
	for _, name := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(getenv(name)); len(f) > 0 {
			return f
		}
	}
	return []string{"vi"}
}

// editorReadyMsg says the value has been written to path for the editor.
type editorReadyMsg struct {
	key, path string
	orig      []byte
	err       error
}

// prepareEditorCmd writes value to a temporary file for the editor.
func prepareEditorCmd(key string, value []byte) tea.Cmd {
	return func() tea.Msg {
		f, err := os.CreateTemp("", "crabkv-*.txt")
		if err != nil {
			return editorReadyMsg{key: key, err: err}
		}
		_, err = f.Write(value)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return editorReadyMsg{key: key, err: errors.Join(err, os.Remove(f.Name()))}
		}
		return editorReadyMsg{key: key, path: f.Name(), orig: value}
	}
}

// prepareStoredEditorCmd is prepareEditorCmd for key's value as the
// store holds it now.
func prepareStoredEditorCmd(s Store, key string) tea.Cmd {
	return func() tea.Msg {
		value, err := s.Get(key)
		if err != nil {
			return editorReadyMsg{key: key, err: err}
		}
		return prepareEditorCmd(key, value)()
	}
}

// editorExitMsg says the editor has returned.
type editorExitMsg struct {
	key, path string
	orig      []byte
	err       error
}

// runEditor hands the terminal to the editor until it exits.
func runEditor(argv []string, msg editorReadyMsg) tea.Cmd {
	args := append(argv[1:len(argv):len(argv)], msg.path)
	c := exec.Command(argv[0], args...)
	return tea.ExecProcess(c, func(err error) tea.Msg {
		return editorExitMsg{key: msg.key, path: msg.path, orig: msg.orig, err: err}
	})
}

// editorUnchangedMsg says the editor left the value as it was.
type editorUnchangedMsg struct{ key string }

// saveEditedCmd reads back the edited file, removes it, and stores the new
// value if it changed.
func saveEditedCmd(s Store, msg editorExitMsg) tea.Cmd {
	return func() tea.Msg {
		edited, err := os.ReadFile(msg.path)
		if rerr := os.Remove(msg.path); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
		switch {
		case msg.err != nil:
			return putDoneMsg{key: msg.key, err: fmt.Errorf("editor: %w", msg.err)}
		case err != nil:
			return putDoneMsg{key: msg.key, err: fmt.Errorf("read edited value: %w", err)}
		case bytes.Equal(edited, msg.orig):
			return editorUnchangedMsg{key: msg.key}
		}
		_, err = s.Put(msg.key, edited, KeepTTL) // an edit keeps the key's expiry
		return putDoneMsg{key: msg.key, err: err}
	}
}
