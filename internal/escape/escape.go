// Package escape is the one rule by which crabkv shows keys and values on a
// terminal, shared by the command-line tool and the inspector: stored bytes
// are data and must never reach the terminal as commands, nor hide from the
// eye.
//
// A character is shown as it is when it is printable in the sense of
// strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space. Everything else is spelled as a Go escape, the same spelling
// strconv.Quote uses: control characters (\n, \x1b, \x00, \u009b), format
// characters that are invisible or reorder the text around them (\u200b,
// \u202e, \ufeff), spaces other than ASCII (\u00a0), and bytes that are not
// valid UTF-8 (\xff). The command-line tool prints such a key or value as a
// whole quoted Go string, which strconv.Unquote (and crabkv's --quoted)
// turns back into the bytes; the inspector shows the escapes without the
// quotes and leaves backslashes alone, so that paths and JSON stay readable.
package escape

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NeedsEscape reports whether the valid rune r is shown as an escape.
func NeedsEscape(r rune) bool { return !strconv.IsPrint(r) }

// Safe reports whether s can be shown as it is. With layout, newlines and
// tabs are allowed too, for multi-line text such as a value.
func Safe(s string, layout bool) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < 0x7f { // printable ASCII, the common case
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return false
		case layout && (r == '\n' || r == '\t'):
		case NeedsEscape(r):
			return false
		}
		i += size
	}
	return true
}

// Quote returns s as it is when it is Safe (with layout as given), and
// otherwise as a double-quoted Go string literal. A safe s that begins with
// a double quote is quoted too, so that output never looks like a literal
// that is not one.
func Quote(s string, layout bool) string {
	if Safe(s, layout) && !strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}

// String returns s with every character that NeedsEscape, and every byte
// that is not valid UTF-8, replaced by its Go escape. Nothing else changes:
// no quotes are added and backslashes stay single.
func String(s string) string {
	if Safe(s, false) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	write(&b, s, false)
	return b.String()
}

// Text is String for multi-line text shown in a pane: newlines stay line
// breaks (a CR just before one is dropped), tabs become spaces up to the
// next stop of TabWidth, and everything else is escaped as String does.
func Text(s string) string {
	if Safe(s, false) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	write(&b, s, true)
	return b.String()
}

// TabWidth is the distance between tab stops in Text.
const TabWidth = 4

func write(b *strings.Builder, s string, text bool) {
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
			n := TabWidth - col%TabWidth
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case NeedsEscape(r):
			q := strconv.QuoteRune(r)
			esc := q[1 : len(q)-1]
			b.WriteString(esc)
			col += len(esc)
		default:
			b.WriteString(s[i : i+size])
			col++
		}
		i += size
	}
}
