package ndjson

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every key and value AppendPair writes, of any bytes, with or without an
// expiry, parses back exactly, through one Parser reused for every line.
func TestParseRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() []byte {
		alphabet := []string{"a", "\x00", "\xff", "é", "\u2028", "\"", "\\", "\n", "\x1b", "🦀", "\ufffd", "\xed\xa0\x80"}
		var b []byte
		for range rng.IntN(12) {
			b = append(b, alphabet[rng.IntN(len(alphabet))]...)
		}
		return b
	}
	var p Parser
	for i := range 2000 {
		key, value := append([]byte("k"), pick()...), pick()
		line := AppendPair(nil, key, value)
		var want time.Time
		if i%2 == 1 {
			want = time.UnixMilli(1 + rng.Int64N(1e13))
			line = AppendExpiresAt(line, want)
		}
		k, v, exp, err := p.Parse(line)
		if err != nil || !bytes.Equal(k, key) || !bytes.Equal(v, value) || !exp.Equal(want) {
			t.Fatalf("%s: parsed %q %q %v, %v; want %q %q %v", line, k, v, exp, err, key, value, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
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
		{`{"key":"k","value":"v","expires_at":0}`, "expires_at 0: not a time after 1970"},
		{`{"key":"k","value":"v","expires_at":-5}`, "expires_at -5: not a time after 1970"},
		{`{"key":"k","value":"v","expires_at":1.5}`, "not a JSON object"},
		{`{"key":"k","value":"v","expires_at":99999999999999999999}`, "not a JSON object"},
		{`{"key":"k","value":"v","ttl":5}`, `unknown field "ttl"`},
	}
	var p Parser
	for _, tc := range tests {
		_, _, _, err := p.Parse([]byte(tc.line))
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
		expires    int64 // Unix ms; 0 for none
		ok         bool
	}{
		{`{"key":"k","value":"v"}` + "\n", "k", "v", 0, true},
		{`{"key":"k","value":""}` + "\r\n", "k", "", 0, true},
		{`{"key":"é🦀","value":"a b"}`, "é🦀", "a b", 0, true},
		{`{"key_base64":"Ymlu/w==","value":"v"}`, "bin\xff", "v", 0, true},
		{`{"key":"k","value_base64":"AP8="}`, "k", "\x00\xff", 0, true},
		{`{"key_base64":"aw==","value_base64":""}`, "k", "", 0, true},
		{`{"key":"k","value":"v","expires_at":1700000000123}` + "\n", "k", "v", 1700000000123, true},
		{`{"key":"k","value_base64":"AP8=","expires_at":1}`, "k", "\x00\xff", 1, true},
		{`{"key":"k","value":"v","expires_at":999999999999999999}`, "k", "v", 999999999999999999, true},
		{`{"key":"k","value":"v","expires_at":1000000000000000000}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":0}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":01}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":-1}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":1e3}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":"1"}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":1,"expires_at":2}`, "", "", 0, false},
		{`{"key":"k","value":"v","expires_at":1 }`, "", "", 0, false},
		{`{"key":"","value":"v"}`, "", "", 0, false},
		{`{"key_base64":"","value":"v"}`, "", "", 0, false},
		{`{"key":"k\n","value":"v"}`, "", "", 0, false},
		{"{\"key\":\"k\x01\",\"value\":\"v\"}", "", "", 0, false},
		{"{\"key\":\"k\xff\",\"value\":\"v\"}", "", "", 0, false},
		{`{"key":"k","value":"v\"","value":"w"}`, "", "", 0, false},
		{`{"key":"k","value":"a\u0041"}`, "", "", 0, false},
		{`{"key":"k","value":"v"} `, "", "", 0, false},
		{`{"key":"k","value":"v","x":"y"}`, "", "", 0, false},
		{`{"value":"v","key":"k"}`, "", "", 0, false},
		{`{"key":"k","value_base64":"AP8"}`, "", "", 0, false},
		{`{"key":"k","value_base64":"A\nP8="}`, "", "", 0, false},
		{"{\"key\":\"k\",\"value_base64\":\"A\rP8=\"}", "", "", 0, false},
		{`{"key":"k","key_base64":"aw==","value":"v"}`, "", "", 0, false},
		{`{ "key":"k","value":"v"}`, "", "", 0, false},
	}
	for _, tc := range tests {
		var p Parser
		k, v, exp, ok := p.parseExact([]byte(tc.line))
		var want time.Time
		if tc.expires != 0 {
			want = time.UnixMilli(tc.expires)
		}
		if ok != tc.ok || (ok && (string(k) != tc.key || string(v) != tc.value || !exp.Equal(want))) {
			t.Errorf("%q: got %q %q %v %v, want %q %q %v %v", tc.line, k, v, exp, ok, tc.key, tc.value, want, tc.ok)
		}
	}
}

// Wherever the fast path takes a line, even a damaged one, encoding/json
// reads the same key, value and expiry from it.
func TestExactLineAgreesWithJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "\x00", "\xff", "é", "\"", "\\", "\n", "=", "/", "+", ",", ":", "{", "}", "_base64", "0", "7", "-"}
	var p Parser
	taken, expiring := 0, 0
	for i := range 20000 {
		var key, value []byte
		for range 1 + rng.IntN(6) {
			key = append(key, alphabet[rng.IntN(len(alphabet))]...)
		}
		for range rng.IntN(6) {
			value = append(value, alphabet[rng.IntN(len(alphabet))]...)
		}
		line := AppendPair(nil, key, value)
		if i%2 == 1 {
			line = AppendExpiresAt(line, time.UnixMilli(1+rng.Int64N(1e13)))
		}
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
		k, v, exp, ok := p.parseExact(line)
		if !ok {
			continue
		}
		taken++
		if !exp.IsZero() {
			expiring++
		}
		jk, jv, jexp, err := parseJSON(line)
		if err != nil || !bytes.Equal(k, jk) || !bytes.Equal(v, jv) || !exp.Equal(jexp) {
			t.Fatalf("%q: fast path %q %q %v; encoding/json %q %q %v, %v", line, k, v, exp, jk, jv, jexp, err)
		}
	}
	if taken < 1000 || expiring < 500 {
		t.Fatalf("the fast path took only %d lines, %d with an expiry", taken, expiring)
	}
}

// BenchmarkParse decodes the lines export writes for a text and for a
// binary key and value, and for a text pair with an expiry.
func BenchmarkParse(b *testing.B) {
	value := bytes.Repeat([]byte("abcdefghij"), 10)
	bin := bytes.Repeat([]byte("\xff\x00"), 50)
	for _, tc := range []struct {
		name       string
		key, value []byte
		expiring   bool
	}{
		{"text", []byte("key:0123456789ab"), value, false},
		{"base64", []byte("key:\xff\x00"), bin, false},
		{"expiring", []byte("key:0123456789ab"), value, true},
		// A JSON document: its quotes are escaped, which only
		// encoding/json reads (parseJSON).
		{"escaped", []byte("doc:0123456789ab"), []byte(`{"name":"ada","role":"admin","tags":["a","b"],"n":12}`), false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			line := AppendPair(nil, tc.key, tc.value)
			if tc.expiring {
				line = AppendExpiresAt(line, time.UnixMilli(1_800_000_000_000))
			}
			var p Parser
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if _, _, _, err := p.Parse(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Lines that encoding/json reads with a silent change, or leniently, are
// refused: a lone surrogate escape (JSON.stringify writes them) became
// U+FFFD; a field given twice took the last; field names matched in any
// case; base64 with stray bits in its last character decoded.
func TestParseRefusesLenientLines(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"key":"k","value":"\ud800"}`, "lone surrogate"},
		{`{"key":"k","value":"a\udc00b"}`, "lone surrogate"},
		{`{"key":"k","value":"\ud800\u0041"}`, "lone surrogate"},
		{`{"key":"k\uDBFF","value":"v"}`, "lone surrogate"},
		{`{"key":"k","value_base64":"dg==","value_base64":"dw=="}`, `"value_base64" twice`},
		{`{"key":"k","key":"j","value":"v"}`, `"key" twice`},
		{`{"KEY":"k","Value":"v"}`, `unknown field "KEY"`},
		{`{"key":"k","value":"v","Expires_At":5}`, `unknown field "Expires_At"`},
		{`{"key":"k","value_base64":"dh=="}`, "value_base64"},
		{`{"key":"k","value_base64":"dh=="}` + "\n", "value_base64"},
		{`{"key":"k","value_base64":"dg\n=="}`, "a line break in base64"},
		{`{"key_base64":"a\r\nw==","value":"v"}`, "a line break in base64"},
		{"\ufeff" + `{"key":"k","value":"v"}`, "byte order mark"},
	}
	var p Parser
	for _, tc := range tests {
		k, v, _, err := p.Parse([]byte(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %q %q, %v; want an error with %q", tc.line, k, v, err, tc.want)
		}
	}
	// What stays: a pair of surrogates, an escaped backslash before a u,
	// and U+FFFD itself.
	for line, want := range map[string]string{
		`{"key":"k","value":"\ud83d\ude00"}`: "\U0001F600",
		`{"key":"k","value":"\\ud800"}`:      `\ud800`,
		`{"key":"k","value":"\ufffd"}`:       "\ufffd",
		`{"key":"k","value_base64":"dg=="}`:  "v",
	} {
		_, v, _, err := p.Parse([]byte(line))
		if err != nil || string(v) != want {
			t.Errorf("%s: got %q, %v; want %q", line, v, err, want)
		}
	}
}
