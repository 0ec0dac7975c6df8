package escape

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "user:42", "user:42"},
		{"unicode", "café/ключ ☃", "café/ключ ☃"},
		{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"newline and tab", "a\nb\tc\r", `a\nb\tc\r`},
		{"nul and del", "a\x00b\x7f", `a\x00b\x7f`},
		{"C1 CSI", "a\u009b2J", `a\u009b2J`},
		{"invalid utf8", "a\xff\xfeb", `a\xff\xfeb`},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`},
		{"bidi isolate", "a\u2066b", `a\u2066b`},
		{"zero width space", "us\u200ber", `us\u200ber`},
		{"zero width joiner", "a\u200db", `a\u200db`},
		{"byte order mark", "\ufeffkey", `\ufeffkey`},
		{"no-break space", "a\u00a0b", `a\u00a0b`},
		{"backslash kept", `C:\dir "x"`, `C:\dir "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// The escapes are the ones a quoted Go string uses, so the CLI
			// and the inspector spell a character alike.
			if q := strconv.Quote(tt.in); !strings.Contains(tt.in, `\`) && !strings.Contains(tt.in, `"`) && q[1:len(q)-1] != got {
				t.Errorf("String(%q) = %q, but strconv.Quote spells it %s", tt.in, got, q)
			}
		})
	}
}

func TestText(t *testing.T) {
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
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{"user:1", "k\x1b]0;pwned\a", "\x00\xff", `"looks quoted"`, "zw\u200b", "a\nb"} {
		q := Quote(s, false)
		if q == s {
			if !Safe(s, false) || strings.HasPrefix(s, `"`) {
				t.Errorf("Quote(%q) left it bare", s)
			}
			continue
		}
		back, err := strconv.Unquote(q)
		if err != nil || back != s {
			t.Errorf("Unquote(Quote(%q) = %s) = %q, %v", s, q, back, err)
		}
	}
	if got := Quote("two\nlines\tok", true); got != "two\nlines\tok" {
		t.Errorf("Quote with layout = %q", got)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "abc", "\x1b[2J", "\xff", "a\tb\r\n", "\u202e", "\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{String(s), Text(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 in %q", out)
			}
			for _, r := range out {
				if r != '\n' && NeedsEscape(r) && r != ' ' {
					t.Fatalf("%U survived in %q", r, out)
				}
			}
		}
		if strings.Contains(String(s), "\n") {
			t.Fatalf("String kept a newline: %q", String(s))
		}
	})
}
