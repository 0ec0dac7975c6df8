package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// findMode is what the finder lists in place of the key list.
type findMode int

const (
	findOff    findMode = iota // the key list is shown
	findValues                 // the keys whose values hold a query (f)
	findSizes                  // the keys of the largest values (s)
)

// Finder is the left pane while a walk of the whole store is shown: the
// keys whose values hold a query, in key order, or the keys of the
// largest values, largest first. It holds the walk's results, as they
// stream in, and its progress; the walk itself runs in findscan.go.
type Finder struct {
	common *Common
	mode   findMode

	input  textinput.Model
	typing bool   // the query input has focus
	query  []byte // the query of the search shown
	text   string // the query as typed

	// root is the context every walk derives from; end cancels it, which
	// stops whatever walk runs in whichever copy of the model, so that
	// Close, called on the model the program began with, stops them too.
	root context.Context
	end  context.CancelFunc

	seq       int                // number of the latest walk; batches of others are dropped
	cancel    context.CancelFunc // ends the latest walk; nil when none runs
	running   bool
	cancelled bool // the latest walk was stopped before its end
	err       error
	progress  findProgress

	rows        []findRow
	summary     *sizeSummary
	showSummary bool // the summary fills the right pane (S)
	cursor      int
	offset      int
	listGen     int // the key list's generation last checked (follow)

	width, height int
}

// NewFinder returns a finder that shows nothing.
func NewFinder(c *Common) Finder {
	in := textinput.New()
	in.Prompt = "f "
	in.Placeholder = `text, or \xNN bytes`
	in.PromptStyle = c.Styles.FilterPrompt
	in.CharLimit = 1024
	root, end := context.WithCancel(context.Background())
	return Finder{common: c, input: in, root: root, end: end}
}

// Shown reports whether the finder takes the key list's place.
func (f Finder) Shown() bool { return f.mode != findOff }

// SetSize sets the pane's inner size.
func (f *Finder) SetSize(w, h int) {
	f.width, f.height = w, h
	f.input.Width = max(w-4, 1)
	f.clamp()
}

// rowCount is how many keys fit under the header's two lines.
func (f Finder) rowCount() int { return max(f.height-2, 1) }

// Selected returns the row under the cursor.
func (f Finder) Selected() (findRow, bool) {
	if f.cursor < 0 || f.cursor >= len(f.rows) {
		return findRow{}, false
	}
	return f.rows[f.cursor], true
}

// start begins a walk in mode, ending the one before, and returns the
// command that reads its first batch.
func (f *Finder) start(s Store, mode findMode, walk func(*findSender)) tea.Cmd {
	f.stop()
	ctx, cancel := context.WithCancel(f.root)
	f.seq++
	f.mode, f.cancel, f.running, f.cancelled, f.err = mode, cancel, true, false, nil
	f.progress = findProgress{total: -1}
	f.rows, f.summary, f.cursor, f.offset = nil, nil, 0, 0
	return startWalk(ctx, f.seq, s, walk)
}

// stop cancels the walk under way, if one is.
func (f *Finder) stop() {
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
	if f.running {
		f.running, f.cancelled = false, true
	}
}

// close stops the walk and hides the finder.
func (f *Finder) close() {
	f.stop()
	f.mode, f.typing, f.showSummary = findOff, false, false
	f.rows, f.summary = nil, nil
	f.input.Blur()
}

// apply takes in a batch of the latest walk and returns the command that
// reads the next.
func (f *Finder) apply(msg findMsg) tea.Cmd {
	if msg.seq != f.seq || !f.running {
		return nil // a walk since replaced or cancelled
	}
	f.progress = msg.progress
	if f.mode == findValues {
		f.rows = append(f.rows, msg.rows...)
	} else {
		sel, ok := f.Selected()
		f.rows = msg.rows
		if i := slices.IndexFunc(f.rows, func(r findRow) bool { return r.key == sel.key }); ok && i >= 0 {
			f.cursor = i
		}
	}
	if msg.summary != nil {
		f.summary = msg.summary
	}
	f.clamp()
	if msg.done {
		f.running, f.err = false, msg.err
		if f.cancel != nil {
			f.cancel() // release the context
			f.cancel = nil
		}
		return nil
	}
	return waitFindCmd(msg.ch)
}

// remove takes k out of the rows and the summary's biggest keys: it has
// been deleted or has expired. It reports whether k was listed.
func (f *Finder) remove(k string) bool {
	i := slices.IndexFunc(f.rows, func(r findRow) bool { return r.key == k })
	if i < 0 {
		return false
	}
	f.rows = slices.Delete(slices.Clone(f.rows), i, i+1)
	if f.summary != nil {
		s := *f.summary
		s.biggest = slices.DeleteFunc(slices.Clone(s.biggest), func(r findRow) bool { return r.key == k })
		f.summary = &s
	}
	if i < f.cursor {
		f.cursor--
	}
	f.clamp()
	return true
}

// move moves the cursor for a movement key, and reports whether msg was
// one.
func (f *Finder) move(msg tea.KeyMsg) bool {
	km := f.common.KeyMap
	switch {
	case key.Matches(msg, km.Up):
		f.cursor--
	case key.Matches(msg, km.Down):
		f.cursor++
	case key.Matches(msg, km.PageUp):
		f.cursor -= f.rowCount()
	case key.Matches(msg, km.PageDown):
		f.cursor += f.rowCount()
	case key.Matches(msg, km.Top):
		f.cursor = 0
	case key.Matches(msg, km.Bottom):
		f.cursor = len(f.rows) - 1
	default:
		return false
	}
	f.clamp()
	return true
}

// clamp keeps the cursor on a row and the row on screen.
func (f *Finder) clamp() {
	rows := f.rowCount()
	f.cursor = min(max(f.cursor, 0), max(len(f.rows)-1, 0))
	if f.cursor < f.offset {
		f.offset = f.cursor
	}
	if f.cursor >= f.offset+rows {
		f.offset = f.cursor - rows + 1
	}
	f.offset = min(max(f.offset, 0), max(len(f.rows)-rows, 0))
}

// View renders the header, the progress line and the rows on screen.
func (f Finder) View() string {
	var b strings.Builder
	b.WriteString(f.headerView())
	b.WriteByte('\n')
	b.WriteString(f.progressView())
	for i, r := range f.rows[f.offset:min(f.offset+f.rowCount(), len(f.rows))] {
		b.WriteByte('\n')
		b.WriteString(f.rowView(r, f.offset+i == f.cursor))
	}
	if len(f.rows) == 0 && !f.running && !f.typing && f.err == nil {
		b.WriteString("\n" + f.common.Styles.Muted.Render(f.emptyText()))
	}
	return b.String()
}

func (f Finder) emptyText() string {
	if f.mode == findSizes {
		return "no keys"
	}
	return "no value holds it"
}

func (f Finder) headerView() string {
	s := f.common.Styles
	if f.typing {
		return f.input.View()
	}
	if f.mode == findSizes {
		return joinEnds(s.PaneTitle.Render("Largest values"),
			s.Muted.Render("top "+groupDigits(sizeViewTop)), f.width)
	}
	n := "1 match"
	if len(f.rows) != 1 {
		n = groupDigits(len(f.rows)) + " matches"
	}
	return joinEnds(s.FilterPrompt.Render("f ")+Escape(f.text), s.Muted.Render(n), f.width)
}

// progressView is the walk's progress: "scanning 45% · 450,000/1,000,000
// keys · 1.2 GiB" while it runs, what it covered when it has ended.
func (f Finder) progressView() string {
	s := f.common.Styles
	p := f.progress
	of := ""
	if p.total >= 0 {
		of = "/" + groupDigits(max(p.total, p.keys))
	}
	keys := groupDigits(p.keys) + of + " keys · " + FormatBytes(p.bytes)
	switch {
	case f.err != nil:
		return s.Error.Render(explain(f.err))
	case f.running && p.total > 0:
		return s.Warn.Render(fmt.Sprintf("scanning %d%%", min(100*p.keys/p.total, 99))) + s.Muted.Render(" · "+keys)
	case f.running:
		return s.Warn.Render("scanning") + s.Muted.Render(" · "+keys)
	case f.cancelled:
		return s.Warn.Render("stopped") + s.Muted.Render(" at "+keys)
	}
	return s.Muted.Render(fmt.Sprintf("scanned %s keys · %s", groupDigits(p.keys), FormatBytes(p.bytes)))
}

func (f Finder) rowView(r findRow, selected bool) string {
	s := f.common.Styles
	col, format := sizeColumn, FormatBytes
	if f.width < narrowList {
		col, format = narrowSizeColumn, compactBytes
	}
	keyWidth := max(f.width-col-2, 1)
	name := truncateMiddle(Escape(r.key), keyWidth)
	pad := strings.Repeat(" ", max(keyWidth-lipgloss.Width(name), 0))
	size := fmt.Sprintf(" %*s", col, format(int64(r.size)))
	if selected {
		return s.Selected.Render("▌" + name + pad + size)
	}
	return " " + s.Item.Render(name) + pad + s.ItemSize.Render(size)
}
