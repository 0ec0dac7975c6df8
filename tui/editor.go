package tui

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// editorCommand returns the user's editor: $VISUAL, else $EDITOR, else vi.
// The variable may carry arguments ("code --wait"). Vim, named alone, is
// started in binary mode (-b): otherwise it adds a newline at the end of a
// file that has none, and writes a file it read as CR LF lines back with
// CR LF after the last one, so that a value saved unedited would change.
// (An editor given with arguments runs as given; vi that is not Vim, such
// as BusyBox's, has no -b.)
func editorCommand(getenv func(string) string) []string {
	argv := []string{"vi"}
	for _, name := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(getenv(name)); len(f) > 0 {
			argv = f
			break
		}
	}
	if len(argv) == 1 && isVim(resolveEditor(argv[0])) {
		argv = append(argv, "-b")
	}
	return argv
}

// resolveEditor returns the file an editor's name runs, its links
// followed, or the name where it cannot tell. A variable, for tests.
var resolveEditor = func(name string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		return name
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	return path
}

// isVim reports whether the editor at path is Vim or Neovim (vim,
// vim.basic, vim.tiny, nvim, …), by its file's name.
func isVim(path string) bool {
	base := filepath.Base(path)
	return strings.HasPrefix(base, "vim") || strings.HasPrefix(base, "nvim")
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

// saveEditedCmd reads back the edited file and stores the new value if it
// changed, only over the value the edit began from (Store.Replace), and
// keeping the key's expiry. The file is removed once nothing in it can be
// lost: the value is saved, or was not changed. Otherwise it stays, and
// the message names it: an edit that an editor's failure, another
// writer's change or a failed write would lose.
func saveEditedCmd(s Store, msg editorExitMsg) tea.Cmd {
	return func() tea.Msg {
		remove := func() error {
			if err := os.Remove(msg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		}
		edited, err := os.ReadFile(msg.path)
		switch {
		case msg.err != nil:
			return putDoneMsg{key: msg.key, kept: msg.path, err: fmt.Errorf("editor: %w", msg.err)}
		case err != nil:
			return putDoneMsg{key: msg.key, err: fmt.Errorf("read edited value: %w", errors.Join(err, remove()))}
		case bytes.Equal(edited, msg.orig):
			if err := remove(); err != nil {
				return putDoneMsg{key: msg.key, err: err}
			}
			return editorUnchangedMsg{key: msg.key}
		}
		if err := s.Replace(msg.key, msg.orig, edited, KeepTTL); err != nil {
			done := replaceDone(msg.key, err)
			done.kept = msg.path
			return done
		}
		_ = remove() // the value is saved: a file left in the temporary directory loses nothing
		return putDoneMsg{key: msg.key}
	}
}
