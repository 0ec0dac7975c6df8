package main

import (
	"bytes"
	"math/rand/v2"
	"slices"
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
		k, v, err := parseImportLine(line)
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
		_, _, err := parseImportLine([]byte(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.line, err, tc.want)
		}
	}
}

// The fast path takes only lines it reads exactly as encoding/json does.
func TestExactLine(t *testing.T) {
	tests := []struct {
		line       string
		key, value string
		ok         bool
	}{
		{`{"key":"k","value":"v"}` + "\n", "k", "v", true},
		{`{"key":"k","value":""}` + "\r\n", "k", "", true},
		{`{"key":"é🦀","value":"a b"}`, "é🦀", "a b", true},
		{`{"key_base64":"Ymlu/w==","value":"v"}`, "bin\xff", "v", true},
		{`{"key":"k","value_base64":"AP8="}`, "k", "\x00\xff", true},
		{`{"key_base64":"aw==","value_base64":""}`, "k", "", true},
		{`{"key":"","value":"v"}`, "", "", false},
		{`{"key_base64":"","value":"v"}`, "", "", false},
		{`{"key":"k\n","value":"v"}`, "", "", false},
		{"{\"key\":\"k\x01\",\"value\":\"v\"}", "", "", false},
		{"{\"key\":\"k\xff\",\"value\":\"v\"}", "", "", false},
		{`{"key":"k","value":"v\"","value":"w"}`, "", "", false},
		{`{"key":"k","value":"a\u0041"}`, "", "", false},
		{`{"key":"k","value":"v"} `, "", "", false},
		{`{"key":"k","value":"v","x":"y"}`, "", "", false},
		{`{"value":"v","key":"k"}`, "", "", false},
		{`{"key":"k","value_base64":"AP8"}`, "", "", false},
		{`{"key":"k","value_base64":"A\nP8="}`, "", "", false},
		{"{\"key\":\"k\",\"value_base64\":\"A\rP8=\"}", "", "", false},
		{`{"key":"k","key_base64":"aw==","value":"v"}`, "", "", false},
		{`{ "key":"k","value":"v"}`, "", "", false},
	}
	for _, tc := range tests {
		var p importParser
		k, v, ok := p.parseExact([]byte(tc.line))
		if ok != tc.ok || (ok && (string(k) != tc.key || string(v) != tc.value)) {
			t.Errorf("%q: got %q %q %v, want %q %q %v", tc.line, k, v, ok, tc.key, tc.value, tc.ok)
		}
	}
}

// Wherever the fast path takes a line, even a damaged one, encoding/json
// reads the same key and value from it.
func TestExactLineAgreesWithJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "\x00", "\xff", "é", "\"", "\\", "\n", "=", "/", "+", ",", ":", "{", "}", "_base64"}
	var p importParser
	taken := 0
	for range 20000 {
		var key, value []byte
		for range 1 + rng.IntN(6) {
			key = append(key, alphabet[rng.IntN(len(alphabet))]...)
		}
		for range rng.IntN(6) {
			value = append(value, alphabet[rng.IntN(len(alphabet))]...)
		}
		line := jsonObject(jsonField{"key", key}, jsonField{"value", value})
		for range rng.IntN(3) { // damage it
			i := rng.IntN(len(line))
			switch rng.IntN(3) {
			case 0:
				line = append(line[:i:i], line[i+1:]...)
			case 1:
				line[i] = alphabet[rng.IntN(len(alphabet))][0]
			default:
				line = slices.Insert(line, i, alphabet[rng.IntN(len(alphabet))][0])
			}
		}
		k, v, ok := p.parseExact(line)
		if !ok {
			continue
		}
		taken++
		jk, jv, err := parseJSONLine(line)
		if err != nil || !bytes.Equal(k, jk) || !bytes.Equal(v, jv) {
			t.Fatalf("%q: fast path %q %q; encoding/json %q %q, %v", line, k, v, jk, jv, err)
		}
	}
	if taken < 1000 {
		t.Fatalf("the fast path took only %d lines", taken)
	}
}

// BenchmarkParseImportLine decodes the lines export writes for a text and
// for a binary key and value.
func BenchmarkParseImportLine(b *testing.B) {
	value := bytes.Repeat([]byte("abcdefghij"), 10)
	bin := bytes.Repeat([]byte("\xff\x00"), 50)
	for _, tc := range []struct {
		name       string
		key, value []byte
	}{{"text", []byte("key:0123456789ab"), value}, {"base64", []byte("key:\xff\x00"), bin}} {
		b.Run(tc.name, func(b *testing.B) {
			line := jsonObject(jsonField{"key", tc.key}, jsonField{"value", tc.value})
			var p importParser
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if _, _, err := p.parse(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
