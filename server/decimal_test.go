package server

import (
	"strconv"
	"testing"
)

// TestParseDecimal holds parseDecimal to strconv.ParseInt's reading of
// the same bytes, which the protocol's headers were parsed with.
func TestParseDecimal(t *testing.T) {
	for _, s := range []string{"", "0", "7", "16", "-1", "-0", "+5", "+", "-", "12a", " 1", "1 ", "1_0", "0x10",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"99999999999999999999", "00000000000000000000000001", "٣", "1\r"} {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseDecimal([]byte(s))
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseDecimal(%q) = %d, %v; strconv says %d, %v", s, got, ok, want, err)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	f.Add([]byte("123"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := strconv.ParseInt(string(b), 10, 64)
		got, ok := parseDecimal(b)
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseDecimal(%q) = %d, %v; strconv says %d, %v", b, got, ok, want, err)
		}
	})
}

// TestLookupCommandAnyCase checks the short cut for GET and SET against
// the table.
func TestLookupCommandAnyCase(t *testing.T) {
	for name, want := range map[string]string{"get": "get", "GET": "get", "gEt": "get", "Set": "set", "SET": "set",
		"del": "del", "DEL": "del", "Mget": "mget", "ge": "", "gett": "", "gdt": "", "g\x05t": "", "GE\x14": "", "\x07et": ""} {
		cmd := lookupCommand([]byte(name))
		switch {
		case want == "" && cmd != nil:
			t.Errorf("lookupCommand(%q) = %s, want none", name, cmd.name)
		case want != "" && (cmd == nil || cmd.name != want):
			t.Errorf("lookupCommand(%q) = %v, want %s", name, cmd, want)
		}
	}
}

// TestParseIntAsRedis holds parseInt, which reads the integers of
// commands (GETRANGE's bounds, EXPIRE's and SET EX's times, SCAN's COUNT),
// to what Redis's string2ll accepts: an optional minus, then 0 alone or
// digits without a leading zero, within int64. No plus sign, no "-0".
func TestParseIntAsRedis(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "7": 7, "10": 10, "-1": -1, "-10": -10,
		"9223372036854775807": 9223372036854775807, "-9223372036854775808": -9223372036854775808} {
		if got, ok := parseInt([]byte(s)); !ok || got != want {
			t.Errorf("parseInt(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "+1", "+0", "01", "00", "-0", "-01", "-", "+", " 1", "1 ", "1a", "0x10", "1_0",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999", "٣"} {
		if got, ok := parseInt([]byte(s)); ok {
			t.Errorf("parseInt(%q) = %d, want it refused", s, got)
		}
	}
}
