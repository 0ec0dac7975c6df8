package tui

import (
	"bytes"
	"fmt"
	"strings"
	"time"

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

// ttlLabel labels the TTL field.
const ttlLabel = "TTL"

// maxEditLines is the most lines the textarea can hold; longer values are
// edited in $EDITOR instead.
const maxEditLines = 10000

// maxEditLine is the longest line the textarea is given: it redraws a
// line whole at each keystroke, which took a tenth of a second on a line
// of 100 KB and seconds on one of a mebibyte.
const maxEditLine = 16 << 10

// longestLine returns the length in bytes of the longest line of v.
func longestLine(v []byte) int {
	longest := 0
	for len(v) > 0 {
		i := bytes.IndexByte(v, '\n')
		if i < 0 {
			i = len(v)
		}
		longest = max(longest, i)
		v = v[min(i+1, len(v)):]
	}
	return longest
}

// Form is the pane that replaces the viewer while a key is created or a
// value edited: a key input (new keys only) above a textarea, and a TTL
// input under it.
type Form struct {
	common *Common
	isNew  bool
	key    string // the key being edited; for a new key, see keyInput
	orig   string // the value as it was when editing began
	// hadExpiry says that the edited key expired at some time when
	// editing began.
	hadExpiry bool
	focus     int // focusKey, focusValue or focusTTL

	keyInput textinput.Model
	ttlInput textinput.Model
	value    textarea.Model

	width, height int
}

// The form's fields, in the order tab visits them.
const (
	focusKey = iota
	focusValue
	focusTTL
)

// NewKeyForm returns a form for a new key and value.
func NewKeyForm(c *Common) (Form, tea.Cmd) {
	f := newForm(c)
	f.isNew = true
	f.ttlInput.Placeholder = "none; e.g. 90s, 10m, 24h"
	return f, f.focusField(focusKey)
}

// EditForm returns a form that edits value, the value of key, which
// expires at expires (never if zero).
func EditForm(c *Common, key string, value string, expires time.Time) (Form, tea.Cmd) {
	f := newForm(c)
	f.key, f.orig, f.hadExpiry = key, value, !expires.IsZero()
	f.value.SetValue(value)
	f.ttlInput.Placeholder = "keep: none; e.g. 90s, 10m, 24h"
	if !expires.IsZero() {
		f.ttlInput.Placeholder = "keep: expires in " + FormatRemaining(expires.Sub(c.Now())) + "; 0 or none clears"
	}
	cmd := f.focusField(focusValue)
	// Start at the top of the value, not after its last character.
	f.value, _ = f.value.Update(tea.KeyMsg{Type: tea.KeyCtrlHome})
	return f, cmd
}

func newForm(c *Common) Form {
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = "key, e.g. user:42"
	in.CharLimit = 0
	ttl := textinput.New()
	ttl.Prompt = ""
	ttl.CharLimit = 32
	ta := textarea.New()
	ta.Placeholder = "value"
	ta.CharLimit = 0
	ta.MaxHeight = 0
	ta.MaxWidth = 0
	ta.ShowLineNumbers = false
	ta.KeyMap.InsertNewline = key.NewBinding(key.WithKeys("enter", "ctrl+j"))
	return Form{common: c, keyInput: in, ttlInput: ttl, value: ta}
}

// SetSize sets the pane's inner size.
func (f *Form) SetSize(w, h int) {
	f.width, f.height = w, h
	f.keyInput.Width = max(w-1, 1)
	f.ttlInput.Width = max(w-len(ttlLabel)-1, 1)
	f.value.SetWidth(max(w, 2))
	f.value.SetHeight(max(h-f.headerLines()-footerLines, 1))
}

// headerLines counts the lines above the textarea.
func (f Form) headerLines() int {
	if f.isNew {
		return 5 // title, key label, key input, blank, value label
	}
	return 3 // title, blank, value label
}

// footerLines counts the lines under the textarea: blank, TTL.
const footerLines = 2

// IsNew reports whether the form creates a key.
func (f Form) IsNew() bool { return f.isNew }

// Key is the key to write.
func (f Form) Key() string {
	if f.isNew {
		return f.keyInput.Value()
	}
	return f.key
}

// Original returns the value editing began with ("" for a new key).
func (f Form) Original() string { return f.orig }

// HadExpiry reports whether the edited key was to expire when editing
// began.
func (f Form) HadExpiry() bool { return f.hadExpiry }

// Changed reports whether the value differs from the one editing began
// with, or a TTL is given.
func (f Form) Changed() bool {
	return f.isNew || f.value.Value() != f.orig || strings.TrimSpace(f.ttlInput.Value()) != ""
}

// TTL is what the write does to the key's expiry, as Store.Put takes it:
// an empty field keeps the expiry of an edited key (a new key gets
// none), "0" or "none" removes it, and a Go duration ("90s", "10m")
// sets it from the moment of the write.
func (f Form) TTL() (time.Duration, error) { return ParseTTL(f.ttlInput.Value()) }

// ParseTTL reads a TTL field; see Form.TTL.
func ParseTTL(text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	switch strings.ToLower(text) {
	case "":
		return KeepTTL, nil
	case "0", "none", "never":
		return NoTTL, nil
	}
	d, err := time.ParseDuration(text)
	switch {
	case err != nil:
		return 0, fmt.Errorf("TTL %q is not a duration: give e.g. 90s, 10m or 24h, or none", text)
	case d < 0:
		return 0, fmt.Errorf("TTL %q is negative: give a positive duration, or none", text)
	case d == 0:
		return NoTTL, nil
	case d < time.Millisecond:
		return 0, fmt.Errorf("TTL %q is under a millisecond, the finest a store keeps", text)
	}
	return d, nil
}

// Value is the value to write.
func (f Form) Value() string { return f.value.Value() }

func (f *Form) focusField(i int) tea.Cmd {
	f.focus = i
	f.keyInput.Blur()
	f.ttlInput.Blur()
	f.value.Blur()
	switch i {
	case focusKey:
		return f.keyInput.Focus()
	case focusTTL:
		return f.ttlInput.Focus()
	}
	return f.value.Focus()
}

// nextField is the field tab moves to: down the form, key (new keys
// only), value, TTL, and round again.
func (f Form) nextField() int {
	switch {
	case f.focus == focusKey:
		return focusValue
	case f.focus == focusValue:
		return focusTTL
	case f.isNew:
		return focusKey
	}
	return focusValue
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
		case key.Matches(k, km.NextField):
			return f, f.focusField(f.nextField()), FormEditing
		case f.focus != focusValue && k.Type == tea.KeyEnter:
			return f, f.focusField(focusValue), FormEditing
		}
	}
	var cmd tea.Cmd
	switch f.focus {
	case focusKey:
		f.keyInput, cmd = f.keyInput.Update(msg)
	case focusTTL:
		f.ttlInput, cmd = f.ttlInput.Update(msg)
	default:
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
		b.WriteString(label("Key", focusKey) + "\n")
		b.WriteString(f.keyInput.View() + "\n\n")
	} else {
		title := s.PaneTitle.Render("Edit ") + Escape(f.key)
		b.WriteString(ansi.Truncate(title, max(f.width, 1), "…") + "\n\n")
	}
	b.WriteString(label("Value", focusValue) + "\n")
	b.WriteString(f.value.View() + "\n\n")
	b.WriteString(label(ttlLabel, focusTTL) + " " + f.ttlInput.View())
	return b.String()
}
