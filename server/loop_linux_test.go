package server

import (
	"strconv"
	"testing"
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
