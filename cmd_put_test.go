package main

import (
	"strings"
	"testing"
)

func TestParsePutLine(t *testing.T) {
	tests := []struct {
		line, key, value, err string
	}{
		{"k\tv\n", "k", "v", ""},
		{"k\tv", "k", "v", ""},
		{"k\ta\tb\r\n", "k", "a\tb\r", ""},
		{"k\t\n", "k", "", ""},
		{"\tv\n", "", "v", ""}, // the caller rejects the empty key
		{"kv\n", "", "", "no tab"},
	}
	for _, tc := range tests {
		k, v, exp, err := parsePutLine([]byte(tc.line))
		if !errMatches(err, tc.err) || err == nil && (string(k) != tc.key || string(v) != tc.value || !exp.IsZero()) {
			t.Errorf("%q: got %q %q %v, want %q %q %q", tc.line, k, v, err, tc.key, tc.value, tc.err)
		}
	}
}

func TestParseQuotedPutLine(t *testing.T) {
	tests := []struct {
		line, key, value, err string
	}{
		{"\"k\"\t\"v\"\n", "k", "v", ""},
		{"\"k\"\t\"v\"\r\n", "k", "v", ""}, // CRLF: was "more after the quoted value"
		{"\"k\"\t\"v\r\"\r\n", "k", "v\r", ""},
		{"\"k\\t\\x00\"\t\"\\xff\\n\"", "k\t\x00", "\xff\n", ""},
		{"\"k\tk\"\t\"v\tv\"\n", "k\tk", "v\tv", ""}, // a raw tab inside a literal is part of it
		{"\"\\\"\"\t\"\"\n", "\"", "", ""},
		{"k\t\"v\"\n", "", "", "the key is not a quoted Go string"},
		{"\"k\t\"v\"\n", "", "", "no tab after the quoted key"},
		{"\"k\" \"v\"\n", "", "", "no tab after the quoted key"},
		{"\"k\"\tv\n", "", "", "the value is not a quoted Go string"},
		{"\"k\"\t\"v\n", "", "", "the value is not a quoted Go string"},
		{"\"k\"\t\"v\" \n", "", "", "more after the quoted value"},
		{"\"k\"\t\"v\"\t\"w\"\n", "", "", "more after the quoted value"},
		{"\"\\q\"\t\"v\"\n", "", "", "the key is not a quoted Go string"},
	}
	for _, tc := range tests {
		k, v, exp, err := parseQuotedPutLine([]byte(tc.line))
		if !errMatches(err, tc.err) || err == nil && (string(k) != tc.key || string(v) != tc.value || !exp.IsZero()) {
			t.Errorf("%q: got %q %q %v, want %q %q %q", tc.line, k, v, err, tc.key, tc.value, tc.err)
		}
	}
}

// errMatches reports whether err is nil when want is empty, or else an
// error whose message holds want.
func errMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

// A key named like a flag is a key: `crabkv delete prefix` deleted
// nothing, and said "too many arguments", as if --prefix were given.
func TestHasFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--prefix", "a"}, true},
		{[]string{"-prefix", "a"}, true},
		{[]string{"--prefix=a"}, true},
		{[]string{"prefix"}, false},
		{[]string{"prefix=a"}, false},
		{[]string{"--", "--prefix"}, false},
		{[]string{"k", "--prefix"}, true},
	} {
		if got := hasFlag(tc.args, "prefix"); got != tc.want {
			t.Errorf("hasFlag(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
