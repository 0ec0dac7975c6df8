package tui

import (
	"fmt"
	"strings"
	"testing"
)

// TestViewerHexWidth checks that the viewer lays the hex dump out for its
// own width: 16 bytes a row once the pane has hexdump -C's 78 columns,
// 8 below that, and again after a resize.
func TestViewerHexWidth(t *testing.T) {
	value := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-and-more")
	tests := []struct {
		width   int
		wantRow string
	}{
		{78, "00000000  89 50 4e 47 0d 0a 1a 0a  00 00 00 0d 49 48 44 52  |.PNG........IHDR|"},
		{58, "00000000  89 50 4e 47 0d 0a 1a 0a  |.PNG....|"},
		{100, "00000000  89 50 4e 47 0d 0a 1a 0a  00 00 00 0d 49 48 44 52  |.PNG........IHDR|"},
	}
	v := NewViewer(NewCommon())
	v.SetSize(40, 12)
	v.SetValue("blob", value, ValueInfo{ValueSize: len(value)})
	if v.Mode() != ModeHex {
		t.Fatalf("mode %v for a binary value, want hex", v.Mode())
	}
	for _, tt := range tests {
		v.SetSize(tt.width, 12)
		lines := strings.Split(v.View(), "\n")
		if len(lines) <= viewerHeader || strings.TrimRight(lines[viewerHeader], " ") != tt.wantRow {
			t.Errorf("width %d: first row\n%q\nwant\n%q", tt.width, lines[min(viewerHeader, len(lines)-1)], tt.wantRow)
		}
	}
}

// numberedLines returns n lines "line 0000000" to "line n-1".
func numberedLines(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %07d\n", i)
	}
	return []byte(b.String())
}

// press sends keys to v one at a time.
func pressViewer(v Viewer, keys ...string) Viewer {
	for _, k := range keys {
		v, _ = v.Update(keyMsg(k))
	}
	return v
}

// TestViewerTopBottom checks that g, G, Home and End move through the value
// as the help says.
func TestViewerTopBottom(t *testing.T) {
	v := NewViewer(NewCommon())
	v.SetSize(60, 20)
	v.SetValue("k", numberedLines(500), ValueInfo{ValueSize: 500 * 13})
	for _, keys := range [][]string{{"G"}, {"end"}} {
		v = pressViewer(v, keys...)
		if view := v.View(); !strings.Contains(view, "line 0000499") {
			t.Errorf("after %q the last line is not on screen:\n%s", keys, view)
		}
		v = pressViewer(v, "g")
		if view := v.View(); !strings.Contains(view, "line 0000000") {
			t.Errorf("after g the first line is not on screen:\n%s", view)
		}
		v = pressViewer(v, "G", "home")
		if view := v.View(); !strings.Contains(view, "line 0000000") {
			t.Errorf("after home the first line is not on screen:\n%s", view)
		}
	}
}

// TestViewerPagesPastRenderLimit checks that every byte of a value larger
// than what the viewer renders at once can be reached, in text and in hex.
func TestViewerPagesPastRenderLimit(t *testing.T) {
	const n = 250000 // 3.1 MiB of text
	value := numberedLines(n)
	v := NewViewer(NewCommon())
	v.SetSize(80, 20)
	v.SetValue("big", value, ValueInfo{ValueSize: len(value)})
	v = pressViewer(v, "G")
	if view := v.View(); !strings.Contains(view, fmt.Sprintf("line %07d", n-1)) {
		t.Fatalf("G did not reach the end of the text:\n%s", view)
	}
	v = pressViewer(v, "g")
	for range 200 {
		v = pressViewer(v, "pgdown")
	}
	if view := v.View(); strings.Contains(view, "line 0000000") || !strings.Contains(view, "line 0") {
		t.Fatalf("paging down did not move through the value:\n%s", view)
	}
	v = pressViewer(v, "g", "up")
	if view := v.View(); !strings.Contains(view, "line 0000000") {
		t.Fatalf("g did not return to the start:\n%s", view)
	}

	v.CycleMode() // json
	v.CycleMode() // hex
	v = pressViewer(v, "G")
	lastRow := fmt.Sprintf("%08x", (len(value)-1)/16*16)
	if view := v.View(); !strings.Contains(view, lastRow) {
		t.Fatalf("G did not reach the last hex row %s:\n%s", lastRow, view)
	}
}

// TestViewerLargeJSONIsLabelledHonestly checks that a JSON value too large
// to indent is not called invalid, nor shown as "json (auto)".
func TestViewerLargeJSONIsLabelledHonestly(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range 150000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"n":%d}`, i)
	}
	b.WriteString("]")
	value := []byte(b.String())
	v := NewViewer(NewCommon())
	v.SetSize(80, 20)
	v.SetValue("big.json", value, ValueInfo{ValueSize: len(value)})
	view := v.View()
	if strings.Contains(view, "not valid JSON") || strings.Contains(view, "json (auto)") {
		t.Errorf("a valid JSON value over the limit is mislabelled:\n%s", view)
	}
	if !strings.Contains(view, "too large to indent") {
		t.Errorf("the view does not say why the JSON is shown as text:\n%s", view)
	}
}
