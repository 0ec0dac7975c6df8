package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
)

// testTimeout bounds every test's network calls.
const testTimeout = 60 * time.Second

// startServer serves a fresh store on a loopback port and stops both when
// the test ends.
func startServer(tb testing.TB, opts Options) (*Server, string) {
	tb.Helper()
	db, err := kv.Open(tb.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return serveDB(tb, db, opts)
}

// serveDB serves db on a loopback port until the test ends; the caller
// closes db after that.
func serveDB(tb testing.TB, db *kv.DB, opts Options) (*Server, string) {
	tb.Helper()
	return serveStore(tb, NewDBStore(db), opts)
}

// serveStore serves st on a loopback port until the test ends.
func serveStore(tb testing.TB, st Store, opts Options) (*Server, string) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := NewWithStore(st, testOptions(opts))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			tb.Errorf("serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// testOptions returns opts as the tests serve them: with
// CRABKV_TEST_SERVE=goroutine in the environment, every connection is
// served by a goroutine of its own, as without the event loop.
func testOptions(opts Options) Options {
	if os.Getenv("CRABKV_TEST_SERVE") == "goroutine" {
		opts.noEventLoop = true
	}
	return opts
}

func dialClient(tb testing.TB, addr string, opts ...func(*redis.Options)) *redis.Client {
	tb.Helper()
	o := &redis.Options{Addr: addr, Protocol: 2, DialTimeout: testTimeout, ReadTimeout: testTimeout, WriteTimeout: testTimeout}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	tb.Cleanup(func() { c.Close() })
	return c
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// do runs a raw command and returns its result and error.
func do(ctx context.Context, c *redis.Client, args ...any) (any, error) {
	return c.Do(ctx, args...).Result()
}

func wantErr(t *testing.T, err error, prefix string) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("error %v, want one starting %q", err, prefix)
	}
}

func TestStringCommands(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)

	if got, err := c.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	if got, err := c.Echo(ctx, "hi").Result(); err != nil || got != "hi" {
		t.Fatalf("ECHO = %q, %v", got, err)
	}
	if _, err := c.Get(ctx, "a").Result(); err != redis.Nil {
		t.Fatalf("GET missing: %v", err)
	}
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, "a").Result(); got != "1" {
		t.Fatalf("GET a = %q", got)
	}
	// NX and XX.
	if ok, err := c.SetNX(ctx, "a", "2", 0).Result(); err != nil || ok {
		t.Fatalf("SETNX existing = %v, %v", ok, err)
	}
	if ok, err := c.SetXX(ctx, "b", "2", 0).Result(); err != nil || ok {
		t.Fatalf("SETXX missing = %v, %v", ok, err)
	}
	if ok, _ := c.SetXX(ctx, "a", "3", 0).Result(); !ok {
		t.Fatal("SETXX existing refused")
	}
	// GET option returns the old value.
	if old, err := do(ctx, c, "SET", "a", "4", "GET"); err != nil || old != "3" {
		t.Fatalf("SET GET = %v, %v", old, err)
	}
	if old, err := do(ctx, c, "SET", "new", "x", "GET"); err != redis.Nil {
		t.Fatalf("SET GET of missing = %v, %v", old, err)
	}
	_, err := do(ctx, c, "SET", "a", "1", "NX", "XX")
	wantErr(t, err, "ERR syntax error")
	_, err = do(ctx, c, "SET", "a", "1", "EX", "0")
	wantErr(t, err, "ERR invalid expire time")
	_, err = do(ctx, c, "SET", "", "1")
	wantErr(t, err, "ERR empty keys")

	if n, _ := c.StrLen(ctx, "a").Result(); n != 1 {
		t.Fatalf("STRLEN = %d", n)
	}
	if n, _ := c.StrLen(ctx, "nope").Result(); n != 0 {
		t.Fatalf("STRLEN missing = %d", n)
	}
	if err := c.MSet(ctx, "m1", "x", "m2", "", "m3", "zz").Err(); err != nil {
		t.Fatal(err)
	}
	vals, err := c.MGet(ctx, "m1", "m2", "missing", "m3").Result()
	if err != nil || fmt.Sprint(vals) != "[x  <nil> zz]" {
		t.Fatalf("MGET = %#v, %v", vals, err)
	}
	_, err = do(ctx, c, "MSET", "k1", "v1", "k2")
	wantErr(t, err, "ERR wrong number of arguments for 'mset' command")
	if n, _ := c.Exists(ctx, "m1", "m1", "missing", "m2").Result(); n != 3 {
		t.Fatalf("EXISTS = %d", n)
	}
	if v, err := c.GetDel(ctx, "m1").Result(); err != nil || v != "x" {
		t.Fatalf("GETDEL = %q, %v", v, err)
	}
	if _, err := c.GetDel(ctx, "m1").Result(); err != redis.Nil {
		t.Fatalf("GETDEL again: %v", err)
	}
	if n, _ := c.Del(ctx, "m2", "m3", "missing").Result(); n != 2 {
		t.Fatalf("DEL = %d", n)
	}
	if n, _ := c.Unlink(ctx, "a", "a").Result(); n != 1 {
		t.Fatalf("UNLINK = %d", n)
	}
	if n, _ := c.DBSize(ctx).Result(); n != 1 { // "new"
		t.Fatalf("DBSIZE = %d", n)
	}
}

func TestErrors(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	cases := []struct {
		args []any
		want string
	}{
		{[]any{"NOSUCH", "x"}, "ERR unknown command 'NOSUCH'"},
		{[]any{"GET"}, "ERR wrong number of arguments for 'get' command"},
		{[]any{"get", "a", "b"}, "ERR wrong number of arguments for 'get' command"},
		{[]any{"ECHO"}, "ERR wrong number of arguments for 'echo' command"},
		{[]any{"PING", "a", "b"}, "ERR wrong number of arguments for 'ping' command"},
		{[]any{"SELECT", "1"}, "ERR DB index is out of range"},
		{[]any{"SELECT", "x"}, "ERR value is not an integer"},
		{[]any{"FLUSHDB"}, "ERR FLUSHDB is disabled"},
		{[]any{"HELLO", "3"}, "NOPROTO"},
		{[]any{"AUTH", "pw"}, "ERR AUTH <password> called without any password"},
		{[]any{"SCAN", "x"}, "ERR invalid cursor"},
		{[]any{"SCAN", "12345"}, "ERR invalid cursor"},
		{[]any{"SCAN", "0", "COUNT", "0"}, "ERR syntax error"},
		{[]any{"SCAN", "0", "MATCH"}, "ERR syntax error"},
		{[]any{"CLIENT", "NOPE"}, "ERR unknown subcommand"},
	}
	for _, tc := range cases {
		_, err := do(ctx, c, tc.args...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	// The connection is still usable after errors.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionCommands(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr, func(o *redis.Options) { o.PoolSize = 1 })
	ctx := testCtx(t)
	if err := c.Do(ctx, "CLIENT", "SETNAME", "me").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Do(ctx, "CLIENT", "GETNAME").Text(); got != "me" {
		t.Fatalf("GETNAME = %q", got)
	}
	if id, err := c.Do(ctx, "CLIENT", "ID").Int64(); err != nil || id <= 0 {
		t.Fatalf("CLIENT ID = %d, %v", id, err)
	}
	if err := c.Do(ctx, "SELECT", "0").Err(); err != nil {
		t.Fatal(err)
	}
	hello, err := c.Do(ctx, "HELLO", "2").Slice()
	if err != nil || len(hello) != 14 || hello[1] != "crabkv" {
		t.Fatalf("HELLO 2 = %v, %v", hello, err)
	}
	n, err := c.Do(ctx, "COMMAND", "COUNT").Int64()
	if err != nil || n != int64(len(commands)) {
		t.Fatalf("COMMAND COUNT = %d, %v", n, err)
	}
	all, err := c.Do(ctx, "COMMAND").Slice()
	if err != nil || len(all) != len(commands) {
		t.Fatalf("COMMAND: %d entries, %v", len(all), err)
	}
	if docs, err := c.Do(ctx, "COMMAND", "DOCS").Slice(); err != nil || len(docs) != 0 {
		t.Fatalf("COMMAND DOCS = %v, %v", docs, err)
	}
	info, err := c.Info(ctx).Result()
	for _, want := range []string{"# Server", "# Clients", "# Stats", "# Keyspace", "# Crabkv", "live_bytes:", "stale_bytes:", "compacting:0", "connected_clients:1"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q (err %v):\n%s", want, err, info)
		}
	}
	if only, _ := c.Info(ctx, "crabkv").Result(); strings.Contains(only, "# Server") || !strings.Contains(only, "log_bytes:") || !strings.Contains(only, "checkpoints:0") {
		t.Errorf("INFO crabkv:\n%s", only)
	}
	stats, err := c.Do(ctx, "CRABKV.STATS").StringSlice()
	if err != nil || len(stats)%2 != 0 || stats[0] != "keys" {
		t.Fatalf("CRABKV.STATS = %v, %v", stats, err)
	}
	if err := c.Do(ctx, "QUIT").Err(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

func TestBinaryAndLargeValues(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	key := "k\x00\r\n\xff"
	val := "\x00\r\n$5\r\n*\xff\xfe"
	if err := c.Set(ctx, key, val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, key).Result(); got != val {
		t.Fatalf("binary value %q", got)
	}
	if err := c.Set(ctx, "empty", "", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "empty").Result(); err != nil || got != "" {
		t.Fatalf("empty value = %q, %v", got, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), kv.DefaultMaxValueSize/16)
	if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatalf("SET 16 MiB: %v", err)
	}
	got, err := c.Get(ctx, "big").Bytes()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("GET 16 MiB: %d bytes, %v", len(got), err)
	}
	err = c.Set(ctx, "toobig", append(big, 'x'), 0).Err()
	wantErr(t, err, "ERR kv: value too large")
}

func TestKeysAndScan(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	for i := range 50 {
		if err := c.Set(ctx, fmt.Sprintf("user:%02d", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(ctx, "other", "v", 0)
	keys, err := c.Keys(ctx, "user:1?").Result()
	if err != nil || len(keys) != 10 || keys[0] != "user:10" {
		t.Fatalf("KEYS user:1? = %v, %v", keys, err)
	}
	if keys, _ := c.Keys(ctx, "*").Result(); len(keys) != 51 {
		t.Fatalf("KEYS * = %d keys", len(keys))
	}
	// A scan meets every key present throughout, once, while keys are
	// added and deleted around it.
	seen := map[string]int{}
	var cursor uint64
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("scan did not end")
		}
		var page []string
		page, cursor, err = c.Scan(ctx, cursor, "user:*", 7).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			seen[k]++
		}
		c.Set(ctx, fmt.Sprintf("user:%02da", i), "new", 0)
		if cursor == 0 {
			break
		}
	}
	for i := range 50 {
		if k := fmt.Sprintf("user:%02d", i); seen[k] != 1 {
			t.Errorf("%s seen %d times", k, seen[k])
		}
	}
	if seen["other"] != 0 {
		t.Error("MATCH let other through")
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "a/b", true}, {"a*", "abc", true}, {"a*c", "abbbc", true},
		{"a*c", "abcd", false}, {"?", "a", true}, {"?", "", false}, {"a?c", "a/c", true},
		{"[abc]", "b", true}, {"[abc]", "d", false}, {"[^abc]", "d", true}, {"[a-c]x", "bx", true},
		{"[c-a]", "b", true}, {`\*`, "*", true}, {`\*`, "a", false}, {"h[\\]]", "h]", true},
		{"*a*b*", "xxaxxbxx", true}, {"*a*b*", "xxbxxaxx", false}, {"[abc", "a", true},
	}
	for _, tc := range cases {
		if got := match([]byte(tc.pattern), []byte(tc.s)); got != tc.want {
			t.Errorf("match(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestPipelineAndConcurrentClients(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr, func(o *redis.Options) { o.PoolSize = 8 })
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipe := c.Pipeline()
			for i := range 200 {
				pipe.Set(ctx, fmt.Sprintf("w%d:%03d", w, i), i, 0)
			}
			get := pipe.Get(ctx, fmt.Sprintf("w%d:%03d", w, 199))
			if _, err := pipe.Exec(ctx); err != nil {
				errs <- err
				return
			}
			if get.Val() != "199" {
				errs <- fmt.Errorf("worker %d read %q", w, get.Val())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := c.DBSize(ctx).Result(); n != 1600 {
		t.Fatalf("DBSIZE = %d, want 1600", n)
	}
}

func TestSetNXIsAtomic(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr, func(o *redis.Options) { o.PoolSize = 16 })
	ctx := testCtx(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.SetNX(ctx, "lock", "x", 0).Result()
			mu.Lock()
			defer mu.Unlock()
			if err == nil && ok {
				wins++
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d clients won SET NX", wins)
	}
}

func TestAuth(t *testing.T) {
	_, addr := startServer(t, Options{Password: "s3cret"})
	ctx := testCtx(t)
	anon := dialClient(t, addr)
	err := anon.Get(ctx, "a").Err()
	wantErr(t, err, "NOAUTH")
	err = anon.Do(ctx, "AUTH", "wrong").Err()
	wantErr(t, err, "WRONGPASS")

	good := dialClient(t, addr, func(o *redis.Options) { o.Password = "s3cret" })
	if err := good.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatalf("authenticated SET: %v", err)
	}
	bad := dialClient(t, addr, func(o *redis.Options) { o.Password = "nope"; o.MaxRetries = -1 })
	wantErr(t, bad.Ping(ctx).Err(), "WRONGPASS")

	// HELLO 2 AUTH authenticates too; PING before it is refused.
	conn := rawConn(t, addr)
	send(t, conn, "*1\r\n$4\r\nPING\r\n")
	expectLine(t, conn, "-NOAUTH")
	send(t, conn, "*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\ns3cret\r\n")
	expectLine(t, conn, "*14")
}

// rawConn dials the server with a deadline, for speaking the protocol by
// hand.
func rawConn(tb testing.TB, addr string) *bufio.ReadWriter {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	tb.Cleanup(func() { nc.Close() })
	return bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
}

func send(tb testing.TB, rw *bufio.ReadWriter, s string) {
	tb.Helper()
	if _, err := rw.WriteString(s); err != nil {
		tb.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		tb.Fatal(err)
	}
}

func expectLine(tb testing.TB, rw *bufio.ReadWriter, prefix string) string {
	tb.Helper()
	line, err := rw.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, prefix) {
		tb.Fatalf("read %q, %v; want a line starting %q", line, err, prefix)
	}
	return line
}

func expectClosed(tb testing.TB, rw *bufio.ReadWriter) {
	tb.Helper()
	if line, err := rw.ReadString('\n'); err == nil {
		tb.Fatalf("connection still open, read %q", line)
	}
}

func TestLimits(t *testing.T) {
	_, addr := startServer(t, Options{MaxArgs: 100})
	cases := []struct{ name, req, reply string }{
		{"4 GB bulk header", "*2\r\n$3\r\nGET\r\n$4294967296\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk just over the limit", fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n", DefaultMaxBulkLen+1), "-ERR Protocol error: invalid bulk length"},
		{"too many arguments", "*101\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"negative bulk", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length"},
		{"garbage count", "*x\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"missing dollar", "*1\r\n:4\r\n", "-ERR Protocol error: expected '$'"},
		{"endless header", "*1\r\n$" + strings.Repeat("9", 40), "-ERR Protocol error: invalid bulk length"},
		{"endless inline", strings.Repeat("a", DefaultMaxInlineLen+1), "-ERR Protocol error: too big inline request"},
		{"unbalanced quotes", "GET \"a\r\n", "-ERR Protocol error: unbalanced quotes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rw := rawConn(t, addr)
			send(t, rw, tc.req)
			expectLine(t, rw, tc.reply)
			expectClosed(t, rw)
		})
	}
	// Other connections are unaffected, and inline commands work.
	rw := rawConn(t, addr)
	send(t, rw, "PING\r\n")
	expectLine(t, rw, "+PONG")
}

func TestMaxConnsAndIdleTimeout(t *testing.T) {
	_, addr := startServer(t, Options{MaxConns: 2, IdleTimeout: 200 * time.Millisecond})
	a, b := rawConn(t, addr), rawConn(t, addr)
	send(t, a, "PING\r\n")
	expectLine(t, a, "+PONG")
	send(t, b, "PING\r\n")
	expectLine(t, b, "+PONG")
	third := rawConn(t, addr)
	expectLine(t, third, "-ERR max number of clients reached")
	expectClosed(t, third)
	// An idle connection is closed after the timeout (the read deadline
	// of rawConn bounds the wait).
	expectClosed(t, a)
}

func TestAbruptDisconnects(t *testing.T) {
	s, addr := startServer(t, Options{})
	for i := range 20 {
		nc, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		// Half a request, a whole one, or a whole pipeline, then gone.
		reqs := []string{"*3\r\n$3\r\nSET\r\n$1\r\nk", "*1\r\n$4\r\nPING\r\n", strings.Repeat("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 100)}
		nc.Write([]byte(reqs[i%3]))
		if tc, ok := nc.(*net.TCPConn); ok && i%2 == 0 {
			tc.SetLinger(0) // reset rather than close
		}
		nc.Close()
	}
	c := dialClient(t, addr)
	ctx := testCtx(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testTimeout)
	for s.Clients() > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections left open", s.Clients())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdownFinishesInFlightCommands(t *testing.T) {
	db, err := kv.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, testOptions(Options{}))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	rw := rawConn(t, ln.Addr().String())
	idle := rawConn(t, ln.Addr().String())
	send(t, idle, "PING\r\n")
	expectLine(t, idle, "+PONG")
	// A long pipeline is in flight when Shutdown starts: the commands the
	// server has read finish and are answered, the rest are not run.
	const n = 300
	var req strings.Builder
	for i := range n {
		fmt.Fprintf(&req, "*3\r\n$3\r\nSET\r\n$4\r\nk%03d\r\n$1\r\nv\r\n", i)
	}
	send(t, rw, req.String())
	expectLine(t, rw, "+OK")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	replies := 1
	for ; replies <= n; replies++ {
		line, err := rw.ReadString('\n')
		if err != nil {
			break
		}
		if line != "+OK\r\n" {
			t.Fatalf("reply %q", line)
		}
	}
	if keys := db.Stats().Keys; keys != replies {
		t.Fatalf("%d replies, %d keys written", replies, keys)
	}
	expectClosed(t, idle)
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

func TestFlushAllowed(t *testing.T) {
	_, addr := startServer(t, Options{AllowFlush: true})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	c.MSet(ctx, "a", "1", "b", "2")
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("DBSIZE after FLUSHDB = %d", n)
	}
}

func TestCompactionEvents(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	for i := range 100 {
		c.Set(ctx, "k", i, 0)
	}
	sub := c.Subscribe(ctx, CompactionChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscribe confirmation
		t.Fatal(err)
	}
	if err := c.Do(ctx, "CRABKV.COMPACT").Err(); err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for !contains(kinds, "finished") {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("after %v: %v", kinds, err)
		}
		var ev compactionEvent
		if err := jsonUnmarshal(msg.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind)
		if ev.Kind == "finished" && ev.NewSize >= ev.OldSize {
			t.Errorf("finished: %+v", ev)
		}
	}
	if kinds[0] != "started" {
		t.Errorf("events %v", kinds)
	}
	stats, _ := c.Do(ctx, "CRABKV.STATS").StringSlice()
	if !contains(stats, "compactions") || stats[indexOf(stats, "compactions")+1] != "1" {
		t.Errorf("stats after compaction: %v", stats)
	}
}

func contains(s []string, x string) bool { return indexOf(s, x) >= 0 }

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

// TestProtocol3Client checks that a client asking for RESP3 first, as
// go-redis does by default, falls back to RESP2 and authenticates.
func TestProtocol3Client(t *testing.T) {
	_, addr := startServer(t, Options{Password: "pw"})
	c := dialClient(t, addr, func(o *redis.Options) { o.Protocol = 3; o.Password = "pw" })
	ctx := testCtx(t)
	if err := c.Set(ctx, "a", "b", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "a").Result(); err != nil || got != "b" {
		t.Fatalf("GET = %q, %v", got, err)
	}
}

// TestSubscribedMode checks that a subscribed connection runs only the
// commands Redis allows there, and leaves the mode when it unsubscribes.
func TestSubscribedMode(t *testing.T) {
	_, addr := startServer(t, Options{})
	rw := rawConn(t, addr)
	send(t, rw, "SUBSCRIBE crabkv:compaction other\r\n")
	for _, want := range []string{"*3", "$9", "subscribe", "$17", "crabkv:compaction", ":1", "*3", "$9", "subscribe", "$5", "other", ":2"} {
		expectLine(t, rw, want)
	}
	send(t, rw, "GET k\r\n")
	expectLine(t, rw, "-ERR Can't execute 'get'")
	send(t, rw, "PING\r\n")
	for _, want := range []string{"*2", "$4", "pong", "$0", ""} {
		expectLine(t, rw, want)
	}
	send(t, rw, "UNSUBSCRIBE\r\n")
	for _, want := range []string{"*3", "$11", "unsubscribe", "$17", "crabkv:compaction", ":1", "*3", "$11", "unsubscribe", "$5", "other", ":0"} {
		expectLine(t, rw, want)
	}
	send(t, rw, "GET k\r\n")
	expectLine(t, rw, "$-1")
}

func TestLargeReplies(t *testing.T) {
	_, addr := startServer(t, Options{MaxReplyBytes: 3 << 20})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	v := bytes.Repeat([]byte("v"), 1<<20)
	if err := c.MSet(ctx, "a", v, "b", v, "c", v, "d", v).Err(); err != nil {
		t.Fatal(err)
	}
	if vals, err := c.MGet(ctx, "a", "b", "c").Result(); err != nil || len(vals) != 3 {
		t.Fatalf("MGET of 3 MiB: %d values, %v", len(vals), err)
	}
	wantErr(t, c.MGet(ctx, "a", "b", "c", "d").Err(), "ERR MGET reply too large")
	// A pipeline of large GETs is answered in full, written out as it goes.
	pipe := c.Pipeline()
	gets := make([]*redis.StringCmd, 20)
	for i := range gets {
		gets[i] = pipe.Get(ctx, "a")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, g := range gets {
		if len(g.Val()) != len(v) {
			t.Fatalf("GET %d: %d bytes", i, len(g.Val()))
		}
	}
}
