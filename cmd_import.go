package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
	n, err := loadLines(db, in, *batch, parseImportLine)
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
	if !utf8.Valid(text) {
		// encoding/json would turn the bad bytes into U+FFFD silently.
		return nil, nil, errors.New("not valid UTF-8 (give bytes that are not in key_base64 or value_base64)")
	}
	if key, value, ok := parsePlainLine(text); ok {
		return key, value, nil
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

// parsePlainLine is parseImportLine's fast path, for the line export writes
// for a key and value that need no escapes: {"key":"K","value":"V"}, with
// neither string holding a quote, a backslash or a control character, and
// the key not empty. It reports false for any other line. text is valid
// UTF-8; key and value alias it.
func parsePlainLine(text []byte) (key, value []byte, ok bool) {
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
