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

// partRange returns the byte range of part p of v. Text parts start and
// end on character boundaries, so that a cut never shows a character as
// broken bytes.
func partRange(v []byte, mode ViewMode, p int) (start, end int) {
	size := partSize(mode)
	start, end = min(p*size, len(v)), min((p+1)*size, len(v))
	if mode != ModeHex {
		start, end = runeBoundary(v, start), runeBoundary(v, end)
	}
	return start, end
}

// runeBoundary moves i forward past at most three UTF-8 continuation bytes.
func runeBoundary(v []byte, i int) int {
	for n := 0; n < utf8.UTFMax-1 && i < len(v) && i > 0 && !utf8.RuneStart(v[i]); n++ {
		i++
	}
	return i
}

// tooLargeToIndent reports whether v is shown as JSON text without being
// indented, because it is over the render limit.
func tooLargeToIndent(v []byte, mode ViewMode) bool {
	return mode == ModeJSON && len(v) > maxTextRender
}

// formatPart renders part p of v in mode for a pane width columns wide.
func formatPart(v []byte, mode ViewMode, p, width int) string {
	width = max(width, 8)
	start, end := partRange(v, mode, p)
	part := v[start:end]
	parts := partCount(len(v), mode)
	var b strings.Builder
	if tooLargeToIndent(v, mode) && p == 0 {
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
		fmt.Fprintf(&b, "\n… %s more: scroll on, or G for the end", FormatBytes(int64(len(v)-end)))
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
