package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// FormResult is what a key press did to a form.
type FormResult int

// The outcomes of a key press in a form.
const (
	FormEditing FormResult = iota
	FormSave
	FormCancel
)

// maxEditLines is the most lines the textarea can hold; longer values are
// edited in $EDITOR instead.
const maxEditLines = 10000

// Form is the pane that replaces the viewer while a key is created or a
// value edited: a key input (new keys only) above a textarea.
type Form struct {
	common *Common
	isNew  bool
	key    string // the key being edited; for a new key, see keyInput
	orig   string // the value as it was when editing began
	focus  int    // 0: key input, 1: value

	keyInput textinput.Model
	value    textarea.Model

	width, height int
}

// NewKeyForm returns a form for a new key and value.
func NewKeyForm(c *Common) (Form, tea.Cmd) {
	f := newForm(c)
	f.isNew = true
	return f, f.focusField(0)
}

// EditForm returns a form that edits value, the value of key.
func EditForm(c *Common, key string, value string) (Form, tea.Cmd) {
	f := newForm(c)
	f.key, f.orig = key, value
	f.value.SetValue(value)
	cmd := f.focusField(1)
	// Start at the top of the value, not after its last character.
	f.value, _ = f.value.Update(tea.KeyMsg{Type: tea.KeyCtrlHome})
	return f, cmd
}

func newForm(c *Common) Form {
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = "key, e.g. user:42"
	in.CharLimit = 0
	ta := textarea.New()
	ta.Placeholder = "value"
	ta.CharLimit = 0
	ta.MaxHeight = 0
	ta.MaxWidth = 0
	ta.ShowLineNumbers = false
	ta.KeyMap.InsertNewline = key.NewBinding(key.WithKeys("enter", "ctrl+j"))
	return Form{common: c, keyInput: in, value: ta}
}

// SetSize sets the pane's inner size.
func (f *Form) SetSize(w, h int) {
	f.width, f.height = w, h
	f.keyInput.Width = max(w-1, 1)
	f.value.SetWidth(max(w, 2))
	f.value.SetHeight(max(h-f.headerLines(), 1))
}

// headerLines counts the lines above the textarea.
func (f Form) headerLines() int {
	if f.isNew {
		return 5 // title, key label, key input, blank, value label
	}
	return 3 // title, blank, value label
}

// IsNew reports whether the form creates a key.
func (f Form) IsNew() bool { return f.isNew }

// Key is the key to write.
func (f Form) Key() string {
	if f.isNew {
		return f.keyInput.Value()
	}
	return f.key
}

// Changed reports whether the value differs from the one editing began with.
func (f Form) Changed() bool { return f.isNew || f.value.Value() != f.orig }

// Value is the value to write.
func (f Form) Value() string { return f.value.Value() }

func (f *Form) focusField(i int) tea.Cmd {
	f.focus = i
	if i == 0 {
		f.value.Blur()
		return f.keyInput.Focus()
	}
	f.keyInput.Blur()
	return f.value.Focus()
}

// Update handles a key press or a cursor blink.
func (f Form) Update(msg tea.Msg) (Form, tea.Cmd, FormResult) {
	km := f.common.KeyMap
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, km.Save):
			return f, nil, FormSave
		case key.Matches(k, km.Cancel):
			return f, nil, FormCancel
		case f.isNew && key.Matches(k, km.NextField):
			return f, f.focusField(1 - f.focus), FormEditing
		case f.isNew && f.focus == 0 && k.Type == tea.KeyEnter:
			return f, f.focusField(1), FormEditing
		}
	}
	var cmd tea.Cmd
	if f.focus == 0 {
		f.keyInput, cmd = f.keyInput.Update(msg)
	} else {
		f.value, cmd = f.value.Update(msg)
	}
	return f, cmd, FormEditing
}

// View renders the form.
func (f Form) View() string {
	s := f.common.Styles
	label := func(text string, i int) string {
		if f.focus == i {
			return s.FormLabelFocused.Render(text)
		}
		return s.FormLabel.Render(text)
	}
	var b strings.Builder
	if f.isNew {
		b.WriteString(s.PaneTitle.Render("New key") + "\n")
		b.WriteString(label("Key", 0) + "\n")
		b.WriteString(f.keyInput.View() + "\n\n")
	} else {
		title := s.PaneTitle.Render("Edit ") + Escape(f.key)
		b.WriteString(ansi.Truncate(title, max(f.width, 1), "…") + "\n\n")
	}
	b.WriteString(label("Value", 1) + "\n")
	b.WriteString(f.value.View())
	return b.String()
}
