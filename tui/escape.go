package tui

import "github.com/crabkv/crabkv/internal/escape"

// Escape returns s with every character that a terminal could act on, or
// that would be invisible, replaced by its Go escape (\x1b, \x00, \u200b,
// \u202e, \xff for a byte that is not UTF-8), so that keys and values are
// shown as data and never reach the terminal as commands. The rule is the
// command-line tool's (package escape); backslashes are left alone.
func Escape(s string) string { return escape.String(s) }

// EscapeText is Escape for multi-line text: newlines are kept as line breaks,
// CRLF is shown as a newline and tabs as spaces, while every other control
// character is escaped as Escape does. It is for display only.
func EscapeText(s string) string { return escape.Text(s) }
