package tui

import (
	"fmt"
	"strings"

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

// ValueInfo says where a value sits in the log.
type ValueInfo struct {
	Offset     int64
	RecordSize int
	ValueSize  int
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

// Value returns the value shown and whether it is loaded.
func (v Viewer) Value() ([]byte, bool) { return v.value, v.loaded }

// Mode is the view mode in use.
func (v Viewer) Mode() ViewMode { return v.mode }

// SetLoading shows that key's value is on its way.
func (v *Viewer) SetLoading(k string) {
	if k != v.key {
		v.loaded, v.value, v.err = false, nil, ""
	}
	v.key, v.loading = k, true
	v.render()
}

// Clear empties the viewer, when no key is selected.
func (v *Viewer) Clear() {
	*v = Viewer{common: v.common, vp: v.vp, width: v.width, height: v.height}
	v.render()
}

// SetValue shows value and picks the view mode that suits it.
func (v *Viewer) SetValue(k string, value []byte, info ValueInfo) {
	sameKey := k == v.key && v.loaded
	v.key, v.value, v.info, v.loaded, v.loading, v.err = k, value, info, true, false, ""
	v.detected = DetectMode(value)
	if !sameKey {
		v.mode = v.detected
		v.part = 0
		v.vp.GotoTop()
	}
	v.part = min(v.part, partCount(len(value), v.mode)-1)
	v.render()
}

// SetError shows that k's value could not be loaded; msg must be escaped.
func (v *Viewer) SetError(k string, msg string) {
	v.key, v.err, v.loaded, v.loading, v.value = k, msg, false, false, nil
	v.render()
}

// CycleMode steps to the next view mode.
func (v *Viewer) CycleMode() {
	v.mode = v.mode.Next()
	v.part = 0
	v.vp.GotoTop()
	v.render()
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
	v.vp.Height = max(v.height-viewerHeader-len(v.keyLines())+1, 1)
}

func (v *Viewer) render() {
	v.fitViewport()
	switch {
	case v.err != "":
		v.vp.SetContent(v.common.Styles.Error.Render(ansi.Hardwrap(v.err, max(v.width, 1), true)))
	case !v.loaded && v.key == "":
		v.vp.SetContent(v.common.Styles.Muted.Render("no key selected"))
	case !v.loaded:
		v.vp.SetContent(v.common.Styles.Muted.Render("loading…"))
	default:
		v.vp.SetContent(formatPart(v.value, v.mode, v.part, v.width))
	}
}

// Update scrolls the value: within the part on screen, and on to the
// next or previous part at its ends.
func (v Viewer) Update(msg tea.Msg) (Viewer, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok && v.loaded {
		km, last := v.common.KeyMap, partCount(len(v.value), v.mode)-1
		switch {
		case key.Matches(k, km.Top):
			v.showPart(0, false)
			return v, nil
		case key.Matches(k, km.Bottom):
			v.showPart(last, true)
			return v, nil
		case key.Matches(k, km.Down, km.PageDown) && v.vp.AtBottom() && v.part < last:
			v.showPart(v.part+1, false)
			return v, nil
		case key.Matches(k, km.Up, km.PageUp) && v.vp.AtTop() && v.part > 0:
			v.showPart(v.part-1, true)
			return v, nil
		}
	}
	var cmd tea.Cmd
	v.vp, cmd = v.vp.Update(msg)
	return v, cmd
}

// showPart renders part p and shows its top, or its bottom with atEnd.
func (v *Viewer) showPart(p int, atEnd bool) {
	if p != v.part {
		v.part = p
		v.render()
	}
	if atEnd {
		v.vp.GotoBottom()
	} else {
		v.vp.GotoTop()
	}
}

// modeLabel names the view mode for the header.
func (v Viewer) modeLabel() string {
	label := v.mode.String()
	if tooLargeToIndent(v.value, v.mode) {
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
		details = fmt.Sprintf("%s %s  %s %d  %s %s",
			s.HeaderKey.Render("size"), FormatBytes(int64(v.info.ValueSize)),
			s.HeaderKey.Render("offset"), v.info.Offset,
			s.HeaderKey.Render("view"), mode)
		if parts := partCount(len(v.value), v.mode); parts > 1 {
			details += s.Muted.Render(fmt.Sprintf("  part %d/%d", v.part+1, parts))
		}
		if pct := v.vp.ScrollPercent(); v.vp.TotalLineCount() > v.vp.Height {
			details += s.Muted.Render(fmt.Sprintf("  %3.0f%%", 100*pct))
		}
	}
	rule := s.Muted.Render(strings.Repeat("─", w))
	return strings.Join(keyLines, "\n") + "\n" + ansi.Truncate(details, w, "…") + "\n" + rule
}
