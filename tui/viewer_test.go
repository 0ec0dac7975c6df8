package tui

import (
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
