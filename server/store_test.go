package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
)

// recordingStore is a *kv.DB as a Store that records how each read was
// asked for, can refuse writes with an Error, and serves a command and an
// INFO section of its own.
type recordingStore struct {
	Store
	mu    sync.Mutex
	reads []Read
	// writeErr, if set, is every write's error. The test sets it while
	// the server's goroutines read it.
	writeErr atomic.Pointer[error]
}

func (s *recordingStore) note(r Read) {
	s.mu.Lock()
	s.reads = append(s.reads, r)
	s.mu.Unlock()
}

func (s *recordingStore) take() []Read {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads
	s.reads = nil
	return r
}

func (s *recordingStore) Get(r Read, key []byte) ([]byte, error) {
	s.note(r)
	return s.Store.Get(r, key)
}

func (s *recordingStore) ReadValueAt(r Read, key, p []byte, off int64) (int, int, error) {
	s.note(r)
	return s.Store.ReadValueAt(r, key, p, off)
}

func (s *recordingStore) ValueSize(r Read, key []byte) (int, error) {
	s.note(r)
	return s.Store.ValueSize(r, key)
}

func (s *recordingStore) Put(key, value []byte) error {
	if err := s.writeErr.Load(); err != nil {
		return *err
	}
	return s.Store.Put(key, value)
}

func (s *recordingStore) Write(ops []Op) error {
	if err := s.writeErr.Load(); err != nil {
		return *err
	}
	return s.Store.Write(ops)
}

func (s *recordingStore) Command(args [][]byte) (any, bool) {
	if !strings.EqualFold(string(args[0]), "test.echo") {
		return nil, false
	}
	if len(args) < 2 {
		return errors.New("wrong number of arguments"), true
	}
	switch string(args[1]) {
	case "int":
		return int64(len(args)), true
	case "list":
		return []string{"a", "b"}, true
	case "nested":
		return []any{int64(1), []any{[]byte("a"), "b"}}, true
	case "moved":
		return redirect("MOVED 0 127.0.0.1:1"), true
	}
	return string(args[1]), true
}

func (s *recordingStore) InfoSection() (string, [][2]string) {
	return "cluster", [][2]string{{"cluster_role", "leader"}}
}

type redirect string

func (r redirect) Error() string     { return string(r) }
func (r redirect) RESPError() string { return string(r) }

func startStoreServer(t *testing.T, opts Options) (*recordingStore, *redis.Client) {
	t.Helper()
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	st := &recordingStore{Store: NewDBStore(db)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewWithStore(st, testOptions(opts))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st, dialClient(t, ln.Addr().String())
}

// A read a write depends on asks the store for the latest state (Fresh);
// after READONLY a connection's plain reads allow a stale copy, and
// READWRITE ends that.
func TestStoreReadModes(t *testing.T) {
	st, c := startStoreServer(t, Options{})
	ctx := testCtx(t)
	must := func(err error) {
		t.Helper()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
	}
	check := func(what string, want Read) {
		t.Helper()
		got := st.take()
		if len(got) == 0 {
			t.Fatalf("%s: no read reached the store", what)
		}
		for _, r := range got {
			if r != want {
				t.Fatalf("%s: read %+v, want %+v", what, r, want)
			}
		}
	}
	must(c.Set(ctx, "k", "v", 0).Err())
	st.take()
	must(c.Get(ctx, "k").Err())
	check("GET", Read{})
	must(c.SetNX(ctx, "k", "w", 0).Err())
	check("SET NX", Read{Fresh: true})
	must(c.Del(ctx, "k").Err())
	check("DEL", Read{Fresh: true})

	// One connection, so READONLY applies to the commands that follow.
	conn := c.Conn()
	defer conn.Close()
	must(conn.Set(ctx, "k", "v", 0).Err())
	if got, err := conn.ReadOnly(ctx).Result(); err != nil || got != "OK" {
		t.Fatalf("READONLY: %q, %v", got, err)
	}
	st.take()
	must(conn.Get(ctx, "k").Err())
	check("GET after READONLY", Read{Stale: true})
	must(conn.StrLen(ctx, "k").Err())
	check("STRLEN after READONLY", Read{Stale: true})
	must(conn.GetDel(ctx, "k").Err())
	check("GETDEL after READONLY", Read{Stale: true, Fresh: true})
	must(conn.ReadWrite(ctx).Err())
	must(conn.Get(ctx, "k").Err())
	check("GET after READWRITE", Read{})
}

// A store's Error is the reply as it is, for a lone write and for a
// pipelined run of writes alike.
func TestStoreErrorReplies(t *testing.T) {
	st, c := startStoreServer(t, Options{})
	ctx := testCtx(t)
	moved := error(redirect("MOVED 0 127.0.0.1:7"))
	st.writeErr.Store(&moved)
	wantErr(t, c.Set(ctx, "k", "v", 0).Err(), "MOVED 0 127.0.0.1:7")
	cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)
		p.Set(ctx, "b", "2", 0)
		p.MSet(ctx, "c", "3", "d", "4")
		return nil
	})
	for _, cmd := range cmds {
		wantErr(t, cmd.Err(), "MOVED 0 127.0.0.1:7")
	}
	full := errors.New("disk\r\nfull")
	st.writeErr.Store(&full)
	wantErr(t, c.Set(ctx, "k", "v", 0).Err(), "ERR disk  full")
	st.writeErr.Store(nil)
	if n, err := c.Exists(ctx, "a", "b", "c", "d", "k").Result(); err != nil || n != 0 {
		t.Fatalf("refused writes: %d keys exist (%v), want 0", n, err)
	}
}

// A store's own commands are served after AUTH, with each kind of reply;
// its INFO section is listed after the server's.
func TestStoreExtensionAndInfo(t *testing.T) {
	_, c := startStoreServer(t, Options{Password: "pw"})
	ctx := testCtx(t)
	raw := dialClient(t, c.Options().Addr)
	// Before AUTH the store is not asked: the command is as unknown as any.
	wantErr(t, raw.Do(ctx, "test.echo", "hi").Err(), "ERR unknown command")
	c = dialClient(t, c.Options().Addr, func(o *redis.Options) { o.Password = "pw" })
	if got, err := c.Do(ctx, "TEST.ECHO", "hi").Result(); err != nil || got != "hi" {
		t.Fatalf("TEST.ECHO hi: %v, %v", got, err)
	}
	if got, err := c.Do(ctx, "test.echo", "int", "x").Result(); err != nil || got != int64(3) {
		t.Fatalf("TEST.ECHO int x: %v, %v", got, err)
	}
	if got, err := c.Do(ctx, "test.echo", "list").StringSlice(); err != nil || strings.Join(got, ",") != "a,b" {
		t.Fatalf("TEST.ECHO list: %v, %v", got, err)
	}
	if got, err := c.Do(ctx, "test.echo", "nested").Result(); err != nil || fmt.Sprint(got) != "[1 [a b]]" {
		t.Fatalf("TEST.ECHO nested: %v, %v", got, err)
	}
	wantErr(t, c.Do(ctx, "test.echo", "moved").Err(), "MOVED 0 127.0.0.1:1")
	wantErr(t, c.Do(ctx, "test.echo").Err(), "ERR wrong number")
	wantErr(t, c.Do(ctx, "test.nothing").Err(), "ERR unknown command")
	info, err := c.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "# Crabkv\r\n") || !strings.Contains(info, "# Cluster\r\ncluster_role:leader\r\n") {
		t.Fatalf("INFO lacks the store's section:\n%s", info)
	}
	if only, err := c.Info(ctx, "cluster").Result(); err != nil || strings.Contains(only, "# Server") || !strings.Contains(only, "cluster_role:leader") {
		t.Fatalf("INFO cluster: %q, %v", only, err)
	}
}
