package tui

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "user:42", "user:42"},
		{"unicode", "café/ключ", "café/ключ"},
		{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"newline and tab", "a\nb\tc\r", `a\nb\tc\r`},
		{"nul and del", "a\x00b\x7f", `a\0b\x7f`},
		{"C1 CSI", "a\u009b2J", `a\u009b2J`},
		{"invalid utf8", "a\xff\xfeb", `a\xff\xfeb`},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`},
		{"backslash kept", `C:\dir`, `C:\dir`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Escape(tt.in)
			if got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsAny(got, "\x1b\x07\x00\n\r\t\u009b") {
				t.Errorf("Escape(%q) left a control character: %q", tt.in, got)
			}
		})
	}
}

func TestEscapeText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"lines kept", "a\nb\n", "a\nb\n"},
		{"crlf", "a\r\nb", "a\nb"},
		{"lone cr", "a\rb", `a\rb`},
		{"tab stops", "a\tb\n\tc", "a   b\n    c"},
		{"escape in text", "red \x1b[31mX", `red \x1b[31mX`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EscapeText(tt.in); got != tt.want {
				t.Errorf("EscapeText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "abc", "\x1b[2J", "\xff", "a\tb\r\n", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Escape(s), EscapeText(s)} {
			for _, r := range out {
				if r == '\n' {
					continue
				}
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidiControl(r) {
					t.Fatalf("control %U survived in %q", r, out)
				}
			}
		}
		if strings.Contains(Escape(s), "\n") {
			t.Fatalf("Escape kept a newline: %q", Escape(s))
		}
	})
}
