// Package ndjson is the line format of crabkv export and import, which the
// inspector's export writes too: one JSON object a line, {"key":…,"value":…},
// with "key_base64" or "value_base64" (standard base64, padded) in place of
// a field whose bytes are not valid UTF-8, so that any store round-trips
// byte for byte.
//
// The functions are pure and safe for concurrent use.
package ndjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// line is one line of the format. A field is a pointer so that a missing
// one is told from an empty one.
type line struct {
	Key         *string `json:"key"`
	KeyBase64   *string `json:"key_base64"`
	Value       *string `json:"value"`
	ValueBase64 *string `json:"value_base64"`
	// ExpiresAt is when the key expires, in Unix milliseconds, for a key
	// that has an expiry.
	ExpiresAt *int64 `json:"expires_at"`
}

// ParsePair decodes one line into its key, its value and its expiry (the
// zero time for none). The key is never empty; an error says what is wrong
// with the line.
func ParsePair(text []byte) (key, value []byte, expires time.Time, err error) {
	if !utf8.Valid(text) {
		// encoding/json would turn the bad bytes into U+FFFD silently.
		return nil, nil, time.Time{}, errors.New("not valid UTF-8 (give bytes that are not in key_base64 or value_base64)")
	}
	if key, value, ok := ParsePlain(text); ok {
		return key, value, time.Time{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var l line
	if err := dec.Decode(&l); err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("not a JSON object of key and value: %w", err)
	}
	if dec.More() {
		return nil, nil, time.Time{}, errors.New("more than one JSON value on the line")
	}
	if key, err = field("key", l.Key, l.KeyBase64); err != nil {
		return nil, nil, time.Time{}, err
	}
	if len(key) == 0 {
		return nil, nil, time.Time{}, errors.New("empty key")
	}
	if value, err = field("value", l.Value, l.ValueBase64); err != nil {
		return nil, nil, time.Time{}, err
	}
	if l.ExpiresAt != nil {
		if *l.ExpiresAt <= 0 {
			return nil, nil, time.Time{}, fmt.Errorf("expires_at %d: not a time after 1970 in Unix milliseconds", *l.ExpiresAt)
		}
		expires = time.UnixMilli(*l.ExpiresAt)
	}
	return key, value, expires, nil
}

// AppendExpiresAt adds the field "expires_at", at in Unix milliseconds, to
// line, one object that AppendObject or AppendPair wrote.
func AppendExpiresAt(line []byte, at time.Time) []byte {
	line = line[:len(line)-len("}\n")]
	return fmt.Appendf(line, `,"expires_at":%d}`+"\n", at.UnixMilli())
}

// field returns the bytes of the field name, given as text or as base64
// (exactly one of them).
func field(name string, text, b64 *string) ([]byte, error) {
	switch {
	case text != nil && b64 != nil:
		return nil, fmt.Errorf("both %q and %q", name, name+"_base64")
	case text != nil:
		return []byte(*text), nil
	case b64 != nil:
		b, err := base64.StdEncoding.DecodeString(*b64)
		if err != nil {
			return nil, fmt.Errorf("%s_base64: %w", name, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("no %q or %q", name, name+"_base64")
}

// ParsePlain is ParsePair's fast path, for the line AppendPair writes for
// a key and value that need no escapes: {"key":"K","value":"V"}, with
// neither string holding a quote, a backslash or a control character, and
// the key not empty. It reports false for any other line. text is valid
// UTF-8; key and value alias it.
func ParsePlain(text []byte) (key, value []byte, ok bool) {
	const pre, mid, post = `{"key":"`, `","value":"`, `"}`
	t := bytes.TrimSuffix(bytes.TrimSuffix(text, []byte("\n")), []byte("\r"))
	if !bytes.HasPrefix(t, []byte(pre)) || !bytes.HasSuffix(t, []byte(post)) || len(t) < len(pre)+len(post) {
		return nil, nil, false
	}
	body := t[len(pre) : len(t)-len(post)]
	i := bytes.Index(body, []byte(mid))
	if i <= 0 {
		return nil, nil, false
	}
	key, value = body[:i], body[i+len(mid):]
	return key, value, plainJSON(key) && plainJSON(value)
}

// plainJSON reports whether s reads the same inside a JSON string as it
// is: it holds no quote, no backslash and no control character.
func plainJSON(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
