package tui

import (
	"strings"
	"testing"
)

func TestDetectMode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want ViewMode
	}{
		{"empty", nil, ModeText},
		{"text", []byte("hello\nworld\n"), ModeText},
		{"json object", []byte(` {"a":1,"b":[true,null]}`), ModeJSON},
		{"json array", []byte(`[1,2,3]`), ModeJSON},
		{"json scalar is text", []byte(`42`), ModeText},
		{"broken json is text", []byte(`{"a":`), ModeText},
		{"nul is binary", []byte("ab\x00cd"), ModeHex},
		{"invalid utf8", []byte{0xff, 0xfe, 'a'}, ModeHex},
		{"one escape is text", []byte("red \x1b[31mX and more text here"), ModeText},
		{"mostly control", []byte{1, 2, 3, 4, 'a'}, ModeHex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectMode(tt.in); got != tt.want {
				t.Errorf("DetectMode(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatValueJSON(t *testing.T) {
	got := FormatValue([]byte(`{"name":"crab","legs":10,"tags":["a","b"]}`), ModeJSON, 40)
	want := `{
  "name": "crab",
  "legs": 10,
  "tags": [
    "a",
    "b"
  ]
}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFormatValueJSONFallback(t *testing.T) {
	got := FormatValue([]byte("plain"), ModeJSON, 40)
	if !strings.HasPrefix(got, "(not valid JSON") || !strings.HasSuffix(got, "plain") {
		t.Errorf("got %q", got)
	}
}

func TestFormatValueWrapsAndEscapes(t *testing.T) {
	got := FormatValue([]byte("0123456789abcdef\x1b[2J"), ModeText, 10)
	want := "0123456789\nabcdef\\x1b\n[2J"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHexDump(t *testing.T) {
	v := []byte("Hello, crab!\x00\x01\xff-tail")
	// The 16-byte lines are what hexdump -C prints for v.
	sixteen := "" +
		"00000000  48 65 6c 6c 6f 2c 20 63  72 61 62 21 00 01 ff 2d  |Hello, crab!...-|\n" +
		"00000010  74 61 69 6c                                       |tail|"
	eight := "" +
		"00000000  48 65 6c 6c 6f 2c 20 63  |Hello, c|\n" +
		"00000008  72 61 62 21 00 01 ff 2d  |rab!...-|\n" +
		"00000010  74 61 69 6c              |tail|"
	four := "" +
		"00000000  48 65 6c 6c  |Hell|\n" +
		"00000004  6f 2c 20 63  |o, c|\n" +
		"00000008  72 61 62 21  |rab!|\n" +
		"0000000c  00 01 ff 2d  |...-|\n" +
		"00000010  74 61 69 6c  |tail|"
	tests := []struct {
		width int
		want  string
	}{
		{120, sixteen},
		{78, sixteen}, // exactly hexdump -C's width
		{77, eight},
		{58, eight}, // the viewer in a 100-column terminal
		{45, eight},
		{44, four},
	}
	for _, tt := range tests {
		got := HexDump(v, tt.width)
		if got != tt.want {
			t.Errorf("HexDump(width %d) =\n%s\nwant\n%s", tt.width, got, tt.want)
		}
		for _, line := range strings.Split(got, "\n") {
			if len(line) > tt.width {
				t.Errorf("width %d: line of %d columns: %q", tt.width, len(line), line)
			}
		}
	}
}

func TestHexDumpTruncates(t *testing.T) {
	got := HexDump(make([]byte, maxHexRender+100), 80)
	if !strings.HasSuffix(got, "… 100 B more not shown") {
		t.Errorf("missing truncation note: %q", got[len(got)-40:])
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
