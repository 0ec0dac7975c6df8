package main

import (
	"encoding/json"
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
