// Package ndjson is the line format of crabkv export and import, which the
// inspector's export writes too: one JSON object a line, {"key":…,"value":…},
// with "key_base64" or "value_base64" (standard base64, padded) in place of
// a field whose bytes are not valid UTF-8, so that any store round-trips
// byte for byte.
//
// The Append functions and ParsePair are pure and safe for concurrent use;
// a Parser, which reads many lines without allocating, is not.
package ndjson

import (
	"encoding/base64"
	"fmt"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/crabkv/crabkv/internal/escape"
)

// Field is a named key or value for AppendObject.
type Field struct {
	Name  string
	Bytes []byte
}

// AppendPair appends the line of one key and its value to dst.
func AppendPair(dst, key, value []byte) []byte {
	return AppendObject(dst, Field{"key", key}, Field{"value", value})
}

// AppendObject appends fields as one JSON object on a line to dst. A
// field whose bytes are valid UTF-8 is a JSON string under its name; any
// other is base64 (standard encoding, padded) under its name plus
// "_base64", since JSON strings cannot carry arbitrary bytes.
func AppendObject(dst []byte, fields ...Field) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		name, s := f.Name, string(f.Bytes)
		if !utf8.Valid(f.Bytes) {
			name, s = f.Name+"_base64", base64.StdEncoding.EncodeToString(f.Bytes)
		}
		dst = AppendString(dst, name)
		dst = append(dst, ':')
		dst = AppendString(dst, s)
	}
	return append(dst, "}\n"...)
}

// AppendString appends s, valid UTF-8, as a JSON string to dst. Every
// character that is not printable (package escape's rule) is written as a
// \u escape, so that the output is as safe on a terminal as plain output;
// <, > and & are left alone, as JSON does not need them escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r < 0x20 || escape.NeedsEscape(r):
			for _, u := range utf16.Encode([]rune{r}) {
				dst = fmt.Appendf(dst, `\u%04x`, u)
			}
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

// AppendExpiresAt adds the field "expires_at", at in Unix milliseconds, to
// line, one object that AppendObject or AppendPair wrote.
func AppendExpiresAt(line []byte, at time.Time) []byte {
	line = line[:len(line)-len("}\n")]
	return fmt.Appendf(line, `,"expires_at":%d}`+"\n", at.UnixMilli())
}
