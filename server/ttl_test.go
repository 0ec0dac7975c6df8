package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// SET's expiry options and the TTL commands behave as Redis's do, through
// a Redis client.
func TestTTLCommands(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	mustInt := func(want int64, args ...any) {
		t.Helper()
		got, err := c.Do(ctx, args...).Int64()
		if err != nil || got != want {
			t.Fatalf("%v = %d, %v; want %d", args, got, err, want)
		}
	}
	// EX and PX give a TTL; TTL rounds to seconds, PTTL counts
	// milliseconds; a key without expiry has -1, an absent one -2.
	if err := c.Set(ctx, "ex", "v", 100*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if d, err := c.TTL(ctx, "ex").Result(); err != nil || d != 100*time.Second {
		t.Fatalf("TTL ex = %v, %v", d, err)
	}
	if err := c.Do(ctx, "SET", "px", "v", "PX", "100000").Err(); err != nil {
		t.Fatal(err)
	}
	if ms, err := c.Do(ctx, "PTTL", "px").Int64(); err != nil || ms <= 99_000 || ms > 100_000 {
		t.Fatalf("PTTL px = %d, %v", ms, err)
	}
	mustPut := func(k string) {
		t.Helper()
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// SETEX and PSETEX are SET with EX and PX.
	if err := c.Do(ctx, "SETEX", "setex", "100", "v").Err(); err != nil {
		t.Fatal(err)
	}
	mustInt(100, "TTL", "setex")
	if err := c.Do(ctx, "PSETEX", "psetex", "100000", "v").Err(); err != nil {
		t.Fatal(err)
	}
	if ms, err := c.Do(ctx, "PTTL", "psetex").Int64(); err != nil || ms <= 99_000 || ms > 100_000 {
		t.Fatalf("PTTL psetex = %d, %v", ms, err)
	}
	if err := c.Do(ctx, "SETEX", "setex", "0", "w").Err(); err == nil || err.Error() != "ERR invalid expire time in 'setex' command" {
		t.Fatalf("SETEX 0: %v", err)
	}
	if got, _ := c.Get(ctx, "setex").Result(); got != "v" {
		t.Fatalf("a refused SETEX wrote: %q", got)
	}
	mustPut("plain")
	mustInt(-1, "TTL", "plain")
	mustInt(-2, "TTL", "absent")
	mustInt(-2, "PTTL", "absent")

	// A plain SET drops the expiry; KEEPTTL keeps it.
	if err := c.Do(ctx, "SET", "ex", "w", "KEEPTTL").Err(); err != nil {
		t.Fatal(err)
	}
	mustInt(100, "TTL", "ex")
	if got, _ := c.Get(ctx, "ex").Result(); got != "w" {
		t.Fatalf("GET after KEEPTTL = %q", got)
	}
	mustPut("ex")
	mustInt(-1, "TTL", "ex")

	// EXAT and PXAT take absolute times; one in the past leaves the key
	// absent.
	at := time.Now().Add(time.Hour).Unix()
	if err := c.Do(ctx, "SET", "exat", "v", "EXAT", strconv.FormatInt(at, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := c.TTL(ctx, "exat").Result(); ttl < 3590*time.Second || ttl > time.Hour {
		t.Fatalf("TTL after EXAT = %v", ttl)
	}
	// PXAT counts milliseconds: today's are past what fits as seconds
	// in a time.Duration, and still valid.
	if err := c.Do(ctx, "SET", "pxat", "v", "PXAT", strconv.FormatInt(at*1000, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := c.TTL(ctx, "pxat").Result(); ttl < 3590*time.Second || ttl > time.Hour {
		t.Fatalf("TTL after PXAT = %v", ttl)
	}
	if err := c.Do(ctx, "SET", "gone", "v", "PXAT", "1000").Err(); err != nil {
		t.Fatal(err)
	}
	mustInt(0, "EXISTS", "gone")

	// EXPIRE sets an expiry (1), or finds no key (0); a time not in the
	// future deletes the key. PERSIST removes an expiry (1), or finds none.
	mustInt(1, "EXPIRE", "plain", "50")
	mustInt(50, "TTL", "plain")
	mustInt(0, "EXPIRE", "absent", "50")
	mustInt(1, "PEXPIRE", "plain", "70000")
	mustInt(70, "TTL", "plain")
	mustInt(1, "EXPIREAT", "plain", strconv.FormatInt(at, 10))
	mustInt(1, "PERSIST", "plain")
	mustInt(-1, "TTL", "plain")
	mustInt(0, "PERSIST", "plain")
	mustInt(0, "PERSIST", "absent")
	mustInt(1, "EXPIRE", "plain", "0")
	mustInt(0, "EXISTS", "plain")
	mustInt(1, "PEXPIREAT", "px", "1")
	mustInt(-2, "TTL", "px")

	// Bad arguments are errors and change nothing.
	for _, args := range [][]any{
		{"SET", "k", "v", "EX", "0"},
		{"SET", "k", "v", "EX", "soon"},
		{"SET", "k", "v", "EX", "10", "PX", "10"},
		{"SET", "k", "v", "EX"},
		{"EXPIRE", "exat", "soon"},
	} {
		if err := c.Do(ctx, args...).Err(); err == nil {
			t.Fatalf("%v succeeded", args)
		}
	}
	mustInt(0, "EXISTS", "k")
}

// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT take NX, XX, GT and LT as Redis
// 7 does: a key without expiry counts as one that never expires, the
// condition is checked before a time in the past deletes the key, and
// options that contradict each other are errors.
func TestExpireOptions(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	mustInt := func(want int64, args ...any) {
		t.Helper()
		got, err := c.Do(ctx, args...).Int64()
		if err != nil || got != want {
			t.Fatalf("%v = %d, %v; want %d", args, got, err, want)
		}
	}
	for _, k := range []string{"p", "q", "v", "w"} {
		if err := c.Set(ctx, k, "value", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// NX: only a key without expiry; XX: only a key with one.
	mustInt(0, "EXPIRE", "v", "100", "XX")
	mustInt(-1, "TTL", "v")
	mustInt(1, "EXPIRE", "v", "100", "NX")
	mustInt(100, "TTL", "v")
	mustInt(0, "EXPIRE", "v", "50", "nx")
	mustInt(100, "TTL", "v")
	mustInt(1, "EXPIRE", "v", "200", "xx")
	mustInt(200, "TTL", "v")
	mustInt(0, "EXPIRE", "absent", "10", "NX")
	mustInt(-2, "TTL", "absent")

	// GT: only a later expiry, never on a key without one; LT: only an
	// earlier one, always on a key without one.
	mustInt(0, "EXPIRE", "v", "100", "GT")
	mustInt(1, "EXPIRE", "v", "300", "GT")
	mustInt(300, "TTL", "v")
	mustInt(0, "EXPIRE", "v", "400", "LT")
	mustInt(1, "EXPIRE", "v", "100", "LT")
	mustInt(100, "TTL", "v")
	mustInt(0, "EXPIRE", "p", "100", "GT")
	mustInt(-1, "TTL", "p")
	mustInt(1, "EXPIRE", "p", "100", "LT")
	mustInt(100, "TTL", "p")
	mustInt(0, "EXPIRE", "q", "100", "XX", "LT") // XX fails on q
	mustInt(-1, "TTL", "q")
	mustInt(1, "EXPIRE", "p", "200", "XX", "GT")
	mustInt(200, "TTL", "p")

	// The other three commands take the same options, in their units.
	mustInt(0, "PEXPIRE", "p", "100000", "GT")
	mustInt(1, "PEXPIRE", "p", "100000", "LT")
	mustInt(100, "TTL", "p")
	later := time.Now().Add(time.Hour)
	mustInt(0, "EXPIREAT", "p", strconv.FormatInt(later.Unix(), 10), "LT")
	mustInt(1, "EXPIREAT", "p", strconv.FormatInt(later.Unix(), 10), "GT")
	mustInt(0, "PEXPIREAT", "p", strconv.FormatInt(later.UnixMilli(), 10), "NX")
	// The same time is neither greater nor less.
	mustInt(1, "PEXPIREAT", "p", strconv.FormatInt(later.UnixMilli(), 10))
	mustInt(0, "PEXPIREAT", "p", strconv.FormatInt(later.UnixMilli(), 10), "GT")
	mustInt(0, "PEXPIREAT", "p", strconv.FormatInt(later.UnixMilli(), 10), "LT")
	mustInt(1, "PEXPIREAT", "q", strconv.FormatInt(later.UnixMilli(), 10), "NX")
	if d, _ := c.TTL(ctx, "q").Result(); d < 3590*time.Second || d > time.Hour {
		t.Fatalf("TTL q after PEXPIREAT NX = %v", d)
	}

	// A time in the past deletes the key only if the condition holds.
	mustInt(0, "EXPIRE", "w", "-1", "GT")
	mustInt(-1, "TTL", "w")
	mustInt(1, "EXPIRE", "w", "-1", "LT")
	mustInt(-2, "TTL", "w")
	mustInt(0, "PEXPIREAT", "q", "1", "XX", "GT")
	mustInt(1, "PEXPIREAT", "q", "1", "XX", "LT")
	mustInt(0, "EXISTS", "q")

	// Errors change nothing.
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"EXPIRE", "v", "10", "NX", "XX"}, "ERR NX and XX, GT or LT options at the same time are not compatible"},
		{[]any{"EXPIRE", "v", "10", "GT", "NX"}, "ERR NX and XX, GT or LT options at the same time are not compatible"},
		{[]any{"PEXPIRE", "v", "10", "GT", "LT"}, "ERR GT and LT options at the same time are not compatible"},
		{[]any{"EXPIREAT", "v", "10", "SOON"}, "ERR Unsupported option SOON"},
		{[]any{"PEXPIREAT", "v", "soon", "NX"}, "ERR value is not an integer or out of range"},
		{[]any{"EXPIRE", "v"}, "ERR wrong number of arguments for 'expire' command"},
		{[]any{"PEXPIREAT", "v"}, "ERR wrong number of arguments for 'pexpireat' command"},
	} {
		wantErr(t, c.Do(ctx, tc.args...).Err(), tc.want)
	}
	mustInt(100, "TTL", "v")
	// Options repeat harmlessly, as in Redis.
	mustInt(1, "EXPIRE", "v", "50", "LT", "LT", "XX")
	mustInt(50, "TTL", "v")
}

// EXPIRE's GT and LT with a relative time compare the new expiry with the
// key's by the store's clock, the one the write goes by, not the
// machine's: on a store whose clock runs a year behind or ahead, a
// shorter TTL is still earlier and a longer one later.
func TestExpireConditionUsesStoreClock(t *testing.T) {
	for _, skew := range []time.Duration{-365 * 24 * time.Hour, 365 * 24 * time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			now := time.Now().Add(skew)
			db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true, Clock: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := db.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			_, addr := serveDB(t, db, Options{})
			c := dialClient(t, addr)
			ctx := testCtx(t)
			mustInt := func(want int64, args ...any) {
				t.Helper()
				got, err := c.Do(ctx, args...).Int64()
				if err != nil || got != want {
					t.Fatalf("%v = %d, %v; want %d", args, got, err, want)
				}
			}
			if err := c.Set(ctx, "k", "v", 100*time.Second).Err(); err != nil {
				t.Fatal(err)
			}
			mustInt(0, "EXPIRE", "k", "50", "GT")
			mustInt(0, "PEXPIRE", "k", "200000", "LT")
			mustInt(100, "TTL", "k")
			mustInt(1, "EXPIRE", "k", "200", "GT")
			mustInt(200, "TTL", "k")
			mustInt(1, "PEXPIRE", "k", "50000", "LT")
			mustInt(50, "TTL", "k")
			// A time not in the future by the store's clock deletes the key
			// when LT holds.
			mustInt(1, "EXPIRE", "k", "0", "LT")
			mustInt(-2, "TTL", "k")
		})
	}
}

// INFO keyspace counts the keys that expire: it said expires=0 whatever
// the store held.
func TestInfoKeyspaceExpires(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := context.Background()
	for _, cmd := range [][]any{{"SET", "a", "1"}, {"SET", "b", "2", "EX", "100"}, {"SET", "c", "3", "PX", "100000"}} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	info, err := c.Info(ctx, "keyspace").Result()
	if err != nil || !strings.Contains(info, "db0:keys=3,expires=2,") {
		t.Fatalf("INFO keyspace = %q, %v; want db0:keys=3,expires=2,…", info, err)
	}
}

// TestTimeArgumentsAsRedis: a time with a plus sign or a leading zero is
// not an integer to Redis, for SET's EX and PX, SETEX and the EXPIRE
// family; the key keeps what it had.
func TestTimeArgumentsAsRedis(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]any{
		{"SET", "k", "w", "EX", "+5"}, {"SET", "k", "w", "PX", "05"}, {"SETEX", "k", "+5", "w"},
		{"EXPIRE", "k", "+5"}, {"PEXPIRE", "k", "05"}, {"EXPIREAT", "k", "-0"},
	} {
		_, err := do(ctx, c, args...)
		wantErr(t, err, "ERR value is not an integer or out of range")
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
	if ms, err := c.Do(ctx, "PTTL", "k").Int64(); err != nil || ms != -1 {
		t.Fatalf("PTTL k = %d, %v; want -1", ms, err)
	}
}
