package tui

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// sizeColumn is the width of the value-size column; a narrow list, under
// narrowList cells, uses narrowSizeColumn and compact sizes ("634K").
const (
	sizeColumn       = 9
	narrowSizeColumn = 5
	narrowList       = 30
)

// sizePending marks a size that has been asked for but not yet delivered.
const sizePending = -1

// maxSizeCache bounds the cache of value sizes; past it the cache restarts.
const maxSizeCache = 20000

// KeyList is the left pane: a window onto the store's keys, in order.
// Only the rows on screen are ever rendered, so a million keys scroll as
// fast as ten. A store that reads its keys in order (OrderedStore) is
// browsed a window of keys at a time (keywindow.go); any other through a
// sorted snapshot of all its keys, which it filters with a debounced
// command.
//
// AddKey and RemoveKey change the snapshot in place, a memmove of at most
// 16 MB at a million keys, unless a filter command may be reading it on
// another goroutine; then they change a copy.
type KeyList struct {
	common *Common

	all    []string // the snapshot, sorted
	gen    int      // generation of all, counted up whenever it changes
	edits  int      // AddKey and RemoveKey calls that changed all
	scans  int      // filter commands started whose result has not come back
	loaded bool     // SetKeys has been called: the first load has arrived
	items  []string // all, or the filter's result
	cursor int      // index in items
	offset int      // index in items of the first row shown

	input     textinput.Model
	filtering bool   // the filter input has focus
	query     string // the filter that items reflects
	seq       int    // number of the latest filter keystroke

	sizes map[string]int // value sizes of keys seen on screen
	// expires holds when keys seen on screen expire, asked for with
	// their sizes and forgotten with them; keys that never expire are
	// not in it, so it stays as small as the expiring keys on screen.
	expires map[string]time.Time

	// marked are the keys marked with space or a (marks.go), on screen
	// or not, whatever the filter; nil when none is.
	marked map[string]struct{}

	// The window onto an OrderedStore (keywindow.go); src is nil for a
	// snapshot.
	src        OrderedStore
	ranges     []keyRange // the ranges the window reads; nil while a scan's matches are shown
	head, tail bool       // items starts at the ranges' first key, ends at their last
	total      int        // keys in the store, as of the last read
	want       fetchKind  // the read asked for, not yet started
	wantKey    string
	wantQuery  string     // with wantRanges: a new filter the read is for
	wantRanges []keyRange //
	fetchSeq   int        // number of the latest read
	inflight   bool       // a read is under way
	initial    tea.Cmd    // the first read, made ready by SetSource

	// A streamed substring filter (filter_stream.go).
	scanning bool   // it has not read every key yet
	scanned  int    // keys it has read
	scanFrom string // where its next chunk starts
	follow   string // a key to select when a scan that runs again finds it

	width, height int
}

// NewKeyList returns an empty key list.
func NewKeyList(c *Common) KeyList {
	in := textinput.New()
	in.Prompt = "/ "
	in.Placeholder = "substring, or ^prefix"
	in.PromptStyle = c.Styles.FilterPrompt
	in.CharLimit = 1024
	return KeyList{common: c, input: in, sizes: map[string]int{}, expires: map[string]time.Time{}}
}

// SetSize sets the pane's inner size.
func (l *KeyList) SetSize(w, h int) {
	l.width, l.height = w, h
	l.input.Width = max(w-16, 1) // room for the prompt and the count
	l.clamp()
}

// rows is how many keys fit under the header line.
func (l KeyList) rows() int { return max(l.height-1, 1) }

// SetKeys replaces the snapshot with a fresh one from the store and selects
// keep, or the key that would follow it if it is gone. With a filter active it returns the command that re-applies the
// filter to the new snapshot.
func (l *KeyList) SetKeys(all []string, keep string) tea.Cmd {
	if l.src != nil {
		// A window given every key, from the first to the last.
		l.items, l.head, l.tail, l.total, l.loaded = all, true, true, len(all), true
		l.query, l.ranges, l.scanning = "", everyKey, false
		l.selectKeyInView(keep)
		return nil
	}
	l.all, l.loaded = all, true
	l.gen++
	l.sizes = map[string]int{}
	l.expires = map[string]time.Time{}
	l.pruneMarks()
	if l.query == "" {
		l.items = all
		l.selectKeyInView(keep)
		return nil
	}
	l.seq++
	return l.scan(l.input.Value())
}

// scan starts a filter command for query on the snapshot, or the window
// or streamed scan of an OrderedStore.
func (l *KeyList) scan(query string) tea.Cmd {
	if l.src != nil {
		return l.startScan(query)
	}
	l.scans++
	return filterCmd(l.seq, l.gen, l.all, query)
}

// Loaded reports whether the keys have been loaded from the store yet; at a
// million keys that takes about a second.
func (l KeyList) Loaded() bool { return l.loaded }

// Edits counts the changes AddKey and RemoveKey made. A snapshot asked of
// the store before the count last changed may lack those changes.
func (l KeyList) Edits() int { return l.edits }

// AddKey puts k, just written by the inspector, into the snapshot and, if it
// matches the filter, into the filtered list, without asking the store for
// all its keys again. It selects k, or keeps the selection if the filter
// hides k.
func (l *KeyList) AddKey(k string) {
	delete(l.sizes, k) // the value changed
	delete(l.expires, k)
	if l.src != nil {
		l.edits++
		l.selectKeyInView(l.addToSource(k))
		return
	}
	if i, found := slices.BinarySearch(l.all, k); !found {
		sel, _ := l.Selected()
		l.all = slices.Insert(l.ownedKeys(), i, k)
		l.edited()
		if j, found := slices.BinarySearch(l.items, k); !found && l.substringFilter() && MatchKey(k, l.query) {
			l.items = slices.Insert(l.items, j, k)
		}
		if _, shown := slices.BinarySearch(l.items, k); !shown {
			k = sel
		}
	}
	l.selectKeyInView(k)
}

// RemoveKey takes k, just deleted by the inspector, out of the snapshot and
// the filtered list. The selection stays, or moves to the key after k if k
// was selected.
func (l *KeyList) RemoveKey(k string) {
	delete(l.sizes, k)
	delete(l.expires, k)
	l.unmark(k)
	if l.src != nil {
		l.edits++
		l.removeFromSource(k)
		return
	}
	i, found := slices.BinarySearch(l.all, k)
	if !found {
		return
	}
	sel, _ := l.Selected()
	l.all = slices.Delete(l.ownedKeys(), i, i+1)
	l.edited()
	if j, found := slices.BinarySearch(l.items, k); found && l.substringFilter() {
		l.items = slices.Delete(l.items, j, j+1)
	}
	l.selectKeyInView(sel)
}

// ownedKeys returns the snapshot to change in place, or a copy of it if a
// filter command may be reading it.
func (l *KeyList) ownedKeys() []string {
	if l.scans > 0 {
		return slices.Clone(l.all)
	}
	return l.all
}

// substringFilter reports whether the filtered list is a slice of its own,
// made by a scan, rather than the snapshot or a range of it.
func (l KeyList) substringFilter() bool {
	return !sharesSnapshot(l.query)
}

// edited counts a change to the snapshot and makes the filtered list that
// shares its memory (all keys, or a ^prefix range) follow it.
func (l *KeyList) edited() {
	l.gen++
	l.edits++
	if !l.substringFilter() {
		l.items = FilterKeys(l.all, l.query) // all, or a binary search
	}
}

// selectKey moves the cursor to key or to where it would sit, in the middle
// of the pane.
func (l *KeyList) selectKey(k string) {
	l.cursor = sort.SearchStrings(l.items, k)
	l.clamp()
	l.offset = max(l.cursor-l.rows()/2, 0)
	l.clamp()
}

// selectKeyInView moves the cursor to key or to where it would sit. If that
// is on screen the rows stay where they are; otherwise it is brought to the
// middle of the pane.
func (l *KeyList) selectKeyInView(k string) {
	i := sort.SearchStrings(l.items, k)
	if i < l.offset || i >= l.offset+l.rows() {
		l.selectKey(k)
		return
	}
	l.cursor = i
	l.clamp()
}

// Selected returns the key under the cursor.
func (l KeyList) Selected() (string, bool) {
	if l.cursor < 0 || l.cursor >= len(l.items) {
		return "", false
	}
	return l.items[l.cursor], true
}

// Len is the number of keys listed, after filtering.
func (l KeyList) Len() int { return len(l.items) }

// Filtering reports whether the filter input has focus.
func (l KeyList) Filtering() bool { return l.filtering }

// Searching reports whether a streamed filter is still reading the store,
// so that the keys it lets through are not all known yet.
func (l KeyList) Searching() bool { return l.scanning }

// Query is the filter in effect.
func (l KeyList) Query() string { return l.query }

// Shown returns a copy of the keys the filter lets through, on screen or
// not. A window that does not hold them all reads them from the store.
func (l KeyList) Shown() ([]string, error) {
	if keys, ok := l.shownHeld(); ok {
		return keys, nil
	}
	return keysFrom(l.src, l.ranges, "", math.MaxInt)
}

// shownHeld returns a copy of the keys the filter lets through if the list
// holds them all.
func (l KeyList) shownHeld() ([]string, bool) {
	if l.windowed() && (!l.head || !l.tail) {
		return nil, false
	}
	return slices.Clone(l.items), true
}

// Total is the number of keys in the store, as last read.
func (l KeyList) Total() int {
	if l.src != nil {
		return l.total
	}
	return len(l.all)
}

// Visible returns the keys on screen.
func (l KeyList) Visible() []string {
	end := min(l.offset+l.rows(), len(l.items))
	if l.offset >= end {
		return nil
	}
	return l.items[l.offset:end]
}

// MissingSizes returns the keys on screen whose value size is not known and
// marks them as asked for.
func (l *KeyList) MissingSizes() []string {
	if len(l.sizes) > maxSizeCache {
		l.sizes = map[string]int{}
		l.expires = map[string]time.Time{}
	}
	var out []string
	for _, k := range l.Visible() {
		if _, ok := l.sizes[k]; !ok {
			l.sizes[k] = sizePending
			out = append(out, k)
		}
	}
	return out
}

// SetSizes records value sizes; a negative size means the key is gone.
func (l *KeyList) SetSizes(sizes map[string]int) {
	for k, n := range sizes {
		l.sizes[k] = n
	}
}

// ForgetSizes drops what is known of keys' sizes, so that they are asked
// for again.
func (l *KeyList) ForgetSizes(keys []string) {
	for _, k := range keys {
		delete(l.sizes, k)
		delete(l.expires, k)
	}
}

// RefreshSizes forgets the sizes and expiries the list has read, which
// another writer may have changed, and returns the keys on screen, to be
// asked for again: their rows show what they showed until the answer
// comes, rather than blink.
func (l *KeyList) RefreshSizes() []string {
	vis := l.Visible()
	sizes := make(map[string]int, len(vis))
	expires := make(map[string]time.Time)
	for _, k := range vis {
		if n, ok := l.sizes[k]; ok {
			sizes[k] = n
		}
		if t, ok := l.expires[k]; ok {
			expires[k] = t
		}
	}
	l.sizes, l.expires = sizes, expires
	return vis
}

// SetExpiries records when keys expire; a zero time means never.
func (l *KeyList) SetExpiries(expires map[string]time.Time) {
	for k, t := range expires {
		if t.IsZero() {
			delete(l.expires, k)
		} else {
			l.expires[k] = t
		}
	}
}

// HasExpiries reports whether some key seen on screen expires.
func (l KeyList) HasExpiries() bool { return len(l.expires) > 0 }

// Expired returns the keys seen on screen that have expired by now.
func (l KeyList) Expired(now time.Time) []string {
	var out []string
	for k, t := range l.expires {
		if !t.After(now) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Update handles navigation, the filter input and filter results.
func (l KeyList) Update(msg tea.Msg) (KeyList, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		if l.filtering {
			return l.updateFilterInput(msg)
		}
		return l.updateNav(msg)
	case tea.MouseMsg:
		l.updateMouse(msg)
	case filterTickMsg:
		if msg.seq == l.seq {
			return l, l.scan(l.input.Value())
		}
	case filterResultMsg:
		l.scans = max(l.scans-1, 0)
		return l, l.applyFilter(msg)
	case windowMsg:
		return l, l.applyWindow(msg)
	case filterChunkMsg:
		return l, l.applyChunk(msg)
	}
	return l, nil
}

func (l KeyList) updateNav(msg tea.KeyMsg) (KeyList, tea.Cmd) {
	km := l.common.KeyMap
	switch {
	case key.Matches(msg, km.Filter):
		l.filtering = true
		return l, l.input.Focus()
	case key.Matches(msg, km.ClearFilter) && l.query != "":
		l.clearFilter()
	default:
		l.move(msg)
	}
	return l, l.FetchCmd()
}

// move handles the movement keys; it reports whether msg was one.
func (l *KeyList) move(msg tea.KeyMsg) bool {
	km := l.common.KeyMap
	switch {
	case key.Matches(msg, km.Up):
		l.cursor--
	case key.Matches(msg, km.Down):
		l.cursor++
	case key.Matches(msg, km.PageUp):
		l.cursor -= l.rows()
		l.offset -= l.rows()
	case key.Matches(msg, km.PageDown):
		l.cursor += l.rows()
		l.offset += l.rows()
	case key.Matches(msg, km.Top):
		if !l.jump(true) {
			l.cursor = 0
		}
	case key.Matches(msg, km.Bottom):
		if !l.jump(false) {
			l.cursor = len(l.items) - 1
		}
	default:
		return false
	}
	l.clamp()
	l.extend()
	return true
}

func (l *KeyList) updateMouse(msg tea.MouseMsg) {
	if msg.Action != tea.MouseActionPress {
		return
	}
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		l.cursor -= 3
	case tea.MouseButtonWheelDown:
		l.cursor += 3
	}
	l.clamp()
	l.extend()
}

func (l KeyList) updateFilterInput(msg tea.KeyMsg) (KeyList, tea.Cmd) {
	switch msg.Type {
	case tea.KeyEsc:
		l.clearFilter()
		return l, l.FetchCmd()
	case tea.KeyEnter:
		l.filtering = false
		l.input.Blur()
		return l, nil
	case tea.KeyUp, tea.KeyDown, tea.KeyPgUp, tea.KeyPgDown:
		l.move(msg)
		return l, l.FetchCmd()
	}
	before := l.input.Value()
	var cmd tea.Cmd
	l.input, cmd = l.input.Update(msg)
	if l.input.Value() == before {
		return l, cmd
	}
	l.seq++
	return l, tea.Batch(cmd, filterTick(l.seq))
}

func (l *KeyList) clearFilter() {
	sel, _ := l.Selected()
	l.seq++ // drops any filter still running
	l.filtering = false
	l.input.Blur()
	l.input.SetValue("")
	if l.src != nil {
		// A read under way may be for the filter: drop it.
		l.scanning, l.inflight, l.want = false, false, fetchNone
		l.fetchSeq++
		if l.query != "" || l.ranges == nil {
			l.query, l.ranges = "", everyKey // the keys around sel replace the matches
			l.request(fetchAround, sel, true)
		}
		l.extend()
		return
	}
	l.query = ""
	l.items = l.all
	l.selectKey(sel)
}

// applyFilter shows the result of the latest filter. A result taken from a
// snapshot that has since been edited is run again on the new one.
func (l *KeyList) applyFilter(msg filterResultMsg) tea.Cmd {
	if msg.seq != l.seq {
		return nil
	}
	if msg.gen != l.gen {
		return l.scan(msg.query)
	}
	sel, _ := l.Selected()
	l.query = msg.query
	l.items = msg.keys
	if l.filtering {
		// Typing a filter is looking for something: start at the first match.
		l.cursor, l.offset = 0, 0
		return nil
	}
	l.selectKey(sel) // a new snapshot, filtered again: stay put
	return nil
}

// clamp keeps the cursor on a key and the cursor's row on screen.
func (l *KeyList) clamp() {
	l.cursor = min(max(l.cursor, 0), max(len(l.items)-1, 0))
	rows := l.rows()
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+rows {
		l.offset = l.cursor - rows + 1
	}
	l.offset = min(max(l.offset, 0), max(len(l.items)-rows, 0))
}

// View renders the header line and the visible rows.
func (l KeyList) View() string {
	var b strings.Builder
	b.WriteString(l.headerView())
	visible := l.Visible()
	for i, k := range visible {
		b.WriteByte('\n')
		b.WriteString(l.rowView(k, l.offset+i == l.cursor))
	}
	if len(l.items) == 0 {
		b.WriteByte('\n')
		b.WriteString(l.common.Styles.Muted.Render(l.emptyText()))
	}
	return b.String()
}

func (l KeyList) emptyText() string {
	if l.scanning {
		return fmt.Sprintf("searching… %d%%", l.progress())
	}
	if l.query != "" || l.input.Value() != "" {
		return "no keys match"
	}
	if !l.loaded {
		return "loading keys…"
	}
	return "no keys yet (n adds one)"
}

func (l KeyList) headerView() string {
	s := l.common.Styles
	count := countKeys(l.Total())
	switch {
	case !l.loaded:
		count = "…"
	case l.query == "":
	case l.scanning:
		// Matches so far, and how much of the store the scan has read.
		count = fmt.Sprintf("%s · %d%%", groupDigits(len(l.items)), l.progress())
	case l.windowed() && (!l.head || !l.tail):
		// The window holds some of the matches: how many there are is
		// not counted.
		count = fmt.Sprintf("%s+ of %s", groupDigits(len(l.items)), groupDigits(l.Total()))
	default:
		count = fmt.Sprintf("%s of %s", groupDigits(len(l.items)), groupDigits(l.Total()))
	}
	left := s.PaneTitle.Render("Keys")
	switch {
	case l.filtering:
		left = l.input.View()
	case l.query != "":
		left = s.FilterPrompt.Render("/ ") + Escape(l.query)
	}
	return joinEnds(left, s.Muted.Render(count), l.width)
}

func (l KeyList) rowView(k string, selected bool) string {
	s := l.common.Styles
	col, format := sizeColumn, FormatBytes
	if l.width < narrowList {
		col, format = narrowSizeColumn, compactBytes
	}
	size := ""
	switch n, ok := l.sizes[k]; {
	case ok && n >= 0:
		size = format(int64(n))
	case ok && n == sizePending:
		size = "…"
	}
	keyWidth := max(l.width-col-2-l.gutter(), 1)
	name := truncateMiddle(Escape(k), keyWidth)
	pad := strings.Repeat(" ", max(keyWidth-lipgloss.Width(name), 0))
	sizeText := fmt.Sprintf("%*s", col, size)
	sep := " "
	if _, ok := l.expires[k]; ok {
		sep = expiryMarker
	}
	mark := l.markView(k, selected)
	switch {
	case selected && mark == "":
		return s.Selected.Render("▌" + name + pad + sep + sizeText)
	case selected:
		return s.Selected.Render("▌") + mark + s.Selected.Render(name+pad+sep+sizeText)
	}
	return " " + mark + s.Item.Render(name) + pad + s.ItemSize.Render(sep+sizeText)
}

// expiryMarker stands between a key and its size when the key expires:
// one cell, in the column that otherwise holds a space.
const expiryMarker = "◔"

// truncateMiddle cuts s, which holds no escape sequences, to width cells
// by taking out its middle: keys that share a long prefix differ at the
// end, so the end is kept, with a little of the start for context.
func truncateMiddle(s string, width int) string {
	w := lipgloss.Width(s)
	if w <= width {
		return s
	}
	if width < 4 {
		return ansi.Truncate(s, width, "…")
	}
	head := (width - 1) / 3
	tail := width - 1 - head
	return ansi.Truncate(s, head, "") + "…" + ansi.TruncateLeft(s, w-tail, "")
}

// joinEnds puts left and right at the two ends of a line width wide.
func joinEnds(left, right string, width int) string {
	gap := width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return ansi.Truncate(left, width, "…")
	}
	return left + strings.Repeat(" ", gap) + right
}
