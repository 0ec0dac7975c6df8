package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// ViewMode is how the viewer renders a value.
type ViewMode int

// The view modes, in the order the cycle key steps through them.
const (
	ModeText ViewMode = iota
	ModeJSON
	ModeHex
)

func (m ViewMode) String() string {
	switch m {
	case ModeJSON:
		return "json"
	case ModeHex:
		return "hex"
	}
	return "text"
}

// Next returns the mode after m in the cycle text → json → hex.
func (m ViewMode) Next() ViewMode { return (m + 1) % 3 }

// Limits on how much of a value is rendered. Values can be 16 MiB; the
// viewer shows a prefix and says how much it left out.
const (
	maxTextRender = 1 << 20
	maxHexRender  = 64 << 10
)

// DetectMode guesses how a value is best shown: JSON objects and arrays as
// JSON, valid UTF-8 without stray control bytes as text, anything else as hex.
func DetectMode(v []byte) ViewMode {
	trimmed := bytes.TrimSpace(v)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(trimmed) {
		return ModeJSON
	}
	if isBinary(v) {
		return ModeHex
	}
	return ModeText
}

// isBinary reports whether v looks like binary data: not UTF-8, or holding
// NUL bytes, or more than one control byte in ten.
func isBinary(v []byte) bool {
	if len(v) > maxTextRender {
		v = v[:maxTextRender]
		// Do not call a value binary because the cut split a character.
		for i := 0; i < utf8.UTFMax && len(v) > 0 && !utf8.Valid(v); i++ {
			v = v[:len(v)-1]
		}
	}
	if !utf8.Valid(v) {
		return true
	}
	controls := 0
	for _, c := range v {
		switch {
		case c == 0:
			return true
		case c < 0x20 && c != '\n' && c != '\r' && c != '\t':
			controls++
		}
	}
	return controls*10 > len(v)
}

// FormatValue renders v in mode for a pane width columns wide. Text and JSON
// are escaped and hard-wrapped; a value that is not valid JSON falls back to
// text with a note. The result never holds terminal control sequences.
func FormatValue(v []byte, mode ViewMode, width int) string {
	width = max(width, 8)
	switch mode {
	case ModeHex:
		return HexDump(v, width)
	case ModeJSON:
		if s, ok := formatJSON(v); ok {
			// Hard wrapping keeps the indentation that shows the nesting.
			return ansi.Hardwrap(s, width, true)
		}
		return "(not valid JSON; shown as text)\n" + formatText(v, width)
	}
	return formatText(v, width)
}

func formatText(v []byte, width int) string {
	note := ""
	if len(v) > maxTextRender {
		note = fmt.Sprintf("\n… %s more not shown", FormatBytes(int64(len(v)-maxTextRender)))
		v = v[:maxTextRender]
	}
	return wrap(EscapeText(string(v)), width) + note
}

func formatJSON(v []byte) (string, bool) {
	if len(v) > maxTextRender || !json.Valid(v) {
		return "", false
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(v), "", "  "); err != nil {
		return "", false
	}
	return EscapeText(buf.String()), true
}

// wrap wraps each line of s, which must already be escaped, to width: at
// spaces where it can, inside a word when the word is longer than a line.
func wrap(s string, width int) string {
	return ansi.Wrap(s, width, "")
}

// HexDump renders v in the layout of hexdump -C: offset, hex bytes in
// groups of eight and printable ASCII between bars. A line holds 16 bytes
// when width has room for it (78 columns), else 8, and 4 on a very narrow
// pane.
func HexDump(v []byte, width int) string {
	per := hexBytesPerLine(width)
	note := ""
	if len(v) > maxHexRender {
		note = fmt.Sprintf("… %s more not shown\n", FormatBytes(int64(len(v)-maxHexRender)))
		v = v[:maxHexRender]
	}
	var b strings.Builder
	b.Grow((len(v)/per+1)*(hexLineWidth(per)+1) + len(note))
	for off := 0; off < len(v); off += per {
		writeHexLine(&b, off, v[off:min(off+per, len(v))], per)
	}
	if len(v) == 0 {
		b.WriteString("(empty)\n")
	}
	b.WriteString(note)
	return strings.TrimSuffix(b.String(), "\n")
}

// hexLineWidth is the width of one dump line holding per bytes:
// "00000000  " + "xx " per byte + a space between groups of eight + " |" +
// ASCII + "|". For 16 bytes that is hexdump -C's 78 columns.
func hexLineWidth(per int) int {
	return 10 + 3*per + (per-1)/8 + 2 + per + 1
}

func hexBytesPerLine(width int) int {
	for _, per := range []int{16, 8} {
		if hexLineWidth(per) <= width {
			return per
		}
	}
	return 4
}

const hexDigits = "0123456789abcdef"

func writeHexLine(b *strings.Builder, off int, line []byte, per int) {
	fmt.Fprintf(b, "%08x  ", off)
	for i := 0; i < per; i++ {
		if i > 0 && i%8 == 0 {
			b.WriteByte(' ')
		}
		if i < len(line) {
			b.WriteByte(hexDigits[line[i]>>4])
			b.WriteByte(hexDigits[line[i]&0xf])
			b.WriteByte(' ')
		} else {
			b.WriteString("   ")
		}
	}
	b.WriteString(" |")
	for _, c := range line {
		if c < 0x20 || c >= 0x7f {
			c = '.'
		}
		b.WriteByte(c)
	}
	b.WriteString("|\n")
}

// FormatBytes renders n in binary units as the CLI does: 512 B, 1.5 KiB,
// 12.3 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// countKeys says how many keys there are, with digit grouping and the
// singular for one: "1 key", "2,703 keys".
func countKeys(n int) string {
	if n == 1 {
		return "1 key"
	}
	return groupDigits(n) + " keys"
}

// groupDigits writes n with a comma between groups of three digits.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// compactBytes renders n in at most five cells, for a narrow key list:
// 512B, 2.3K, 634K, 16M.
func compactBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, exp := float64(n)/unit, 0
	for f >= unit && exp < 5 {
		f /= unit
		exp++
	}
	if f < 9.95 {
		return fmt.Sprintf("%.1f%c", f, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.0f%c", f, "KMGTPE"[exp])
}
