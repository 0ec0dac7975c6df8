package main

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// terminalSafe reports whether b can be written to a terminal as it is: valid
// UTF-8 made only of printable characters, so it cannot carry escape
// sequences, control characters or bidirectional overrides. Values may also
// hold newlines and tabs (multi-line text is common); keys may not, since
// "keys" prints one per line.
func terminalSafe(b []byte, allowLayout bool) bool {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			return false
		case allowLayout && (r == '\n' || r == '\t'):
		case !strconv.IsPrint(r):
			return false
		}
		b = b[size:]
	}
	return true
}

// display returns what to print for a key or value. Pipes get the exact
// bytes; a terminal gets them as they are when they are safe, and otherwise
// as a Go-quoted string, so a stored key cannot take over the user's terminal.
func display(b []byte, tty, allowLayout bool) []byte {
	if !tty || terminalSafe(b, allowLayout) {
		return b
	}
	return strconv.AppendQuote(nil, string(b))
}

// shortBytes formats n in binary units, rounded to one decimal place.
func shortBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for (f >= unit || f <= -unit) && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// humanBytes is shortBytes with the exact count in parentheses when it was
// rounded, so stats stay useful for comparisons and scripts.
func humanBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return shortBytes(n)
	}
	return fmt.Sprintf("%s (%d B)", shortBytes(n), n)
}

// percent returns part as a percentage of whole, or 0 when whole is 0.
func percent(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
