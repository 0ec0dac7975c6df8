package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/crabkv/crabkv/internal/escape"
)

// The --json output is part of the tool's interface: field names and
// their order are documented in README.md and change only by adding fields.

// jsonFlag defines --json, for the verbs that can print JSON.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON, as described in the README")
}

// jsonField is a named key or value for jsonObject.
type jsonField struct {
	name  string
	bytes []byte
}

// jsonObject renders fields as one JSON object on a line. A field whose
// bytes are valid UTF-8 is a JSON string under its name; any other is
// base64 (standard encoding, padded) under its name plus "_base64", since
// JSON strings cannot carry arbitrary bytes.
func jsonObject(fields ...jsonField) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		name, s := f.name, string(f.bytes)
		if !utf8.Valid(f.bytes) {
			name, s = f.name+"_base64", base64.StdEncoding.EncodeToString(f.bytes)
		}
		b.Write(jsonString(name))
		b.WriteByte(':')
		b.Write(jsonString(s))
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// jsonString encodes s, valid UTF-8, as a JSON string. Every character
// that is not printable (package escape's rule) is written as a \u escape,
// so that JSON output is as safe on a terminal as the plain output; <, >
// and & are left alone, as JSON does not need them escaped.
func jsonString(s string) []byte {
	b := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r < 0x20 || escape.NeedsEscape(r):
			for _, u := range utf16.Encode([]rune{r}) {
				b = fmt.Appendf(b, `\u%04x`, u)
			}
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// marshalJSON encodes v on one line without HTML escaping.
func marshalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only plain strings, numbers and structs of them are encoded
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
