package tui

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// viewerHeader is the least number of lines above the value: key,
// details, rule. A key too long for one line takes up to maxKeyLines.
const viewerHeader = 3

// maxKeyLines is how many lines the header gives a long key before it
// cuts it.
const maxKeyLines = 4

// ValueInfo says where a value sits in the log, how it is stored and
// when it expires, as far as the store says.
type ValueInfo struct {
	Offset     int64
	RecordSize int
	ValueSize  int
	// StoredSize is the value's size as stored, and Codec the codec it is
	// stored with ("raw", "zstd", …); empty when the store does not say.
	StoredSize int
	Codec      string
	// Expires is when the key expires; the zero time if it never does.
	Expires time.Time
}

// Viewer is the right pane: the selected key's header and its value as
// text, pretty JSON or a hex dump, scrolling in a viewport.
type Viewer struct {
	common *Common
	vp     viewport.Model

	key      string
	loaded   bool // value and info hold key's value
	loading  bool
	err      string // why the value could not be loaded, escaped
	value    []byte
	info     ValueInfo
	mode     ViewMode
	detected ViewMode
	part     int // the part of a long value on screen (parts.go)

	// A value over streamLimit is streamed: value holds only the bytes
	// of the part on screen, from byte base of the value, and total is
	// the value's size. Moving to another part asks the store for it;
	// partSeq numbers the requests so that a late reply is dropped.
	streamed    bool
	base, total int
	partSeq     int
	partPending bool // the part in part and mode is on its way
	store       Store
	match       viewerMatch // where the value search found its query (viewer_match.go)

	width, height int
}

// NewViewer returns an empty viewer.
func NewViewer(c *Common) Viewer {
	vp := viewport.New(0, 0)
	vp.KeyMap = viewportKeys(c.KeyMap)
	vp.MouseWheelEnabled = true
	return Viewer{common: c, vp: vp}
}

// viewportKeys maps the inspector's movement bindings onto the viewport's.
func viewportKeys(k KeyMap) viewport.KeyMap {
	return viewport.KeyMap{
		Up: k.Up, Down: k.Down, PageUp: k.PageUp, PageDown: k.PageDown,
		HalfPageUp:   key.NewBinding(key.WithDisabled()),
		HalfPageDown: key.NewBinding(key.WithDisabled()),
		Left:         key.NewBinding(key.WithDisabled()),
		Right:        key.NewBinding(key.WithDisabled()),
	}
}

// SetSize sets the pane's inner size.
func (v *Viewer) SetSize(w, h int) {
	v.width, v.height = w, h
	v.vp.Width = w
	v.render()
}

// Key is the key shown, or being loaded.
func (v Viewer) Key() string { return v.key }

// Value returns the value shown and whether it is loaded. A streamed
// value is never held whole: see Streamed.
func (v Viewer) Value() ([]byte, bool) { return v.value, v.loaded && !v.streamed }

// Streamed reports whether the value shown is read from the store a part
// at a time, and its size.
func (v Viewer) Streamed() (bool, int) { return v.loaded && v.streamed, v.total }

// span is what the viewer holds of the value.
func (v Viewer) span() span {
	if v.streamed {
		return span{b: v.value, base: v.base, total: v.total}
	}
	return whole(v.value)
}

// size is the size of the value.
func (v Viewer) size() int { return v.span().total }

// Expires is when the key shown expires: the zero time if it never does
// or no value is loaded.
func (v Viewer) Expires() time.Time {
	if !v.loaded {
		return time.Time{}
	}
	return v.info.Expires
}

// storageLines is how many lines storageDetails takes in the header.
func (v Viewer) storageLines() int {
	if v.loaded && (v.encoded() || !v.info.Expires.IsZero()) {
		return 1
	}
	return 0
}

// encoded reports whether the value is stored with a codec that is not
// raw, as far as the store says.
func (v Viewer) encoded() bool {
	return v.info.Codec != "" && v.info.Codec != "raw" && v.info.StoredSize > 0
}

// storageDetails are the header's line on when the value expires and how
// it is stored: "expires in 4m12s  zstd 1.0 KiB→123 B, 8.1×". A store
// that does not say leaves them out; a key without either has no line.
func (v Viewer) storageDetails() string {
	if v.storageLines() == 0 {
		return ""
	}
	s := v.common.Styles
	var out []string
	if !v.info.Expires.IsZero() {
		left := v.info.Expires.Sub(v.common.Now())
		if left <= 0 {
			out = append(out, s.Error.Render("expired"))
		} else {
			out = append(out, s.HeaderKey.Render("expires in")+" "+FormatRemaining(left))
		}
	}
	if c := v.info.Codec; v.encoded() {
		out = append(out, fmt.Sprintf("%s %s→%s, %.1f×", s.HeaderKey.Render(c),
			FormatBytes(int64(v.info.ValueSize)), FormatBytes(int64(v.info.StoredSize)),
			float64(v.info.ValueSize)/float64(v.info.StoredSize)))
	}
	return strings.Join(out, "  ")
}

// FormatRemaining writes a time left to the second, rounded up, in at
// most two units: "45s", "4m12s", "2h05m", "3d04h".
func FormatRemaining(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	secs := int64((d + time.Second - 1) / time.Second)
	switch {
	case secs >= 86400:
		return fmt.Sprintf("%dd%02dh", secs/86400, secs%86400/3600)
	case secs >= 3600:
		return fmt.Sprintf("%dh%02dm", secs/3600, secs%3600/60)
	case secs >= 60:
		return fmt.Sprintf("%dm%02ds", secs/60, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}

// Mode is the view mode in use.
func (v Viewer) Mode() ViewMode { return v.mode }

// SetLoading shows that key's value is on its way.
func (v *Viewer) SetLoading(k string) {
	if k != v.key {
		v.loaded, v.value, v.err, v.streamed = false, nil, "", false
	}
	v.key, v.loading = k, true
	v.render()
}

// Clear empties the viewer, when no key is selected.
func (v *Viewer) Clear() {
	*v = Viewer{common: v.common, vp: v.vp, width: v.width, height: v.height, store: v.store, partSeq: v.partSeq + 1}
	v.render()
}

// SetValue shows value and picks the view mode that suits it.
func (v *Viewer) SetValue(k string, value []byte, info ValueInfo) {
	sameKey := k == v.key && v.loaded
	v.key, v.value, v.info, v.loaded, v.loading, v.err = k, value, info, true, false, ""
	v.streamed, v.base, v.total, v.partPending = false, 0, 0, false
	v.partSeq++
	chosen := v.mode != v.detected // the user picked the mode with v
	v.detected = DetectMode(value)
	if !sameKey || !chosen {
		// Another writer may have put another kind of value under the
		// same key: a mode the viewer picked is picked again.
		v.mode = v.detected
	}
	if !sameKey {
		v.part = 0
		v.vp.GotoTop()
	}
	if p, ok := v.matchPart(); ok {
		v.part = p
	}
	v.part = min(v.part, partCount(len(value), v.mode)-1)
	v.render()
}

// SetStreamed shows a value over streamLimit, of which first holds the
// bytes of the first text part, and picks the view mode that suits that
// part. It returns the command that loads the part to show when that is
// not the first.
func (v *Viewer) SetStreamed(k string, first []byte, info ValueInfo) tea.Cmd {
	sameKey := k == v.key && v.loaded
	v.key, v.info, v.loaded, v.loading, v.err = k, info, true, false, ""
	v.streamed, v.total = true, info.ValueSize
	v.partSeq++
	chosen := v.mode != v.detected // as in SetValue
	v.detected = detectPart(first)
	if !sameKey || !chosen {
		v.mode = v.detected
	}
	if !sameKey {
		v.part = 0
		v.vp.GotoTop()
	}
	if p, ok := v.matchPart(); ok {
		v.part = p
	}
	v.part = min(v.part, partCount(v.total, v.mode)-1)
	if v.part == 0 {
		off, n := partWindow(v.total, v.mode, 0)
		v.value, v.base, v.partPending = first[off:min(off+n, len(first))], off, false
		v.render()
		return nil
	}
	return v.loadPart(v.mode, v.part, false)
}

// detectPart is DetectMode for the first part of a streamed value: a
// part of JSON is not valid JSON, but is still shown as JSON too large
// to indent.
func detectPart(first []byte) ViewMode {
	trimmed := bytes.TrimSpace(first)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && !isBinary(first) {
		return ModeJSON
	}
	return DetectMode(first)
}

// loadPart asks the store for part p of the streamed value in mode, and
// shows "loading…" until it comes.
func (v *Viewer) loadPart(mode ViewMode, p int, atEnd bool) tea.Cmd {
	v.partSeq++
	v.mode, v.part, v.value, v.partPending = mode, p, nil, true
	v.render()
	if v.store == nil {
		return nil
	}
	return loadPartCmd(v.store, v.partSeq, v.key, mode, p, atEnd, v.total)
}

// SetPart shows a part of the streamed value that loadPart asked for,
// unless the viewer has asked for another since.
func (v *Viewer) SetPart(msg partLoadedMsg) {
	if msg.seq != v.partSeq || msg.key != v.key || !v.streamed {
		return
	}
	if msg.err != nil {
		v.SetError(msg.key, explain(msg.err))
		return
	}
	v.mode, v.part, v.partPending = msg.mode, msg.part, false
	v.value, v.base, v.total, v.info.ValueSize = msg.window.b, msg.window.base, msg.window.total, msg.window.total
	pending := v.match.pending
	v.render()
	switch {
	case msg.atEnd:
		v.vp.GotoBottom()
	case pending && !v.match.pending: // render scrolled to the match
	default:
		v.vp.GotoTop()
	}
}

// SetError shows that k's value could not be loaded; msg must be escaped.
func (v *Viewer) SetError(k string, msg string) {
	v.key, v.err, v.loaded, v.loading, v.value = k, msg, false, false, nil
	v.streamed, v.partPending = false, false
	v.partSeq++
	v.render()
}

// CycleMode steps to the next view mode. For a streamed value it returns
// the command that loads the first part in that mode.
func (v *Viewer) CycleMode() tea.Cmd {
	if v.streamed && v.loaded {
		v.vp.GotoTop()
		return v.loadPart(v.mode.Next(), 0, false)
	}
	v.mode = v.mode.Next()
	v.part = 0
	v.vp.GotoTop()
	v.render()
	return nil
}

// keyLines is the header's key, escaped and wrapped to the pane so that a
// long key can be read in full.
func (v Viewer) keyLines() []string {
	w := max(v.width, 1)
	text := ansi.Hardwrap("key "+Escape(v.key), w, true)
	lines := strings.Split(text, "\n")
	if len(lines) > maxKeyLines {
		lines = lines[:maxKeyLines]
		lines[maxKeyLines-1] = ansi.Truncate(lines[maxKeyLines-1], w-1, "") + "…"
	}
	return lines
}

// fitViewport gives the value the lines the header leaves.
func (v *Viewer) fitViewport() {
	v.vp.Height = max(v.height-viewerHeader-len(v.keyLines())+1-v.storageLines(), 1)
}

func (v *Viewer) render() {
	v.fitViewport()
	switch {
	case v.err != "":
		v.vp.SetContent(v.common.Styles.Error.Render(ansi.Hardwrap(v.err, max(v.width, 1), true)))
	case !v.loaded && v.key == "":
		v.vp.SetContent(v.common.Styles.Muted.Render("no key selected"))
	case !v.loaded || v.partPending:
		v.vp.SetContent(v.common.Styles.Muted.Render("loading…"))
	default:
		content, line, found := v.markMatch(formatPart(v.span(), v.mode, v.part, v.width))
		v.vp.SetContent(content)
		v.scrollToMatch(line, found)
	}
}

// Update scrolls the value: within the part on screen, and on to the
// next or previous part at its ends.
func (v Viewer) Update(msg tea.Msg) (Viewer, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok && v.loaded {
		km, last := v.common.KeyMap, partCount(v.size(), v.mode)-1
		switch {
		case key.Matches(k, km.Top):
			return v, v.showPart(0, false)
		case key.Matches(k, km.Bottom):
			return v, v.showPart(last, true)
		case key.Matches(k, km.Down, km.PageDown) && v.vp.AtBottom() && v.part < last:
			return v, v.showPart(v.part+1, false)
		case key.Matches(k, km.Up, km.PageUp) && v.vp.AtTop() && v.part > 0:
			return v, v.showPart(v.part-1, true)
		}
	}
	var cmd tea.Cmd
	v.vp, cmd = v.vp.Update(msg)
	return v, cmd
}

// showPart renders part p and shows its top, or its bottom with atEnd. A
// part of a streamed value not held yet is loaded: the command returned
// brings it.
func (v *Viewer) showPart(p int, atEnd bool) tea.Cmd {
	if v.streamed && (p != v.part || v.partPending) {
		return v.loadPart(v.mode, p, atEnd)
	}
	if p != v.part {
		v.part = p
		v.render()
	}
	if atEnd {
		v.vp.GotoBottom()
	} else {
		v.vp.GotoTop()
	}
	return nil
}

// modeLabel names the view mode for the header.
func (v Viewer) modeLabel() string {
	label := v.mode.String()
	if tooLargeToIndent(v.size(), v.mode) {
		label = "json too large to indent, as text"
	}
	if v.mode == v.detected {
		label += " (auto)"
	}
	return label
}

// View renders the header and the visible part of the value.
func (v Viewer) View() string {
	return v.headerView() + "\n" + v.vp.View()
}

func (v Viewer) headerView() string {
	s := v.common.Styles
	w := max(v.width, 1)
	keyLines := v.keyLines()
	keyLines[0] = s.HeaderKey.Render("key ") + s.HeaderValue.Render(strings.TrimPrefix(keyLines[0], "key "))
	for i := 1; i < len(keyLines); i++ {
		keyLines[i] = s.HeaderValue.Render(keyLines[i])
	}
	details := s.Muted.Render("—")
	if v.loaded {
		mode := v.modeLabel()
		offset := fmt.Sprintf("  %s %d", s.HeaderKey.Render("offset"), v.info.Offset)
		if v.info.Offset < 0 { // a store that does not say where values sit
			offset = ""
		}
		details = fmt.Sprintf("%s %s%s  %s %s",
			s.HeaderKey.Render("size"), FormatBytes(int64(v.info.ValueSize)), offset,
			s.HeaderKey.Render("view"), mode)
		if parts := partCount(v.size(), v.mode); parts > 1 {
			details += s.Muted.Render(fmt.Sprintf("  part %d/%d", v.part+1, parts))
		}
		if pct := v.vp.ScrollPercent(); v.vp.TotalLineCount() > v.vp.Height {
			details += s.Muted.Render(fmt.Sprintf("  %3.0f%%", 100*pct))
		}
	}
	rule := s.Muted.Render(strings.Repeat("─", w))
	details = ansi.Truncate(details, w, "…")
	if more := v.storageDetails(); more != "" {
		details += "\n" + ansi.Truncate(more, w, "…")
	}
	return strings.Join(keyLines, "\n") + "\n" + details + "\n" + rule
}
