package server

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSetIfEq checks SET's IFEQ option, as Valkey has it: the value is
// written only if the key holds exactly the comparison value, a missing key
// is not created, and the option goes with GET and the expiry options but
// not with NX or XX.
func TestSetIfEq(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	if err := c.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// A mismatch writes nothing and replies nil.
	if err := c.Do(ctx, "SET", "k", "v2", "IFEQ", "other").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("SET IFEQ on a mismatch: %v, want nil", err)
	}
	if v, _ := c.Get(ctx, "k").Result(); v != "v1" {
		t.Errorf("after a mismatch, k = %q, want v1", v)
	}
	// A match writes, and keeps the expiry with KEEPTTL.
	if err := c.Expire(ctx, "k", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Do(ctx, "SET", "k", "v2", "IFEQ", "v1", "KEEPTTL").Text(); err != nil || s != "OK" {
		t.Errorf("SET IFEQ on a match: %q, %v; want OK", s, err)
	}
	if v, _ := c.Get(ctx, "k").Result(); v != "v2" {
		t.Errorf("after a match, k = %q, want v2", v)
	}
	if ttl, _ := c.TTL(ctx, "k").Result(); ttl <= 0 {
		t.Errorf("KEEPTTL with IFEQ lost the expiry: TTL %v", ttl)
	}
	// GET replies the old value, written or not.
	if v, err := c.Do(ctx, "SET", "k", "v3", "IFEQ", "nope", "GET").Text(); err != nil || v != "v2" {
		t.Errorf("SET IFEQ GET on a mismatch: %q, %v; want v2", v, err)
	}
	// A missing key is not created.
	if err := c.Do(ctx, "SET", "gone", "v", "IFEQ", "").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("SET IFEQ on a missing key: %v, want nil", err)
	}
	if n, _ := c.Exists(ctx, "gone").Result(); n != 0 {
		t.Error("SET IFEQ created a missing key")
	}
	for _, args := range [][]any{
		{"SET", "k", "v", "IFEQ", "v3", "NX"},
		{"SET", "k", "v", "XX", "IFEQ", "v3"},
		{"SET", "k", "v", "IFEQ"},
	} {
		wantErr(t, c.Do(ctx, args...).Err(), "ERR syntax error")
	}
}

// TestSetIfEqIsAtomic races clients that each read a counter and write it
// back one higher with IFEQ, retrying on a mismatch: no increment may be
// lost.
func TestSetIfEqIsAtomic(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr, func(o *redis.Options) { o.PoolSize = 8 })
	ctx := testCtx(t)
	if err := c.Set(ctx, "n", "0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const clients, each = 8, 50
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for done := 0; done < each; {
				v, err := c.Get(ctx, "n").Int()
				if err != nil {
					t.Error(err)
					return
				}
				err = c.Do(ctx, "SET", "n", v+1, "IFEQ", v).Err()
				switch {
				case err == nil:
					done++
				case !errors.Is(err, redis.Nil):
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _ := c.Get(ctx, "n").Int(); v != clients*each {
		t.Fatalf("n = %d after %d increments", v, clients*each)
	}
}
