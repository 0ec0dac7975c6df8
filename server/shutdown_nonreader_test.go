package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestShutdownBesideNonReader shuts the server down while a client that
// does not read its replies has a pipeline of large ones pending: its
// commands are done, and Shutdown must not wait out its whole grace for
// the client to take the replies, in either serving mode.
func TestShutdownBesideNonReader(t *testing.T) {
	for _, mode := range []string{"loop", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			opts := Options{NoSync: true}
			opts.noEventLoop = mode == "goroutine"
			s, addr := serveStoreMode(t, opts)
			c := rawConn(t, addr)
			big := strings.Repeat("b", 4<<20)
			send(t, c, fmt.Sprintf("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n", len(big), big))
			expectLine(t, c, "+OK")
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if err := nc.(*net.TCPConn).SetReadBuffer(4096); err != nil {
				t.Fatal(err)
			}
			if _, err := nc.Write([]byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 20))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the replies fill the socket's buffers
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown returned %v after %v: it waited for a client that does not read its replies",
					err, time.Since(start).Round(time.Millisecond))
			}
		})
	}
}
