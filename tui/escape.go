package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every byte sequence that a terminal could act on
// replaced by a visible escape, so that keys and values are shown as data and
// never reach the terminal as commands. C0 and C1 control characters become
// \n, \t, \x1b and the like, bidirectional overrides (which can reorder what
// the eye sees) become \u202e, and bytes that are not valid UTF-8 become \xNN.
// Backslashes are left alone so that paths and JSON stay readable.
func Escape(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	appendEscaped(&b, s, false)
	return b.String()
}

// EscapeText is Escape for multi-line text: newlines are kept as line breaks,
// CRLF is treated as a newline and tabs become spaces, while every other
// control character is escaped as Escape does.
func EscapeText(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	appendEscaped(&b, s, true)
	return b.String()
}

// isPlain reports whether s holds only printable ASCII, the common case,
// which needs no copy.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

const tabWidth = 4

func appendEscaped(b *strings.Builder, s string, text bool) {
	col := 0 // column in the current line, for tab stops
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(b, `\x%02x`, s[i])
			col += 4
		case text && r == '\n':
			b.WriteByte('\n')
			col = 0
		case text && r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// Dropped: the '\n' that follows ends the line.
		case text && r == '\t':
			n := tabWidth - col%tabWidth
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			col += writeControl(b, r)
		case isBidiControl(r):
			fmt.Fprintf(b, `\u%04x`, r)
			col += 6
		default:
			b.WriteString(s[i : i+size])
			col++
		}
		i += size
	}
}

// writeControl writes the escape for a C0 or C1 control character and
// returns its width.
func writeControl(b *strings.Builder, r rune) int {
	var esc string
	switch r {
	case '\n':
		esc = `\n`
	case '\r':
		esc = `\r`
	case '\t':
		esc = `\t`
	case 0:
		esc = `\0`
	}
	if esc == "" {
		if r < 0x80 {
			esc = fmt.Sprintf(`\x%02x`, r)
		} else {
			esc = fmt.Sprintf(`\u%04x`, r)
		}
	}
	b.WriteString(esc)
	return len(esc)
}

// isBidiControl reports whether r is one of the Unicode characters that
// change the display order of the text around them, or an invisible format
// character that hides where one key ends and another begins.
func isBidiControl(r rune) bool {
	switch {
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c, r == 0xfeff:
		return true
	}
	return false
}
