package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/redis/go-redis/v9"
)

// serveModes are the ways a connection can be served: by the event loop
// (on Linux; elsewhere this too is a goroutine per connection), and by a
// goroutine of its own, as TLS connections are.
var serveModes = []struct {
	name string
	opts Options
}{
	{"loop", Options{}},
	{"goroutine", Options{noEventLoop: true}},
}

// TestSlowReaderDoesNotStallOthers has one client send requests whose
// replies fill its socket, and not read them: the other clients are still
// served, and the slow one gets every reply, whole, when it reads.
func TestSlowReaderDoesNotStallOthers(t *testing.T) {
	for _, mode := range serveModes {
		t.Run(mode.name, func(t *testing.T) {
			_, addr := startServer(t, mode.opts)
			ctx := testCtx(t)
			c := dialClient(t, addr)
			big := strings.Repeat("x", 1<<20)
			if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
				t.Fatal(err)
			}
			slow, err := net.DialTimeout("tcp", addr, testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			// 32 MiB of replies: far more than the socket buffers hold.
			const gets = 32
			rw := bufio.NewReadWriter(bufio.NewReader(slow), bufio.NewWriter(slow))
			send(t, rw, strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", gets))
			for i := range 200 {
				k := "k" + strconv.Itoa(i)
				if err := c.Set(ctx, k, i, 0).Err(); err != nil {
					t.Fatal(err)
				}
				if got, err := c.Get(ctx, k).Result(); err != nil || got != strconv.Itoa(i) {
					t.Fatalf("GET %s = %q, %v beside a client that does not read", k, got, err)
				}
			}
			for i := range gets {
				expectLine(t, rw, "$"+strconv.Itoa(len(big)))
				buf := make([]byte, len(big)+2)
				if _, err := io.ReadFull(rw, buf); err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				if string(buf[:len(big)]) != big || string(buf[len(big):]) != "\r\n" {
					t.Fatalf("reply %d is not the value", i)
				}
			}
		})
	}
}

// TestClientsModel has clients send pipelines of mixed reads and writes
// over keys of their own and checks every reply against a model, with the
// store synced (the event loop appends the writes of all its clients and
// syncs once for them), unsynced, and served by goroutines.
func TestClientsModel(t *testing.T) {
	cases := []struct {
		name   string
		kvOpts *kv.Options
		opts   Options
	}{
		{"synced/loop", nil, Options{}},
		{"unsynced/loop", &kv.Options{NoSync: true}, Options{NoSync: true}},
		{"synced/goroutine", nil, Options{noEventLoop: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, err := kv.Open(t.TempDir(), tc.kvOpts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := db.Close(); err != nil {
					t.Error(err)
				}
			})
			_, addr := serveDB(t, db, tc.opts)
			ctx := testCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for w := range 12 {
				c := dialClient(t, addr)
				wg.Go(func() {
					if err := clientModel(ctx, c, w); err != nil {
						errs <- fmt.Errorf("client %d: %w", w, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// clientModel runs 60 pipelines of 1 to 24 commands on keys only client w
// uses, checking each reply against a map of what the keys should hold.
func clientModel(ctx context.Context, c *redis.Client, w int) error {
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	model := map[string]string{}
	key := func() string { return fmt.Sprintf("c%d:k%d", w, rng.IntN(12)) }
	for round := range 60 {
		pipe := c.Pipeline()
		var checks []func() error
		for i := range 1 + rng.IntN(24) {
			val := fmt.Sprintf("v%d.%d", round, i)
			switch k := key(); rng.IntN(8) {
			case 0, 1, 2:
				cmd := pipe.Set(ctx, k, val, 0)
				model[k] = val
				checks = append(checks, func() error { return want(cmd.Val(), "OK", cmd.Err()) })
			case 3:
				k2 := key()
				n := 0
				for _, kk := range []string{k, k2} {
					if _, ok := model[kk]; ok {
						n++
						delete(model, kk)
					}
				}
				cmd := pipe.Del(ctx, k, k2)
				checks = append(checks, func() error { return want(cmd.Val(), int64(n), cmd.Err()) })
			case 4:
				k2 := key()
				cmd := pipe.MSet(ctx, k, val, k2, val+"m")
				model[k], model[k2] = val, val+"m"
				checks = append(checks, func() error { return want(cmd.Val(), "OK", cmd.Err()) })
			case 5:
				cmd := pipe.SetNX(ctx, k, val, 0)
				_, had := model[k]
				if !had {
					model[k] = val
				}
				checks = append(checks, func() error { return want(cmd.Val(), !had, cmd.Err()) })
			case 6:
				k2 := key()
				w1, ok1 := model[k]
				w2, ok2 := model[k2]
				cmd := pipe.MGet(ctx, k, k2)
				checks = append(checks, func() error {
					v := cmd.Val()
					if cmd.Err() != nil || len(v) != 2 {
						return fmt.Errorf("MGET: %v, %v", v, cmd.Err())
					}
					if err := wantOpt(v[0], w1, ok1); err != nil {
						return err
					}
					return wantOpt(v[1], w2, ok2)
				})
			default:
				v, ok := model[k]
				cmd := pipe.Get(ctx, k)
				checks = append(checks, func() error {
					if !ok {
						if cmd.Err() != redis.Nil {
							return fmt.Errorf("GET of a deleted key: %q, %v", cmd.Val(), cmd.Err())
						}
						return nil
					}
					return want(cmd.Val(), v, cmd.Err())
				})
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return err
		}
		for i, check := range checks {
			if err := check(); err != nil {
				return fmt.Errorf("round %d, command %d: %w", round, i, err)
			}
		}
	}
	return nil
}

func want[T comparable](got, want T, err error) error {
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

func wantOpt(got any, want string, present bool) error {
	if !present {
		if got != nil {
			return fmt.Errorf("got %v for a deleted key", got)
		}
		return nil
	}
	if got != want {
		return fmt.Errorf("got %v, want %q", got, want)
	}
	return nil
}

// TestConnectionChurn opens and closes connections, some mid-request,
// beside clients whose every reply is checked: a connection's descriptor
// number is reused by the next one, and no reply may reach the wrong
// client.
func TestConnectionChurn(t *testing.T) {
	for _, mode := range serveModes {
		t.Run(mode.name, func(t *testing.T) {
			_, addr := startServer(t, mode.opts)
			ctx := testCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 3 {
				c := dialClient(t, addr)
				wg.Go(func() {
					for i := range 300 {
						k, v := fmt.Sprintf("w%d", w), fmt.Sprintf("%d.%d", w, i)
						if err := c.Set(ctx, k, v, 0).Err(); err != nil {
							errs <- err
							return
						}
						if got, err := c.Get(ctx, k).Result(); err != nil || got != v {
							errs <- fmt.Errorf("GET %s = %q, %v; want %q", k, got, err, v)
							return
						}
					}
				})
			}
			wg.Go(func() {
				for i := range 300 {
					nc, err := net.DialTimeout("tcp", addr, testTimeout)
					if err != nil {
						errs <- err
						return
					}
					switch i % 3 {
					case 0: // half a request
						_, _ = nc.Write([]byte("*2\r\n$3\r\nGET\r\n$2\r\nw"))
					case 1: // a whole one, reply unread
						_, _ = nc.Write([]byte("*2\r\n$3\r\nGET\r\n$2\r\nw0\r\n"))
					}
					nc.Close()
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}
