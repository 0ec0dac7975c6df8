package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/crabkv/crabkv/internal/ndjson"
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

// jsonObject renders fields as one JSON object on a line: the format of
// export and import (package ndjson), shared by every verb's --json.
func jsonObject(fields ...jsonField) []byte {
	nf := make([]ndjson.Field, len(fields))
	for i, f := range fields {
		nf[i] = ndjson.Field{Name: f.name, Bytes: f.bytes}
	}
	return ndjson.AppendObject(nil, nf...)
}

// appendJSONInt adds the field name, the integer n, to line, one object
// that jsonObject wrote, as ndjson.AppendExpiresAt adds "expires_at".
func appendJSONInt(line []byte, name string, n int64) []byte {
	line = bytes.TrimSuffix(line, []byte("}\n"))
	line = append(line, ',')
	line = ndjson.AppendString(line, name)
	return fmt.Appendf(line, ":%d}\n", n)
}

// jsonString encodes s, valid UTF-8, as a JSON string that is safe on a
// terminal (see ndjson.AppendString).
func jsonString(s string) []byte { return ndjson.AppendString(nil, s) }

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
