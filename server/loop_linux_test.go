package server

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"
)

// TestEventLoopServes checks that on Linux a TCP listener's connections
// are the event loop's (descriptors out of Go's poller), so that the other
// tests, which run in that mode by default, test it; and that
// noEventLoop, as TLS listeners, leaves them to goroutines.
func TestEventLoopServes(t *testing.T) {
	for _, mode := range serveModes {
		t.Run(mode.name, func(t *testing.T) {
			s, addr := startServer(t, mode.opts)
			c := dialClient(t, addr)
			if err := c.Ping(testCtx(t)).Err(); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			looped := 0
			for cl := range s.mu.conns {
				if _, ok := cl.nc.(*fdConn); ok && cl.loop != nil {
					looped++
				}
			}
			want := 1
			if mode.opts.noEventLoop || testOptions(Options{}).noEventLoop {
				want = 0
			}
			if len(s.mu.conns) != 1 || looped != want || (s.mu.loop != nil) != (want == 1) {
				t.Fatalf("%d connections, %d served by the loop (loop %v), want 1 and %d", len(s.mu.conns), looped, s.mu.loop != nil, want)
			}
		})
	}
}

// TestLoopNeverWaitsForAConnection holds one connection's reply lock, as
// a subscription's forwarder does while it writes to a subscriber that
// does not read: the loop must go on serving the other clients, and
// answer that one once its lock is free.
func TestLoopNeverWaitsForAConnection(t *testing.T) {
	s, addr := startServer(t, Options{})
	slow := rawConn(t, addr)
	send(t, slow, "PING\r\n")
	expectLine(t, slow, "+PONG")
	s.mu.Lock()
	var held *client
	for c := range s.mu.conns {
		held = c
	}
	s.mu.Unlock()
	held.wmu.Lock()
	send(t, slow, "PING\r\n")
	c := dialClient(t, addr)
	ctx := testCtx(t)
	for i := range 50 {
		k := "k" + strconv.Itoa(i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			held.wmu.Unlock()
			t.Fatal(err)
		}
		if got, err := c.Get(ctx, k).Result(); err != nil || got != strconv.Itoa(i) {
			held.wmu.Unlock()
			t.Fatalf("GET %s = %q, %v while another connection's lock is held", k, got, err)
		}
	}
	held.wmu.Unlock()
	expectLine(t, slow, "+PONG")
}

// TestFailedLoopHandsOverToGoroutines breaks the event loop's epoll
// descriptor, so that epoll_wait fails: the loop closes its clients and
// ends, and the connections accepted after it are served by goroutines
// of their own instead of being queued for a loop that is gone. The
// server then still shuts down.
func TestFailedLoopHandsOverToGoroutines(t *testing.T) {
	s, addr, _, ctx := serveAndBreakLoop(t)
	// The loop closes its clients as it stops.
	for {
		s.mu.Lock()
		n := len(s.mu.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the failed loop still holds %d clients", n)
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 3 {
		c := dialClient(t, addr, func(o *redis.Options) {
			o.ReadTimeout = 5 * time.Second
			o.WriteTimeout = 5 * time.Second
			o.MaxRetries = -1
		})
		if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
			t.Fatalf("client %d after the loop failed: GET k = %q, %v", i, got, err)
		}
	}
}

// TestEndedLoopWritesToNoDescriptor ends the loop by breaking its epoll
// descriptor, waits until it has closed its eventfd, and opens files
// until one gets the eventfd's old number. Shutdown, which wakes the
// server's loop, must not write to that descriptor: it is a file of
// someone else's now.
func TestEndedLoopWritesToNoDescriptor(t *testing.T) {
	s, _, l, ctx := serveAndBreakLoop(t)
	for {
		if _, err := unix.FcntlInt(uintptr(l.wakefd), unix.F_GETFD, 0); err == unix.EBADF {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the loop did not close its eventfd")
		}
		time.Sleep(time.Millisecond)
	}
	var victim *os.File
	for range 64 {
		f, err := os.CreateTemp(t.TempDir(), "victim")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if int(f.Fd()) == l.wakefd {
			victim = f
			break
		}
	}
	if victim == nil {
		t.Skip("no file got the eventfd's old number")
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(victim.Name()); err != nil || len(b) != 0 {
		t.Fatalf("the file that took the ended loop's eventfd number holds %q (%v), want nothing", b, err)
	}
}

// serveAndBreakLoop starts a server, sets k to v through a client of its
// event loop (returned), and puts an eventfd in the place of the loop's epoll
// descriptor, so that its next epoll_wait fails with EINVAL; then wakes
// it. It skips where connections are served by goroutines.
func serveAndBreakLoop(t *testing.T) (*Server, string, *eventLoop, context.Context) {
	t.Helper()
	if testOptions(Options{}).noEventLoop {
		t.Skip("connections are served by goroutines in this run")
	}
	s, addr := startServer(t, Options{})
	ctx := testCtx(t)
	if err := dialClient(t, addr).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	l := s.mu.loop
	s.mu.Unlock()
	if l == nil {
		t.Fatal("no event loop")
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(efd, l.epfd, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	_ = unix.Close(efd)
	l.wake()
	return s, addr, l, ctx
}
