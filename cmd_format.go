package main

import (
	"fmt"

	"github.com/crabkv/crabkv/internal/escape"
)

// display returns what to print for a key or value. Pipes get the exact
// bytes; a terminal gets them as they are when they are safe, and otherwise
// as a Go-quoted string (package escape has the rule), so a stored key
// cannot take over the user's terminal. Values may hold newlines and tabs
// (multi-line text is common); keys may not, since "keys" prints one per
// line.
func display(b []byte, tty, allowLayout bool) []byte {
	if !tty {
		return b
	}
	return []byte(escape.Quote(string(b), allowLayout))
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
