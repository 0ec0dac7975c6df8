package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONStringRoundTrips checks that jsonString writes JSON that decodes
// to the string it was given.
func TestJSONStringRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", "tab\tnl\ncr\r", `quote" back\`, "\x00\x1b\x7f", "\u009b\u200b\u202e\ufeff", "🦀 ☃ é", "<&>"} {
		var got string
		if err := json.Unmarshal(jsonString(s), &got); err != nil || got != s {
			t.Errorf("jsonString(%q) = %s, decodes to %q, %v", s, jsonString(s), got, err)
		}
	}
}

// TestTTLJSONBinaryKey checks that ttl --json follows the JSON convention
// of the other verbs: a key that is not valid UTF-8 comes as key_base64,
// and a character that is not printable is a \u escape.
func TestTTLJSONBinaryKey(t *testing.T) {
	te := newTestEnv(t)
	const bin = "bin\xff"
	te.mustRun(t, exitOK, "put", "--ttl", "1h", bin, "v")
	te.mustRun(t, exitOK, "ttl", "--json", bin)
	var got map[string]any
	if err := json.Unmarshal(te.out.Bytes(), &got); err != nil {
		t.Fatalf("ttl --json printed %q: %v", te.out.String(), err)
	}
	want := base64.StdEncoding.EncodeToString([]byte(bin))
	if got["key_base64"] != want {
		t.Errorf("ttl --json for key %q printed %s; want \"key_base64\":%q (as get --json: %s)",
			bin, strings.TrimSpace(te.out.String()), want, bytes.TrimSpace(jsonObject(jsonField{"key", []byte(bin)})))
	}

	const invisible = "zero\u200bwidth\x7f"
	te.mustRun(t, exitOK, "put", "--ttl", "1h", invisible, "v")
	te.mustRun(t, exitOK, "ttl", "--json", invisible)
	if out := te.out.String(); strings.Contains(out, "\u200b") || strings.Contains(out, "\x7f") {
		t.Errorf("ttl --json printed %q: raw invisible characters, where get --json escapes them", out)
	}
}
