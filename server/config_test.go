package server

import (
	"fmt"
	"testing"
)

func TestConfig(t *testing.T) {
	_, addr := startServer(t, Options{NoSync: true, MaxConns: 7})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	got, err := c.ConfigGet(ctx, "save").Result()
	if err != nil || len(got) != 1 || got["save"] != "" {
		t.Fatalf("CONFIG GET save = %v, %v", got, err)
	}
	got, err = c.ConfigGet(ctx, "APPEND*").Result()
	if err != nil || len(got) != 2 || got["appendonly"] != "yes" || got["appendfsync"] != "no" {
		t.Fatalf("CONFIG GET APPEND* = %v, %v", got, err)
	}
	reply, err := do(ctx, c, "CONFIG", "GET", "maxclients", "max*", "nothing")
	if err != nil || fmt.Sprint(reply) != "[maxclients 7]" {
		t.Fatalf("CONFIG GET maxclients max* nothing = %v, %v", reply, err)
	}
	if got, err = c.ConfigGet(ctx, "*").Result(); err != nil || len(got) < 8 {
		t.Fatalf("CONFIG GET * = %v, %v", got, err)
	}
	wantErr(t, c.ConfigSet(ctx, "appendfsync", "always").Err(), "ERR CONFIG SET is not supported")
	wantErr(t, c.Do(ctx, "CONFIG", "GET").Err(), "ERR wrong number of arguments for 'config|get' command")
	wantErr(t, c.Do(ctx, "CONFIG", "FOO").Err(), "ERR unknown subcommand 'FOO'")

	_, addr = startServer(t, Options{})
	if got, _ := dialClient(t, addr).ConfigGet(ctx, "appendfsync").Result(); got["appendfsync"] != "always" {
		t.Fatalf("durable server: appendfsync %q", got["appendfsync"])
	}
}
