package main

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// Every key and value export writes, of any bytes, parses back exactly.
func TestImportLineRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() []byte {
		alphabet := []string{"a", "\x00", "\xff", "é", "\u2028", "\"", "\\", "\n", "\x1b", "🦀", "\ufffd", "\xed\xa0\x80"}
		var b []byte
		for range rng.IntN(12) {
			b = append(b, alphabet[rng.IntN(len(alphabet))]...)
		}
		return b
	}
	for range 2000 {
		key, value := append([]byte("k"), pick()...), pick()
		line := jsonObject(jsonField{"key", key}, jsonField{"value", value})
		k, v, _, err := parseImportLine(line)
		if err != nil || !bytes.Equal(k, key) || !bytes.Equal(v, value) {
			t.Fatalf("%s: parsed %q %q, %v; want %q %q", line, k, v, err, key, value)
		}
	}
}

func TestImportLineErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"key":"k"}`, `no "value" or "value_base64"`},
		{`{"value":"v"}`, `no "key" or "key_base64"`},
		{`{"key":"","value":"v"}`, "empty key"},
		{`{"key":"k","value":"v","key_base64":"aw=="}`, `both "key" and "key_base64"`},
		{`{"key":"k","value":1}`, "not a JSON object"},
		{`["k","v"]`, "not a JSON object"},
		{`{"key":"k","value":"v"} {}`, "more than one JSON value"},
		{"{\"key\":\"k\xff\",\"value\":\"v\"}", "not valid UTF-8"},
		{`{"key_base64":"%%","value":"v"}`, "key_base64: illegal base64"},
	}
	for _, tc := range tests {
		_, _, _, err := parseImportLine([]byte(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.line, err, tc.want)
		}
	}
}

// The fast path takes only lines it reads exactly as encoding/json does.
func TestPlainLine(t *testing.T) {
	tests := []struct {
		line       string
		key, value string
		ok         bool
	}{
		{`{"key":"k","value":"v"}` + "\n", "k", "v", true},
		{`{"key":"k","value":""}` + "\r\n", "k", "", true},
		{`{"key":"é🦀","value":"a b"}`, "é🦀", "a b", true},
		{`{"key":"","value":"v"}`, "", "", false},
		{`{"key":"k\n","value":"v"}`, "", "", false},
		{`{"key":"k","value":"v\"","value":"w"}`, "", "", false},
		{`{"key":"k","value":"a\\u0041"}`, "", "", false},
		{`{"key":"k","value":"v"} `, "", "", false},
		{`{"key":"k","value":"v","x":"y"}`, "", "", false},
	}
	for _, tc := range tests {
		k, v, ok := parsePlainLine([]byte(tc.line))
		if ok != tc.ok || (ok && (string(k) != tc.key || string(v) != tc.value)) {
			t.Errorf("%q: got %q %q %v, want %q %q %v", tc.line, k, v, ok, tc.key, tc.value, tc.ok)
		}
	}
}
