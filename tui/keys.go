package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
)

// KeyMap is every binding of the inspector. The same struct drives matching
// (key.Matches) and the help footer, so the two cannot drift apart.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Filter, ClearFilter, Focus, CycleView   key.Binding
	New, Edit, EditExternal, Delete         key.Binding
	DeleteShown                             key.Binding
	Mark, MarkShown, ClearMarks, Export     key.Binding
	Compact, Reload, Help, Quit, ForceQuit  key.Binding
	CopyKey, CopyValue, AcceptFilter, Close key.Binding
	Yes, No                                 key.Binding
	Save, Cancel, NextField, Submit         key.Binding

	// The key tree and a key's history (tree.go, history.go).
	Tree, History, Expand, Collapse key.Binding
	TreeDelimiter, Restore, Back    key.Binding
	// FindValues, SizeView and Summary open the finder (findmodel.go).
	FindValues, SizeView, Summary key.Binding

	// ReadOnlyWrite matches the keys of the disabled write actions in a
	// read-only store.
	ReadOnlyWrite key.Binding
}

// DefaultKeyMap returns the inspector's bindings.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:           key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("↑/k", "up")),
		Down:         key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("↓/j", "down")),
		PageUp:       key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown:     key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:          key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:       key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
		Filter:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Focus:        key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "keys/value")),
		CycleView:    key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "text/json/hex")),
		New:          key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new")),
		Edit:         key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		EditExternal: key.NewBinding(key.WithKeys("E"), key.WithHelp("E", "$EDITOR")),
		Delete:       key.NewBinding(key.WithKeys("d", "delete"), key.WithHelp("d", "delete")),
		DeleteShown:  key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "delete all shown")),
		Mark:         key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "mark")),
		MarkShown:    key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "mark all shown")),
		ClearMarks:   key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "clear marks")),
		Export:       key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "export to a file")),
		Compact:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "compact")),
		Reload:       key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reload")),
		Help:         key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		CopyKey:      key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy key")),
		CopyValue:    key.NewBinding(key.WithKeys("Y"), key.WithHelp("Y", "copy value")),
		AcceptFilter: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		Close:        key.NewBinding(key.WithKeys("q", "esc", "?"), key.WithHelp("q/esc/?", "close help")),
		Quit:         key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		Yes:          key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		No:           key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n", "no")),
		Save:         key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
		Cancel:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		NextField:    key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "next field")),
		Submit:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "export")),

		Tree:          key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "key tree")),
		History:       key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "history")),
		Expand:        key.NewBinding(key.WithKeys("enter", "right", "l"), key.WithHelp("enter/→", "open")),
		Collapse:      key.NewBinding(key.WithKeys("left"), key.WithHelp("←", "close group")),
		TreeDelimiter: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "switch / and :")),
		Restore:       key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "restore version")),
		Back:          key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "back")),
		FindValues:    key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "search values")),
		SizeView:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "largest values")),
		Summary:       key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "size summary")),
	}
}

// SetReadOnly disables the bindings that change the store. Disabled
// bindings neither match nor appear in the help; their keys move to
// ReadOnlyWrite so the view can say why nothing happened.
func (k *KeyMap) SetReadOnly(ro bool) {
	var keys []string
	for _, b := range k.writeBindings() {
		b.SetEnabled(!ro)
		keys = append(keys, b.Keys()...)
	}
	k.ReadOnlyWrite = key.NewBinding(key.WithKeys(keys...), key.WithDisabled())
	k.ReadOnlyWrite.SetEnabled(ro)
}

func (k *KeyMap) writeBindings() []*key.Binding {
	return []*key.Binding{&k.New, &k.Edit, &k.EditExternal, &k.Delete, &k.DeleteShown, &k.Compact, &k.Restore}
}

// browseHelp is the help.KeyMap shown while browsing; marked is how many
// keys are marked.
type browseHelp struct {
	k      KeyMap
	marked int
}

// ShortHelp lists the footer's bindings, most important first but for
// help and quit, which end the line; on a narrow window the footer drops
// the bindings before those two, from the last. While keys are marked it
// offers what can be done with them, and counts them.
func (h browseHelp) ShortHelp() []key.Binding {
	k := h.k
	if h.marked > 0 {
		del, exp := k.DeleteShown, k.Export
		del.SetHelp("D", fmt.Sprintf("delete %s marked", groupDigits(h.marked)))
		exp.SetHelp("x", fmt.Sprintf("export %s marked", groupDigits(h.marked)))
		return []key.Binding{k.Mark, del, exp, k.ClearMarks, k.MarkShown, k.Filter, k.Help, k.Quit}
	}
	return []key.Binding{k.Filter, k.Edit, k.New, k.Delete, k.CycleView, k.Down, k.CopyKey, k.Compact, k.Help, k.Quit}
}

func (h browseHelp) FullHelp() [][]key.Binding {
	k := h.k
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Filter, k.ClearFilter, k.Focus, k.CycleView, k.Reload},
		{k.New, k.Edit, k.EditExternal, k.Delete, k.DeleteShown, k.Compact, k.CopyKey, k.CopyValue},
		{k.Mark, k.MarkShown, k.ClearMarks, k.Export},
		{k.Tree, k.History, k.Expand, k.Collapse, k.TreeDelimiter, k.Restore, k.Back},
		{k.FindValues, k.SizeView, k.Summary},
		{k.Help, k.Quit, k.ForceQuit},
	}
}

// formHelp is the help.KeyMap shown while a form or editor is open.
type formHelp struct {
	k         KeyMap
	twoFields bool
}

func (h formHelp) ShortHelp() []key.Binding {
	if h.twoFields {
		return []key.Binding{h.k.NextField, h.k.Save, h.k.Cancel}
	}
	return []key.Binding{h.k.Save, h.k.Cancel}
}

func (h formHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

// fullHelpColumns is the full help as one help.KeyMap per column, which
// the help screen stacks so that it fits a narrow window.
func (k KeyMap) fullHelpColumns() []help.KeyMap {
	var cols []help.KeyMap
	for _, c := range (browseHelp{k: k}).FullHelp() {
		cols = append(cols, column(c))
	}
	return cols
}

// column is one column of bindings as a help.KeyMap.
type column []key.Binding

func (c column) ShortHelp() []key.Binding  { return c }
func (c column) FullHelp() [][]key.Binding { return [][]key.Binding{c} }

// filterHelp is the help.KeyMap shown while the filter input has focus.
type filterHelp struct{ k KeyMap }

func (h filterHelp) ShortHelp() []key.Binding {
	return []key.Binding{h.k.AcceptFilter, h.k.ClearFilter, h.k.Up, h.k.Down}
}
func (h filterHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

// helpScreenHelp is the help.KeyMap shown under the full help.
type helpScreenHelp struct{ k KeyMap }

func (h helpScreenHelp) ShortHelp() []key.Binding  { return []key.Binding{h.k.Close, h.k.Down, h.k.Up} }
func (h helpScreenHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

// promptHelp is the help.KeyMap shown while a prompt asks for a path.
type promptHelp struct{ k KeyMap }

func (h promptHelp) ShortHelp() []key.Binding {
	return []key.Binding{h.k.Submit, h.k.Cancel}
}
func (h promptHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

// confirmHelp is the help.KeyMap shown while a y/n question is open.
type confirmHelp struct{ k KeyMap }

func (h confirmHelp) ShortHelp() []key.Binding  { return []key.Binding{h.k.Yes, h.k.No} }
func (h confirmHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

// treeHelp is the help.KeyMap shown while the key tree is open.
type treeHelp struct{ k KeyMap }

func (h treeHelp) ShortHelp() []key.Binding {
	return []key.Binding{h.k.Expand, h.k.Collapse, h.k.TreeDelimiter, h.k.Down, h.k.Back}
}
func (h treeHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

// historyHelp is the help.KeyMap shown while a key's history is open.
type historyHelp struct{ k KeyMap }

func (h historyHelp) ShortHelp() []key.Binding {
	view := h.k.Expand
	view.SetHelp("enter", "view")
	return []key.Binding{view, h.k.Restore, h.k.CycleView, h.k.Reload, h.k.Back}
}
func (h historyHelp) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }
