package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A value longer than the viewer renders at once is shown in parts: byte
// ranges of maxTextRender (text, and JSON too large to indent) or
// maxHexRender (hex) bytes. Scrolling past the end of a part shows the
// next, and G the end of the last, so every byte can be reached while only
// one part is rendered at a time.

// partSize is the size of one part in mode.
func partSize(mode ViewMode) int {
	if mode == ModeHex {
		return maxHexRender
	}
	return maxTextRender
}

// partCount is the number of parts of an n-byte value in mode.
func partCount(n int, mode ViewMode) int {
	if mode == ModeJSON && n <= maxTextRender {
		return 1
	}
	return max((n+partSize(mode)-1)/partSize(mode), 1)
}

// span is what the viewer holds of a value: its bytes from offset base,
// of a value total bytes long. A value the viewer holds whole is the span
// whole(v); a value streamed from the store holds one part (see
// partWindow).
type span struct {
	b           []byte
	base, total int
}

// whole is the span of all of v.
func whole(v []byte) span { return span{b: v, total: len(v)} }

// partWindow is the byte range of a value of total bytes that part p in
// mode needs: the part, and for text the bytes past its end that may
// finish its last character.
func partWindow(total int, mode ViewMode, p int) (off, n int) {
	size := partSize(mode)
	end := (p + 1) * size
	if mode != ModeHex {
		end += utf8.UTFMax - 1
	}
	off = min(p*size, total)
	return off, min(end, total) - off
}

// partRange returns the byte range, within the value, of part p of the
// value s holds, which must hold partWindow's bytes for it. Text parts
// start and end on character boundaries, so that a cut never shows a
// character as broken bytes.
func partRange(s span, mode ViewMode, p int) (start, end int) {
	size := partSize(mode)
	start, end = min(p*size, s.total), min((p+1)*size, s.total)
	if mode != ModeHex {
		start, end = runeBoundary(s, start), runeBoundary(s, end)
	}
	return start, end
}

// runeBoundary moves i, an offset in the value, forward past at most
// three UTF-8 continuation bytes.
func runeBoundary(s span, i int) int {
	for n := 0; n < utf8.UTFMax-1 && i >= s.base && i < s.base+len(s.b) && i > 0 && !utf8.RuneStart(s.b[i-s.base]); n++ {
		i++
	}
	return i
}

// tooLargeToIndent reports whether a value of n bytes is shown as JSON
// text without being indented, because it is over the render limit.
func tooLargeToIndent(n int, mode ViewMode) bool {
	return mode == ModeJSON && n > maxTextRender
}

// formatPart renders part p of the value s holds in mode for a pane
// width columns wide.
func formatPart(s span, mode ViewMode, p, width int) string {
	width = max(width, 8)
	start, end := partRange(s, mode, p)
	part := s.b[start-s.base : end-s.base]
	parts := partCount(s.total, mode)
	var b strings.Builder
	if tooLargeToIndent(s.total, mode) && p == 0 {
		fmt.Fprintf(&b, "(JSON over %s is too large to indent; shown as text)\n", FormatBytes(maxTextRender))
	}
	switch {
	case mode == ModeHex:
		b.WriteString(hexDumpAt(part, start, width))
	case parts == 1:
		b.WriteString(FormatValue(part, mode, width))
	default:
		b.WriteString(wrap(EscapeText(string(part)), width))
	}
	if p < parts-1 {
		fmt.Fprintf(&b, "\n… %s more: scroll on, or G for the end", FormatBytes(int64(s.total-end)))
	}
	return b.String()
}

// hexDumpAt is HexDump of v, a part of a value, whose first byte is at
// offset base.
func hexDumpAt(v []byte, base, width int) string {
	per := hexBytesPerLine(width)
	if len(v) == 0 {
		return "(empty)"
	}
	var b strings.Builder
	b.Grow((len(v)/per + 1) * (hexLineWidth(per) + 1))
	for off := 0; off < len(v); off += per {
		writeHexLine(&b, base+off, v[off:min(off+per, len(v))], per)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
