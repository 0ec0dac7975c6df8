package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"unicode/utf8"
)

var importVerb = verb{
	name:    "import",
	args:    "[file|-]",
	summary: "load keys and values from NDJSON, as export writes it",
	writes:  true,
	help: `
Import reads one JSON object a line from file, or from standard input when
file is "-" or omitted, and stores each: {"key":...,"value":...}, with
"key_base64" or "value_base64" (standard base64) in place of a field whose
bytes are not valid UTF-8 — the lines export writes. Blank lines are
skipped.

The lines are committed in batches (--batch, default 10000 lines): each batch
is atomic and synced once, so a crash leaves every batch whole or absent. A
malformed line stops the import with an error that names it; the batches
before it are stored, and nothing of the batch it belongs to. Import prints
how many keys it stored.`,
	run: runImport,
}

func runImport(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	batch := batchFlag(fs)
	args, code, ok := e.parse(v, fs, args, 0, 1)
	if !ok {
		return code
	}
	if err := checkBatchFlag(*batch); err != nil {
		return e.fail(err)
	}
	in, name := e.stdin, "standard input"
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return e.fail(err)
		}
		defer func() { _ = f.Close() }() // read-only
		in, name = f, args[0]
	}
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	var p importParser
	n, err := loadLines(db, in, *batch, p.parse)
	if err != nil {
		// Best effort: the error itself is reported just below.
		_, _ = fmt.Fprintf(e.stderr, "crabkv import: stored %d keys from %s before the error\n", n, name)
		return e.closeDB(db, e.fail(err))
	}
	if _, err := fmt.Fprintf(e.stdout, "imported %d keys\n", n); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write: %w", err)))
	}
	return e.closeDB(db, exitOK)
}

// importLine is one line of import's input. A field is a pointer so that
// a missing one is told from an empty one.
type importLine struct {
	Key         *string `json:"key"`
	KeyBase64   *string `json:"key_base64"`
	Value       *string `json:"value"`
	ValueBase64 *string `json:"value_base64"`
}

// parseImportLine decodes one line of import's input.
func parseImportLine(text []byte) (key, value []byte, err error) {
	var p importParser
	return p.parse(text)
}

// importParser decodes the lines of import's input. It keeps the buffers
// its fast path decodes base64 into, so a line costs no allocation. Not
// safe for concurrent use.
type importParser struct {
	keyBuf, valueBuf []byte
}

// parse decodes one line of import's input. key and value may alias text
// or p's buffers: they are valid until the next call.
func (p *importParser) parse(text []byte) (key, value []byte, err error) {
	if key, value, ok := p.parseExact(text); ok {
		return key, value, nil
	}
	return parseJSONLine(text)
}

// parseJSONLine is parse for any line: it decodes it with encoding/json,
// and says what is wrong with a line that is not a valid import line.
func parseJSONLine(text []byte) (key, value []byte, err error) {
	if !utf8.Valid(text) {
		// encoding/json would turn the bad bytes into U+FFFD silently.
		return nil, nil, errors.New("not valid UTF-8 (give bytes that are not in key_base64 or value_base64)")
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var l importLine
	if err := dec.Decode(&l); err != nil {
		return nil, nil, fmt.Errorf("not a JSON object of key and value: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("more than one JSON value on the line")
	}
	if key, err = importField("key", l.Key, l.KeyBase64); err != nil {
		return nil, nil, err
	}
	if len(key) == 0 {
		return nil, nil, errors.New("empty key")
	}
	value, err = importField("value", l.Value, l.ValueBase64)
	return key, value, err
}

// importField returns the bytes of the field name, given as text or as
// base64 (exactly one of them).
func importField(name string, text, b64 *string) ([]byte, error) {
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

// parseExact is parse's fast path, for the lines export writes whose
// strings need no escapes: {"key":"K","value":"V"}, where either field may
// instead be "key_base64" or "value_base64", in that order, with no space,
// and the line ends there (or in "\r\n"). A text field holds no quote, no
// backslash and no control character and is valid UTF-8; a base64 field
// decodes; the key is not empty. It reports false for any other line,
// which parseJSONLine then reads, so that every line means what
// encoding/json makes of it.
func (p *importParser) parseExact(text []byte) (key, value []byte, ok bool) {
	t := bytes.TrimSuffix(bytes.TrimSuffix(text, []byte("\n")), []byte("\r"))
	if t, ok = bytes.CutPrefix(t, []byte(`{"key`)); !ok {
		return nil, nil, false
	}
	if key, t, ok = exactField(t, &p.keyBuf); !ok || len(key) == 0 {
		return nil, nil, false
	}
	if t, ok = bytes.CutPrefix(t, []byte(`,"value`)); !ok {
		return nil, nil, false
	}
	if value, t, ok = exactField(t, &p.valueBuf); !ok || string(t) != "}" {
		return nil, nil, false
	}
	return key, value, true
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
	n := base64.StdEncoding.DecodedLen(len(s))
	*buf = slices.Grow((*buf)[:0], n)[:n]
	n, err := base64.StdEncoding.Decode(*buf, s)
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
