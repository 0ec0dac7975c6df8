package server

import (
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
