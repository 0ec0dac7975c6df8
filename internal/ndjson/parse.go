package ndjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Parser decodes lines of the format. It keeps the buffers its fast path
// decodes base64 into, so that a line costs no allocation: a bulk load
// keeps one Parser for all its lines. The zero Parser is ready to use. Not
// safe for concurrent use.
type Parser struct {
	keyBuf, valueBuf []byte
}

// ParsePair decodes one line with a Parser of its own: Parser.Parse for a
// single line. key and value may alias text.
func ParsePair(text []byte) (key, value []byte, expires time.Time, err error) {
	var p Parser
	return p.Parse(text)
}

// Parse decodes one line, its newline included or not, into its key, its
// value and its expiry (the zero time for none). The key is never empty;
// an error says what is wrong with the line. key and value may alias text
// or p's buffers: they are valid until the next call and text's next
// change.
//
// The lines export writes whose strings need no escapes take a fast path
// (parseExact) that reads them without encoding/json; every other line
// goes through encoding/json, and both read the same from any line the
// fast path takes.
func (p *Parser) Parse(text []byte) (key, value []byte, expires time.Time, err error) {
	if key, value, expires, ok := p.parseExact(text); ok {
		return key, value, expires, nil
	}
	return parseJSON(text)
}

// line is one line of the format as encoding/json decodes it. A field is
// a pointer so that a missing one is told from an empty one.
type line struct {
	Key         *string `json:"key"`
	KeyBase64   *string `json:"key_base64"`
	Value       *string `json:"value"`
	ValueBase64 *string `json:"value_base64"`
	// ExpiresAt is when the key expires, in Unix milliseconds, for a key
	// that has an expiry.
	ExpiresAt *int64 `json:"expires_at"`
}

// parseJSON is Parse for any line: it decodes it with encoding/json, and
// says what is wrong with a line that is not one of the format.
func parseJSON(text []byte) (key, value []byte, expires time.Time, err error) {
	if !utf8.Valid(text) {
		// encoding/json would turn the bad bytes into U+FFFD silently.
		return nil, nil, time.Time{}, errors.New("not valid UTF-8 (give bytes that are not in key_base64 or value_base64)")
	}
	if bytes.HasPrefix(text, []byte("\ufeff")) {
		return nil, nil, time.Time{}, errors.New("starts with a byte order mark (U+FEFF), which is not JSON: save the file without one")
	}
	if err := checkSurrogates(text); err != nil {
		return nil, nil, time.Time{}, err
	}
	l, err := decodeLine(text)
	if err != nil {
		return nil, nil, time.Time{}, err
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

// checkSurrogates refuses a \u escape of half a UTF-16 surrogate pair
// without its other half: encoding/json decodes it as U+FFFD, a silent
// change of the bytes (JavaScript's JSON.stringify writes such escapes for
// a string that holds a lone surrogate).
func checkSurrogates(text []byte) error {
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' || i+1 >= len(text) {
			continue
		}
		i++ // the escaped character: a backslash escapes no further
		if text[i] != 'u' {
			continue
		}
		r, ok := hex4(text[i+1:])
		if !ok || !utf16.IsSurrogate(r) {
			continue
		}
		if r < 0xdc00 { // a high half: a low half must follow
			if lo, ok := hex4(text[min(i+7, len(text)):]); ok && bytes.HasPrefix(text[i+5:], []byte("\\u")) && lo >= 0xdc00 && lo <= 0xdfff {
				i += 10
				continue
			}
		}
		return fmt.Errorf("\\u%s is a lone surrogate, half of a UTF-16 pair, which no UTF-8 byte spells (give such bytes in key_base64 or value_base64)", text[i+1:i+5])
	}
	return nil
}

// hex4 reads the four hex digits b starts with.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// decodeLine decodes text, one JSON object of the format's fields, in one
// pass over its tokens: each field named exactly as the format spells it,
// and given once. (Decoding into a struct would match "KEY" to "key", and
// keep the last of a field given twice.)
func decodeLine(text []byte) (line, error) {
	var l line
	notObject := func(err error) (line, error) {
		return l, fmt.Errorf("not a JSON object of key and value: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	t, err := dec.Token()
	if err != nil {
		return notObject(err)
	}
	if t != json.Delim('{') {
		return notObject(fmt.Errorf("it begins with %v", t))
	}
	fields := [len(fieldNames)]any{&l.Key, &l.KeyBase64, &l.Value, &l.ValueBase64, &l.ExpiresAt}
	var seen [len(fieldNames)]bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return notObject(err)
		}
		name, _ := t.(string)
		i := slices.Index(fieldNames[:], name)
		switch {
		case i < 0:
			return l, fmt.Errorf("unknown field %q (the fields are key or key_base64, value or value_base64, and expires_at)", name)
		case seen[i]:
			return l, fmt.Errorf("the field %q twice", name)
		}
		seen[i] = true
		if err := dec.Decode(fields[i]); err != nil {
			return notObject(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return notObject(err)
	}
	if dec.More() {
		return l, errors.New("more than one JSON value on the line")
	}
	return l, nil
}

// fieldNames are the fields of a line, spelled exactly.
var fieldNames = [5]string{"key", "key_base64", "value", "value_base64", "expires_at"}

// field returns the bytes of the field name, given as text or as base64
// (exactly one of them).
func field(name string, text, b64 *string) ([]byte, error) {
	switch {
	case text != nil && b64 != nil:
		return nil, fmt.Errorf("both %q and %q", name, name+"_base64")
	case text != nil:
		return []byte(*text), nil
	case b64 != nil && strings.ContainsAny(*b64, "\r\n"):
		// The decoder steps over line breaks, even when strict.
		return nil, fmt.Errorf("%s_base64: a line break in base64", name)
	case b64 != nil:
		b, err := strictBase64.DecodeString(*b64)
		if err != nil {
			return nil, fmt.Errorf("%s_base64: %w", name, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("no %q or %q", name, name+"_base64")
}

// strictBase64 is standard base64 that refuses stray bits in the last
// character ("dh==" for "v"); field refuses line breaks, which it steps
// over: one spelling a value, as export writes it.
var strictBase64 = base64.StdEncoding.Strict()

// parseExact is Parse's fast path, for the lines AppendPair and
// AppendExpiresAt write whose strings need no escapes:
// {"key":"K","value":"V"}, where either field may instead be "key_base64"
// or "value_base64", in that order, with no space, optionally followed by
// ,"expires_at":N with N a positive integer of at most 18 digits and no
// leading zero, and the line ends there (or in "\r\n"). A text field holds
// no quote, no backslash and no control character and is valid UTF-8; a
// base64 field decodes; the key is not empty. It reports false for any
// other line, which parseJSON then reads, so that every line means what
// encoding/json makes of it.
func (p *Parser) parseExact(text []byte) (key, value []byte, expires time.Time, ok bool) {
	t := bytes.TrimSuffix(bytes.TrimSuffix(text, []byte("\n")), []byte("\r"))
	if t, ok = bytes.CutPrefix(t, []byte(`{"key`)); !ok {
		return nil, nil, time.Time{}, false
	}
	if key, t, ok = exactField(t, &p.keyBuf); !ok || len(key) == 0 {
		return nil, nil, time.Time{}, false
	}
	if t, ok = bytes.CutPrefix(t, []byte(`,"value`)); !ok {
		return nil, nil, time.Time{}, false
	}
	if value, t, ok = exactField(t, &p.valueBuf); !ok {
		return nil, nil, time.Time{}, false
	}
	if string(t) == "}" {
		return key, value, time.Time{}, true
	}
	if t, ok = bytes.CutPrefix(t, []byte(`,"expires_at":`)); !ok {
		return nil, nil, time.Time{}, false
	}
	ms, ok := exactMillis(t)
	if !ok {
		return nil, nil, time.Time{}, false
	}
	return key, value, time.UnixMilli(ms), true
}

// exactMillis reads the rest of a line after `"expires_at":`: a positive
// decimal integer with no sign, no leading zero and at most 18 digits (so
// it cannot overflow an int64), then "}".
func exactMillis(t []byte) (int64, bool) {
	digits, ok := bytes.CutSuffix(t, []byte("}"))
	if !ok || len(digits) == 0 || len(digits) > 18 || digits[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// exactField reads the rest of a field whose name parseExact has begun,
// from the end of "key" or "value": either `":"` and a plain string, or
// `_base64":"` and base64, which it decodes into buf. It returns the
// field's bytes and what follows its closing quote.
func exactField(t []byte, buf *[]byte) (b, rest []byte, ok bool) {
	b64 := false
	if rest, ok = bytes.CutPrefix(t, []byte(`":"`)); !ok {
		if rest, ok = bytes.CutPrefix(t, []byte(`_base64":"`)); !ok {
			return nil, nil, false
		}
		b64 = true
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || !plainJSON(rest[:end]) {
		return nil, nil, false
	}
	s := rest[:end]
	if !b64 {
		return s, rest[end+1:], true
	}
	n := strictBase64.DecodedLen(len(s))
	*buf = slices.Grow((*buf)[:0], n)[:n]
	n, err := strictBase64.Decode(*buf, s)
	if err != nil {
		return nil, nil, false
	}
	return (*buf)[:n], rest[end+1:], true
}

// plainJSON reports whether s reads the same inside a JSON string as it
// is: it holds no quote, no backslash and no control character, and is
// valid UTF-8.
func plainJSON(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	return ascii || utf8.Valid(s)
}
