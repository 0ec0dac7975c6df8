package tui

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ParseQuery turns what was typed into the value search's input into the
// bytes to look for. The text is taken as it is, but for backslash
// escapes, which let a query hold any byte, as the inspector shows them:
// \xNN (two hex digits) for a byte, \n, \r, \t, \0, and \\ for a
// backslash. Any other backslash is an error rather than a guess, so a
// query never silently searches for something other than what was meant.
func ParseQuery(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 == len(s) {
			return nil, errors.New(`the query ends with a lone \: write \\ for a backslash`)
		}
		i++
		switch s[i] {
		case '\\':
			out = append(out, '\\')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case 'x':
			hi, lo := hexDigit(s, i+1), hexDigit(s, i+2)
			if hi < 0 || lo < 0 {
				return nil, fmt.Errorf(`\x at byte %d needs two hex digits, as in \x1b`, i)
			}
			out = append(out, byte(hi<<4|lo))
			i += 2
		default:
			return nil, fmt.Errorf(`unknown escape \%c: use \xNN, \n, \r, \t, \0, or \\ for a backslash`, s[i])
		}
	}
	if len(out) == 0 {
		return nil, errors.New("type something to search for")
	}
	return out, nil
}

// hexDigit is the value of the hex digit s[i], or -1 when there is none.
func hexDigit(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	switch c := s[i]; {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// searchWindow is how much of a value a search reads at a time when the
// store does not hand it the value whole: a 16 MiB value is searched
// through a buffer of this size, never held whole.
const searchWindow = 1 << 20

// valueSource is one value as a search meets it: whole, when the store
// hands it over whole, or to be read in windows with readAt.
type valueSource struct {
	whole  []byte // the value, when held whole; valid only during the visit
	size   int
	readAt func(p []byte, off int64) (int, error) // nil when whole holds it
}

// findIn returns the offset of the first q in v, or -1. A value read in
// windows is read searchWindow bytes at a time, each window overlapping
// the last by len(q)-1 bytes so that a match across two is found; buf is
// the window's buffer, grown on first use and kept for the next value.
func findIn(q []byte, v valueSource, buf *[]byte) (int, error) {
	if v.readAt == nil {
		return bytes.Index(v.whole, q), nil
	}
	if cap(*buf) < searchWindow+len(q) {
		*buf = make([]byte, searchWindow+len(q))
	}
	for off := 0; off < v.size; off += searchWindow {
		n := min(searchWindow+len(q)-1, v.size-off)
		got, err := v.readAt((*buf)[:n], int64(off))
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, err
		}
		if i := bytes.Index((*buf)[:got], q); i >= 0 {
			return off + i, nil
		}
		if got < n { // the value is shorter than it was
			break
		}
	}
	return -1, nil
}
