package server

import (
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// AUTH with a user name, on a server without a password, logs the default
// user in as Redis does (its default user is "nopass"), and as HELLO 2
// AUTH default <password> already does here: a client configured with the
// URL redis://default:pw@host (redis-py, for one, then sends AUTH default
// pw) connects to Redis and should connect here too.
func TestAuthDefaultUserWithoutPassword(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	if err := c.Do(ctx, "HELLO", "2", "AUTH", "default", "anything").Err(); err != nil {
		t.Fatalf("HELLO 2 AUTH default anything: %v", err)
	}
	if err := c.Do(ctx, "AUTH", "default", "anything").Err(); err != nil {
		t.Errorf("AUTH default anything: %v, want OK (as HELLO … AUTH and as Redis)", err)
	}
	if err := c.Do(ctx, "AUTH", "other", "anything").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH other anything: %v, want WRONGPASS (as Redis)", err)
	}
}

// A class whose range ends at its closing bracket, "[a-]", is a range up
// to ']' in Redis's stringmatchlen (it checks only that three bytes are
// left), so KEYS "a[x-]" matches "ab" in Redis and "a-" does not.
func TestGlobRangeEndingAtBracket(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"a[x-]", "ab", true},  // ']' (0x5D) to 'x': 'b' is in it
		{"a[a-]", "a^", true},  // ']' to 'a'
		{"a[a-]", "a-", false}, // '-' (0x2D) is not between ']' and 'a'
	}
	for _, tc := range cases {
		if got := match([]byte(tc.pattern), []byte(tc.s)); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v (as Redis)", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// EXPIRE with a time far in the past deletes the key, as any time not in
// the future does; Redis refuses only times beyond what milliseconds in an
// int64 hold.
func TestExpireFarPastDeletes(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	for _, args := range [][]any{
		{"EXPIRE", "k", "-9999999999"},
		{"EXPIREAT", "k", "-9999999999"},
		{"PEXPIREAT", "k", "-9999999999999"},
		{"PEXPIRE", "k", "-9223372036854775808"},
		{"PEXPIREAT", "k", "-9223372036854775808"},
	} {
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		n, err := c.Do(ctx, args...).Int64()
		if err != nil || n != 1 {
			t.Errorf("%v = %d, %v; want 1 (the key deleted)", args, n, err)
		}
		if got := c.Exists(ctx, "k").Val(); got != 0 {
			t.Errorf("after %v: EXISTS k = %d, want 0", args, got)
		}
	}
	// Seconds that do not fit in milliseconds are refused, as Redis
	// refuses them (checked against redis-server 7.0), and the key stays.
	for _, args := range [][]any{
		{"EXPIRE", "k", "-9223372036854775808"},
		{"EXPIREAT", "k", "-9223372036854775808"},
	} {
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(ctx, args...).Err(); err == nil || !strings.Contains(err.Error(), "invalid expire time") {
			t.Errorf("%v: %v, want invalid expire time", args, err)
		}
		if got := c.Exists(ctx, "k").Val(); got != 1 {
			t.Errorf("after %v: EXISTS k = %d, want 1", args, got)
		}
	}
}

// An MSET over the batch limit, though within the request limits, is
// refused whole with a clear error, nothing of it written, and the
// connection stays open, as README says.
func TestMSetOverBatchLimit(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	v := strings.Repeat("a", kv.DefaultMaxValueSize)
	err := c.MSet(ctx, "q1", v, "q2", v, "q3", v, "q4", v).Err()
	if err == nil || !strings.Contains(err.Error(), "batch too large") {
		t.Fatalf("MSET of four 16 MiB values: %v, want batch too large", err)
	}
	if n := c.Exists(ctx, "q1", "q2", "q3", "q4").Val(); n != 0 {
		t.Errorf("%d keys of the refused MSET exist", n)
	}
	if err := c.MSet(ctx, "q1", v, "q2", v, "q3", v).Err(); err != nil {
		t.Errorf("MSET of three 16 MiB values, on the same connection: %v", err)
	}
}
